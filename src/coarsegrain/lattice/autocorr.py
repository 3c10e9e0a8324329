"""Autocorrelation times, thinning and the sampling discipline shared by all Markov chains.

Conventions
-----------
- Time is measured in *sweeps* (one sweep = on average one update attempt per site for
  Metropolis; a fixed number of clusters flipping on average N spins for cluster algorithms).
- The integrated autocorrelation time includes the 1/2, ``τ_int = 1/2 + Σ_{t≥1} ρ(t)``, so that
  uncorrelated data have τ_int = 1/2 and the variance of a mean of n correlated measurements is
  ``2 τ_int σ² / n``. Measurements ``2 τ_int`` sweeps apart count as independent; thinning keeps
  one configuration every ``ceil(2 τ_int)`` sweeps.
- τ_int is estimated with Sokal's automatic window: the sum runs up to the smallest window M
  with ``M ≥ c τ_int(M)`` (c = 5 by default), and its error is the Madras–Sokal estimate
  ``τ √(2(2M+1)/n)``. With several independent chains the autocovariance is averaged over
  chains (each chain centred on its own mean) before normalising.

:func:`sample_chain` implements the discipline used by every sampler in this package:
thermalise, measure τ_int on a pilot run, extend thermalisation to at least ``20 τ_int``, thin by
``ceil(2 τ_int)``, and multiply each stored configuration by a random global sign.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from tqdm.auto import tqdm

__all__ = [
    "AutocorrTime",
    "MarkovChain",
    "SampleResult",
    "autocorrelation",
    "blocking_error",
    "effective_sample_size",
    "integrated_time",
    "mean_and_error",
    "sample_chain",
    "thin",
    "thin_interval",
]


@dataclass(frozen=True)
class AutocorrTime:
    """Integrated autocorrelation time estimate.

    Attributes
    ----------
    tau : τ_int in units of the series' time step (≥ 1/2 for positively correlated data)
    error : Madras–Sokal statistical error of ``tau``
    window : the self-consistent summation window M
    n : series length (per chain)
    n_chains : number of chains averaged
    reliable : False when no window satisfies ``M ≥ c τ`` or the series (per chain) is shorter
        than ``50 τ``; ``tau`` is then likely an underestimate (a short series' mean absorbs
        the slow modes)
    """

    tau: float
    error: float
    window: int
    n: int
    n_chains: int
    reliable: bool


def _as_chains(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"series must have shape (n_time,) or (n_chains, n_time); got {x.shape}")
    if x.shape[1] < 2:
        raise ValueError(f"series needs at least 2 time steps; got {x.shape[1]}")
    return x


def autocorrelation(x) -> np.ndarray:
    """Normalised autocorrelation function ρ(t), t = 0..n−1, by FFT.

    Parameters
    ----------
    x : array (n_time,) or (n_chains, n_time); each chain is centred on its own mean and the
        autocovariances are averaged over chains before dividing by the lag-0 value.

    Returns
    -------
    float64 array (n_time,) with ρ(0) = 1. A constant series (zero variance) returns ρ = δ_t0.
    """
    x = _as_chains(x)
    n = x.shape[1]
    xc = x - x.mean(axis=1, keepdims=True)
    nfft = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(xc, n=nfft, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=nfft, axis=1)[:, :n].mean(axis=0)
    # Unbiased-normalisation by (n − t) would blow up the noisy tail; the standard biased
    # estimator (divide by n) is what the Sokal window analysis assumes.
    acov /= n
    if acov[0] <= 0:
        out = np.zeros(n)
        out[0] = 1.0
        return out
    return acov / acov[0]


def integrated_time(x, c: float = 5.0, min_length: float = 50.0) -> AutocorrTime:
    """Integrated autocorrelation time with Sokal's automatic windowing.

    Parameters
    ----------
    x : array (n_time,) or (n_chains, n_time) of measurements, one per time step
    c : window constant (M ≥ c τ_int(M)); 4–6 is typical for exponential decay
    min_length : the estimate counts as reliable only if n ≥ min_length · τ

    Returns
    -------
    :class:`AutocorrTime`
    """
    if not c > 0:
        raise ValueError(f"c must be > 0; got {c}")
    x = _as_chains(x)
    n_chains, n = x.shape
    rho = autocorrelation(x)
    taus = 0.5 + np.cumsum(rho[1:])  # taus[M-1] = τ(M)
    M = np.arange(1, n)
    ok = M >= c * taus
    found = bool(ok.any())
    w = int(M[np.argmax(ok)]) if found else int(n - 1)
    tau = float(max(taus[w - 1], 0.5)) if found else float(max(taus.max(), 0.5))
    reliable = found and n >= min_length * tau
    err = tau * math.sqrt(2.0 * (2 * w + 1) / (n * n_chains))
    return AutocorrTime(tau=tau, error=err, window=w, n=n, n_chains=n_chains, reliable=reliable)


def thin_interval(tau: float, factor: float = 2.0) -> int:
    """Sweeps between stored configurations: ``max(1, ceil(factor · τ_int))``."""
    if not (math.isfinite(tau) and tau > 0):
        raise ValueError(f"tau must be finite and > 0; got {tau}")
    if not factor > 0:
        raise ValueError(f"factor must be > 0; got {factor}")
    return max(1, math.ceil(factor * tau - 1e-9))


def thin(x, interval: int, axis: int = 0, offset: int = 0):
    """Every ``interval``-th element of ``x`` along ``axis``, starting at ``offset``."""
    if int(interval) < 1:
        raise ValueError(f"interval must be >= 1; got {interval}")
    x = np.asarray(x)
    sl = [slice(None)] * x.ndim
    sl[axis] = slice(int(offset), None, int(interval))
    return x[tuple(sl)]


def effective_sample_size(n: int, tau: float) -> float:
    """Number of independent measurements in ``n`` correlated ones: ``n / (2 τ_int)``."""
    return n / (2.0 * max(float(tau), 0.5))


def mean_and_error(x, tau: float | None = None) -> tuple[float, float]:
    """Mean of a correlated series and its error ``√(2 τ_int var / n)``.

    ``tau`` defaults to the Sokal estimate of the series itself. ``x`` may be (n,) or
    (n_chains, n).
    """
    xs = _as_chains(x)
    if tau is None:
        tau = integrated_time(xs).tau
    n = xs.size
    return float(xs.mean()), float(math.sqrt(2.0 * max(tau, 0.5) * xs.var(ddof=1) / n))


def blocking_error(x, min_blocks: int = 32) -> tuple[float, float]:
    """Mean and error by Flyvbjerg–Petersen blocking of a 1D series.

    The series is repeatedly halved by averaging neighbouring pairs; the error of the mean at
    each level is ``√(var/(n_b − 1))``. The estimate is the maximum over levels that keep at
    least ``min_blocks`` blocks (the plateau value for a long enough series, conservative
    otherwise).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size < 2:
        raise ValueError(f"blocking needs at least 2 values; got {x.size}")
    mean = float(x.mean())
    best = float(np.sqrt(x.var(ddof=1) / x.size))
    while x.size // 2 >= min_blocks:
        x = 0.5 * (x[: 2 * (x.size // 2) : 2] + x[1 : 2 * (x.size // 2) : 2])
        best = max(best, float(np.sqrt(x.var(ddof=1) / x.size)))
    return mean, best


# ----------------------------------------------------------------------------- discipline


class MarkovChain(Protocol):
    """What :func:`sample_chain` needs from a sampler holding ``n_chains`` independent chains."""

    n_chains: int

    def sweep(self, n: int = 1) -> None:
        """Advance every chain by ``n`` sweeps."""

    def observables(self) -> dict[str, np.ndarray]:
        """Current observables, each an array of shape (n_chains,) (e.g. energy, |m|); they
        must be invariant under a global spin flip (they are stored next to the flipped
        configurations, and τ_int of a signed m would mostly measure the sign flips)."""

    def configurations(self) -> np.ndarray:
        """Copy of the current configurations, shape (n_chains, *lattice_shape), int8 ±1."""


@dataclass
class SampleResult:
    """Thinned, decorrelated configurations plus what it took to get them.

    Attributes
    ----------
    configs : int8 array (n_samples, *lattice_shape) of ±1, ordered by time then chain
        (row ``k`` comes from chain ``k % n_chains``)
    chain : int32 array (n_samples,), the chain of each row (for jackknife errors)
    observables : dict of float64 arrays (n_samples,) measured on each stored configuration
        (before its random global flip)
    info : metadata to store with the samples: sampler, tau_int (sweeps), tau_int_error,
        tau_window, tau_observable, tau_reliable, thin, n_thermalize, n_pilot, n_chains,
        tau_int_stored (τ_int of the stored series, in units of stored samples; ≈ 1/2 when the
        thinning worked), and any sampler-specific entries
    """

    configs: np.ndarray
    chain: np.ndarray
    observables: dict[str, np.ndarray]
    info: dict = field(default_factory=dict)


def _pilot_tau(chain: MarkovChain, n_pilot: int, c: float, progress) -> tuple[dict, int]:
    series: dict[str, list[np.ndarray]] = {}
    for _ in range(n_pilot):
        chain.sweep(1)
        for k, v in chain.observables().items():
            series.setdefault(k, []).append(np.asarray(v, dtype=np.float64))
        progress.update(1)
    taus = {k: integrated_time(np.stack(v, axis=1), c=c) for k, v in series.items()}
    return taus, n_pilot


def sample_chain(chain: MarkovChain, n_samples: int, *, rng: np.random.Generator,
                 n_thermalize: int = 100, thin: int | str = "auto", n_pilot: int = 200,
                 max_pilot: int = 20_000, thin_factor: float = 2.0, therm_factor: float = 20.0,
                 global_flip: bool = True, c: float = 5.0, progress: bool = True,
                 desc: str = "MC") -> SampleResult:
    """Run the sampling discipline on ``chain`` and return ``n_samples`` configurations.

    Steps: (1) ``n_thermalize`` sweeps; (2) a pilot run of ``n_pilot`` sweeps recording the
    chain's observables every sweep, doubled (up to ``max_pilot``) until every observable's τ_int
    passes the window condition; τ_int is the largest over observables; (3) more thermalisation
    until at least ``therm_factor · τ_int`` sweeps were discarded; (4) production: one stored
    configuration per chain every ``thin`` sweeps (``thin="auto"`` → ``ceil(thin_factor ·
    τ_int)``), each multiplied by a random global sign if ``global_flip``.

    Parameters
    ----------
    chain : a :class:`MarkovChain`
    n_samples : configurations to return (split over the chains, rounded up per chain and cut)
    rng : generator for the global flips
    n_thermalize, n_pilot, max_pilot : sweeps (see above); ``n_pilot=0`` skips the τ measurement
        (then ``thin`` must be an int)
    thin : "auto" or a fixed number of sweeps between stored configurations

    Returns
    -------
    :class:`SampleResult`
    """
    if int(n_samples) < 1:
        raise ValueError(f"n_samples must be >= 1; got {n_samples}")
    if int(n_thermalize) < 0:
        raise ValueError(f"n_thermalize must be >= 0; got {n_thermalize}")
    if thin != "auto" and (not isinstance(thin, (int, np.integer)) or thin < 1):
        raise ValueError(f"thin must be 'auto' or an int >= 1; got {thin!r}")
    if thin == "auto" and int(n_pilot) < 20:
        raise ValueError(f"thin='auto' needs n_pilot >= 20 sweeps; got {n_pilot}")
    n_chains = int(chain.n_chains)
    per_chain = -(-int(n_samples) // n_chains)
    info: dict = {"n_chains": n_chains}
    # The total is known only once the pilot run has fixed the thinning: until then it is the
    # thermalisation and pilot budget, afterwards the exact number of sweeps.
    with tqdm(desc=desc, unit="sweep", mininterval=5, smoothing=0.1, disable=not progress,
              total=int(n_thermalize) + int(n_pilot)) as bar:
        chain.sweep(int(n_thermalize))
        bar.update(int(n_thermalize))
        discarded = int(n_thermalize)
        tau = None
        if n_pilot > 0:
            total_pilot = 0
            length = int(n_pilot)
            while True:
                taus, used = _pilot_tau(chain, length, c, bar)
                total_pilot += used
                key = max(taus, key=lambda k: taus[k].tau)
                tau = taus[key]
                # Pilot sweeps are never stored, so they all count as thermalisation.
                discarded += used
                if all(t.reliable for t in taus.values()) or total_pilot + 2 * length > max_pilot:
                    break
                length *= 2
            info.update(tau_int=tau.tau, tau_int_error=tau.error, tau_window=tau.window,
                        tau_observable=key, tau_reliable=tau.reliable, n_pilot=total_pilot,
                        tau_int_all={k: t.tau for k, t in taus.items()})
            extra = max(0, math.ceil(therm_factor * tau.tau) - discarded)
            if extra:
                chain.sweep(extra)
                bar.update(extra)
                discarded += extra
        step = thin_interval(tau.tau, thin_factor) if thin == "auto" else int(thin)
        info.update(thin=step, n_thermalize=discarded)
        bar.total = discarded + per_chain * step
        bar.refresh()
        configs, obs = [], {}
        for _ in range(per_chain):
            chain.sweep(step)
            bar.update(step)
            configs.append(chain.configurations())
            for k, v in chain.observables().items():
                obs.setdefault(k, []).append(np.asarray(v, dtype=np.float64))
    configs = np.concatenate(configs, axis=0)[:n_samples]
    chain_idx = np.tile(np.arange(n_chains, dtype=np.int32), per_chain)[:n_samples]
    observables = {k: np.stack(v, axis=0).reshape(-1)[:n_samples] for k, v in obs.items()}
    if per_chain >= 20:
        stored = {k: integrated_time(np.stack(v, axis=1), c=c).tau for k, v in obs.items()}
        info["tau_int_stored"] = max(stored.values())
    if global_flip:
        signs = rng.integers(0, 2, size=configs.shape[0], dtype=np.int8) * 2 - 1
        configs *= signs.reshape((-1,) + (1,) * (configs.ndim - 1))
    return SampleResult(configs=configs, chain=chain_idx, observables=observables, info=info)
