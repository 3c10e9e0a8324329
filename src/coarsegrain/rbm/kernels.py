"""Numba CPU kernel for the Gibbs sampling step of RBM training.

On a CPU, torch draws uniform random numbers with one serial Mersenne-Twister stream; in a CD-1
update at batch 100 that costs about a tenth of the time of the four matrix products, and it
does not use more than one core. This kernel fuses drawing and thresholding, ``s = [u < p]``, and
draws ``u`` from a counter-based stream: the n-th number is the n-th output of SplitMix64
(Steele, Lea & Flood 2014; passes BigCrush) started at a 64-bit key. Any element can therefore
be computed independently, so rows run in parallel (numba ``prange``) and the results do not
depend on the number of threads. The caller keeps the counter, which makes resuming a run exact.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

# SplitMix64's constants, as the Metropolis kernel uses them (numba freezes them at compile time).
from coarsegrain.lattice.kernels import _GAMMA, _MIX1, _MIX2, _S27, _S30, _S31

__all__ = ["BernoulliStream"]

_S40 = np.uint64(40)
_TO_UNIT = np.float32(1.0 / 16777216.0)  # 2^-24: the float32 grid of torch.rand


@numba.njit(inline="always")
def _bernoulli_row(p, out, i, key, counter, low):
    m = p.shape[1]
    base = key + (counter + np.uint64(i) * np.uint64(m) + np.uint64(1)) * _GAMMA
    for j in range(m):
        z = base + np.uint64(j) * _GAMMA
        z = (z ^ (z >> _S30)) * _MIX1
        z = (z ^ (z >> _S27)) * _MIX2
        z = z ^ (z >> _S31)
        u = np.float32(np.int32(z >> _S40)) * _TO_UNIT
        out[i, j] = 1.0 if u < p[i, j] else low


@numba.njit(cache=True, parallel=True)
def _bernoulli_parallel(p, out, key, counter, low):
    for i in numba.prange(p.shape[0]):
        _bernoulli_row(p, out, i, key, counter, low)


# One thread: a plain loop, so that no worker pool is started whose idle threads would spin
# beside the caller's own (torch's) threads.
@numba.njit(cache=True)
def _bernoulli_serial(p, out, key, counter, low):
    for i in range(p.shape[0]):
        _bernoulli_row(p, out, i, key, counter, low)


class BernoulliStream:
    """Samples unit states from probabilities, ``s = 1 if u < p else low``, on the CPU.

    Parameters
    ----------
    key : 64-bit key of the stream (e.g. derived from the run's seed)
    counter : position in the stream (numbers used so far); save it to resume exactly

    Notes
    -----
    ``u`` is uniform on the float32 grid {0, 2^-24, ..., 1 − 2^-24}, like ``torch.rand``.
    """

    def __init__(self, key: int, counter: int = 0):
        self.key = np.uint64(int(key) % 2**64)
        self.counter = int(counter)

    def sample(self, p: torch.Tensor, out: torch.Tensor, low: float = 0.0,
               n_threads: int | None = None) -> torch.Tensor:
        """Fill ``out`` (n, m) with states drawn from the probabilities ``p`` (n, m); both
        C-contiguous CPU float tensors of one dtype (``out`` may be ``p``). Returns ``out``."""
        if p.device.type != "cpu" or out.device.type != "cpu":
            raise ValueError("BernoulliStream works on CPU tensors only")
        if p.shape != out.shape or p.dim() != 2 or p.dtype != out.dtype:
            raise ValueError(f"p and out must be 2-D tensors of one shape and dtype; got "
                             f"{tuple(p.shape)} {p.dtype} and {tuple(out.shape)} {out.dtype}")
        if not (p.is_contiguous() and out.is_contiguous()):
            raise ValueError("p and out must be C-contiguous")
        threads = torch.get_num_threads() if n_threads is None else int(n_threads)
        threads = max(1, min(threads, numba.config.NUMBA_NUM_THREADS))
        args = (p.numpy(), out.numpy(), self.key, np.uint64(self.counter),
                out.numpy().dtype.type(low))
        if threads == 1:
            _bernoulli_serial(*args)
        else:
            numba.set_num_threads(threads)
            _bernoulli_parallel(*args)
        self.counter += p.numel()
        return out
