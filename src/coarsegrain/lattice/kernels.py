"""Numba CPU kernels for the checkerboard Metropolis update.

On CPUs the batched torch update spends most of its time in whole-lattice temporaries (four
rolls, a gathered acceptance table and a full lattice of random numbers per half sweep); a
compiled loop touches each site once and draws a random number only where the move is not
accepted outright (``s·Σ_nn ≤ 0``). Chains run in parallel (numba ``prange``) with the number of
threads torch is allowed to use.

Random numbers: each chain owns a 64-bit SplitMix64 state (Steele, Lea & Flood 2014; passes
BigCrush), seeded from the sampler's torch generator, so runs are reproducible whatever the
thread scheduling.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["checkerboard_sweeps", "seed_states"]

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2^-53


@numba.njit(inline="always")
def _splitmix(state):
    """Advance a SplitMix64 state; return (new state, uniform float in [0, 1))."""
    z = state + _GAMMA
    x = (z ^ (z >> _S30)) * _MIX1
    x = (x ^ (x >> _S27)) * _MIX2
    x = x ^ (x >> _S31)
    return z, (x >> _S11) * _TO_UNIT


@numba.njit(cache=True, parallel=True)
def _checkerboard_kernel(s, table, n_sweeps, states):
    nT, nC, L, _ = s.shape
    for tc in numba.prange(nT * nC):
        t = tc // nC
        c = tc - t * nC
        st = states[tc]
        x = s[t, c]
        for _ in range(n_sweeps):
            for parity in range(2):
                for i in range(L):
                    up = i - 1 if i > 0 else L - 1
                    dn = i + 1 if i + 1 < L else 0
                    for j in range((i + parity) % 2, L, 2):
                        lf = j - 1 if j > 0 else L - 1
                        rt = j + 1 if j + 1 < L else 0
                        v = x[i, j]
                        k = int(v * (x[up, j] + x[dn, j] + x[i, lf] + x[i, rt]))
                        if k <= 0:
                            x[i, j] = -v
                        else:
                            st, u = _splitmix(st)
                            if u < table[t, k + 4]:
                                x[i, j] = -v
        states[tc] = st


def seed_states(n: int, seeds: np.ndarray | None = None, rng: np.random.Generator | None = None
                ) -> np.ndarray:
    """``n`` SplitMix64 states (uint64), from 64-bit ``seeds`` or drawn from ``rng``."""
    if seeds is None:
        if rng is None:
            raise ValueError("seed_states needs seeds or rng")
        seeds = rng.integers(0, 2**63, size=n, dtype=np.int64)
    out = np.asarray(seeds).astype(np.uint64).reshape(n)
    return np.ascontiguousarray(out)


def checkerboard_sweeps(spins: np.ndarray, table: np.ndarray, n_sweeps: int,
                        states: np.ndarray, n_threads: int | None = None) -> None:
    """``n_sweeps`` checkerboard Metropolis sweeps of every chain, in place.

    Parameters
    ----------
    spins : float32 (or any signed) C-contiguous array (n_temperatures, n_chains, L, L) of ±1
        with even L; sublattice (i + j) even is updated first, then odd
    table : float array (n_temperatures, 9): acceptance ``min(1, exp(−2β k))`` for
        ``k = s·Σ_nn + 4`` in 0..8
    states : uint64 (n_temperatures · n_chains,) SplitMix64 states, advanced in place
    n_threads : numba threads (default: numba's current setting)
    """
    if spins.ndim != 4 or spins.shape[-1] != spins.shape[-2] or spins.shape[-1] % 2:
        raise ValueError(f"spins must have shape (n_T, n_chains, L, L) with even L; got {spins.shape}")
    if not spins.flags.c_contiguous:
        raise ValueError("spins must be C-contiguous")
    if table.shape != (spins.shape[0], 9):
        raise ValueError(f"table must have shape ({spins.shape[0]}, 9); got {table.shape}")
    if states.dtype != np.uint64 or states.shape != (spins.shape[0] * spins.shape[1],):
        raise ValueError("states must be uint64 of shape (n_T * n_chains,)")
    if n_threads is not None:
        numba.set_num_threads(max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS)))
    _checkerboard_kernel(spins, np.ascontiguousarray(table), int(n_sweeps), states)
