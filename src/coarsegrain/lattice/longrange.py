"""1D long-range Ising chain ``H = −Σ_{i<j} J(r_ij) s_i s_j``, ``J(r) = 1/r^(1+σ)``, periodic.

Periodic boundaries
-------------------
``images="ewald"`` (default) sums the coupling over all periodic images,
``J_N(k) = Σ_{n∈ℤ} |k + nN|^−(1+σ) = N^−(1+σ) [ζ(1+σ, k/N) + ζ(1+σ, 1 − k/N)]`` (Hurwitz ζ), so the
finite ring is a periodic copy of the infinite chain; every site's total coupling to the other
sites is ``Σ_k J_N(k) = 2ζ(1+σ)(1 − N^−(1+σ))`` (all images except the site's own), which tends
to ``2ζ(1+σ)``, the mean-field critical temperature and an upper bound on T_c.
``images="minimum"`` uses ``J(min(k, N − k))`` instead (weaker finite-size couplings).

Samplers
--------
- :class:`LongRangeCluster`: the Luijten–Blöte single-cluster (Wolff) algorithm. Bonds from a
  cluster site i to i+k are activated with probability ``p_k = 1 − exp(−2βJ(k))``; instead of
  testing all N − 1 partners, the activations are drawn as a Poisson process (the device of
  Fukui & Todo 2009): ``n ~ Poisson(λ)``, ``λ = 2β Σ_k J(k)``, offsets drawn from ``J(k)/Σ J``
  with Walker's alias table in O(1). Offset k then receives at least one hit with probability
  exactly ``p_k``. The cost is O(λ) per cluster site, i.e. O(N) per sweep (a sweep is a fixed
  number of clusters flipping N spins on average, as in :mod:`coarsegrain.lattice.cluster`).
- :class:`LongRangeMetropolis`: single-spin Metropolis with maintained local fields — O(N) per
  accepted flip, O(N²) per sweep. A reference for tests only.

Observables per configuration: energy per site ``e = −(1/2N) Σ_i Σ_{k≠0} J(k) s_i s_{i+k}``
(computed by FFT), magnetisation per site. T_c per σ comes from Binder-cumulant crossings over
several N (:func:`scan_longrange` + :func:`coarsegrain.analysis.critical.binder_crossings`).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd
from scipy.special import zeta

from coarsegrain.lattice.autocorr import SampleResult, sample_chain
from coarsegrain.lattice.cluster import ClusterSweeps, check_int, check_temperature
from coarsegrain.lattice.observables import OBSERVABLES, jackknife
from coarsegrain.runtime import make_rng

__all__ = [
    "IMAGES",
    "LongRangeCluster",
    "LongRangeMetropolis",
    "check_sigma",
    "couplings",
    "energy_per_site",
    "locate_tc",
    "mean_field_tc",
    "observables_table",
    "sample_longrange",
    "scan_longrange",
]

IMAGES = ("ewald", "minimum")
SAMPLERS = ("cluster", "metropolis")


# ----------------------------------------------------------------------------- checks


def check_sigma(sigma) -> float:
    """σ as a float, or ValueError unless 0 < σ ≤ 2."""
    try:
        s = float(sigma)
    except (TypeError, ValueError):
        raise ValueError(f"sigma must be a number in (0, 2]; got {sigma!r}") from None
    if not (math.isfinite(s) and 0.0 < s <= 2.0):
        raise ValueError(f"sigma must be in (0, 2] (J(r) = 1/r^(1+sigma)); got {sigma!r}")
    return s


def _check_N(N, minimum: int = 4) -> int:
    return check_int(N, "N (chain length)", minimum)


def _check_images(images: str) -> str:
    if images not in IMAGES:
        raise ValueError(f"images must be one of {IMAGES}; got {images!r}")
    return images


# ----------------------------------------------------------------------------- couplings


def couplings(N: int, sigma: float, images: str = "ewald") -> np.ndarray:
    """Effective couplings ``J(k)`` between sites i and i+k (mod N), k = 0..N−1.

    Returns
    -------
    float64 array (N,), ``J[0] = 0`` and ``J[k] = J[N − k]`` (see the module docstring).
    """
    N = _check_N(N, 2)
    s = 1.0 + check_sigma(sigma)
    _check_images(images)
    k = np.arange(1, N, dtype=np.float64)
    J = np.zeros(N)
    if images == "ewald":
        J[1:] = (zeta(s, k / N) + zeta(s, 1.0 - k / N)) / N**s
    else:
        J[1:] = np.minimum(k, N - k) ** -s
    return J


def mean_field_tc(sigma: float, N: int | None = None, images: str = "ewald") -> float:
    """Mean-field critical temperature ``Σ_k J(k)``, an upper bound on T_c.

    ``N=None``: the infinite chain, ``2ζ(1+σ)``. Finite N: the sum of :func:`couplings`
    (``2ζ(1+σ)(1 − N^−(1+σ))`` with Ewald-summed images).
    """
    s = check_sigma(sigma)
    _check_images(images)
    if N is None:
        return float(2.0 * zeta(1.0 + s))
    return float(couplings(N, s, images).sum())


def energy_per_site(spins, J: np.ndarray) -> np.ndarray:
    """Energy per site ``−(1/2N) Σ_i Σ_k J(k) s_i s_{i+k}`` of each chain.

    Parameters
    ----------
    spins : array (..., N) of ±1
    J : couplings from :func:`couplings`, shape (N,)

    Returns
    -------
    float64 array (...,)
    """
    s = np.asarray(spins, dtype=np.float64)
    N = s.shape[-1]
    if J.shape != (N,):
        raise ValueError(f"J must have shape ({N},) to match the chain length; got {J.shape}")
    f = np.fft.rfft(s, axis=-1)
    corr = np.fft.irfft(f * np.conj(f), n=N, axis=-1) / N  # (1/N) Σ_i s_i s_{i+k}
    return -0.5 * corr @ J


# ----------------------------------------------------------------------------- kernels


def _alias_table(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias table for sampling index i with probability ∝ weights[i]."""
    n = weights.size
    p = weights * (n / weights.sum())
    prob = np.ones(n)
    alias = np.arange(n, dtype=np.int64)
    small = [i for i in range(n) if p[i] < 1.0]
    large = [i for i in range(n) if p[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s] = p[s]
        alias[s] = g
        p[g] -= 1.0 - p[s]
        (small if p[g] < 1.0 else large).append(g)
    return prob, alias


@numba.njit(cache=True)
def _lr_cluster_kernel(spins, lam, prob, alias, n_clusters, rng, stack, sizes_out):
    """Flip ``n_clusters`` Luijten–Blöte clusters in each chain (spins int8 (n_chains, N)).

    lam : Poisson rate of bond activations per cluster site, 2β Σ_k J(k)
    prob, alias : alias table over offsets k = 1..N−1 (index k − 1), weights ∝ J(k)
    """
    # The seed-and-stack skeleton repeats cluster._wolff_kernel on purpose: numba's cache=True
    # does not notice edits to njit helpers imported from another file, so a shared helper
    # could silently run stale compiled code.
    n_chains, N = spins.shape
    m = N - 1
    for c in range(n_chains):
        s = spins[c]
        for t in range(n_clusters):
            i0 = rng.integers(0, N)
            s0 = s[i0]
            s[i0] = -s0
            stack[0] = i0
            top = 1
            size = 1
            while top > 0:
                top -= 1
                i = stack[top]
                hits = rng.poisson(lam)
                for _ in range(hits):
                    u = rng.random() * m
                    col = int(u)
                    if col >= m:
                        col = m - 1
                    k = col + 1 if u - col < prob[col] else alias[col] + 1
                    j = i + k
                    if j >= N:
                        j -= N
                    # Sites already in the cluster were flipped and no longer equal s0.
                    if s[j] == s0:
                        s[j] = -s0
                        stack[top] = j
                        top += 1
                        size += 1
            sizes_out[c, t] = size
    return sizes_out


@numba.njit(cache=True)
def _lr_metropolis_kernel(spins, fields, J, beta, n_sweeps, rng):
    """Sequential-site Metropolis sweeps with local fields h_i = Σ_k J(k) s_{i+k}, kept exact
    by an O(N) update after each accepted flip. Returns the number of accepted flips."""
    n_chains, N = spins.shape
    accepted = 0
    for c in range(n_chains):
        s = spins[c]
        h = fields[c]
        for _ in range(n_sweeps):
            for i in range(N):
                dE = 2.0 * s[i] * h[i]
                if dE <= 0.0 or rng.random() < math.exp(-beta * dE):
                    d = -2.0 * s[i]
                    s[i] = -s[i]
                    for k in range(1, N):
                        j = i + k
                        if j >= N:
                            j -= N
                        h[j] += d * J[k]
                    accepted += 1
    return accepted


# ----------------------------------------------------------------------------- chains


class _LongRangeBase:
    def __init__(self, N, sigma, temperature, n_chains, rng, seed, images, start, name):
        self.N = _check_N(N)
        self.sigma = check_sigma(sigma)
        self.temperature = check_temperature(temperature)
        self.n_chains = check_int(n_chains, "n_chains", 1)
        self.images = _check_images(images)
        self.J = couplings(self.N, self.sigma, self.images)
        self.rng = rng if rng is not None else make_rng(seed, name, self.N, self.sigma,
                                                         self.temperature)
        if start not in ("random", "cold", "auto"):
            raise ValueError(f"start must be 'auto', 'random' or 'cold'; got {start!r}")
        cold = start == "cold" or (start == "auto" and self.temperature < 0.5 * self.J.sum())
        shape = (self.n_chains, self.N)
        self.spins = (np.ones(shape, dtype=np.int8) if cold
                      else (self.rng.integers(0, 2, size=shape, dtype=np.int8) * 2 - 1)
                      .astype(np.int8))

    def _obs(self) -> dict[str, np.ndarray]:
        return {"energy": energy_per_site(self.spins, self.J),
                "abs_magnetization": np.abs(self.spins.mean(axis=1, dtype=np.float64))}

    def configurations(self) -> np.ndarray:
        return self.spins.copy()


class LongRangeCluster(ClusterSweeps, _LongRangeBase):
    """``n_chains`` Luijten–Blöte cluster chains of the long-range ring at one temperature.

    Implements :class:`coarsegrain.lattice.autocorr.MarkovChain`.

    Parameters
    ----------
    N : chain length (≥ 4)
    sigma : decay exponent, 0 < σ ≤ 2
    temperature : T > 0
    n_chains : independent chains
    rng / seed : generator (default ``make_rng(seed, "lr-cluster", N, σ, T)``)
    images : "ewald" or "minimum" (module docstring)
    start : "auto" (all-up when T < T_MF/2, random otherwise), "random" or "cold"
    clusters_per_sweep : None calibrates ``round(N/⟨|C|⟩)`` (:meth:`ClusterSweeps.calibrate`:
        a warm-up of ≥ 20 N flipped spins per chain, then ⟨|C|⟩ over ≥ ``warmup`` clusters)
    """

    sampler = "cluster"

    def __init__(self, N, sigma, temperature, n_chains: int = 1, *, rng=None, seed: int = 0,
                 images: str = "ewald", start: str = "auto",
                 clusters_per_sweep: int | None = None, warmup: int = 200):
        super().__init__(N, sigma, temperature, n_chains, rng, seed, images, start, "lr-cluster")
        w = self.J[1:]
        self.lam = 2.0 * w.sum() / self.temperature
        self._prob, self._alias = _alias_table(w)
        self._stack = np.empty(self.N, dtype=np.int64)
        self._init_sweeps(clusters_per_sweep, warmup)

    def flip(self, n_clusters: int) -> np.ndarray:
        """Flip ``n_clusters`` clusters per chain; returns their sizes (n_chains, n_clusters)."""
        sizes = np.zeros((self.n_chains, int(n_clusters)), dtype=np.int64)
        return _lr_cluster_kernel(self.spins, self.lam, self._prob, self._alias, int(n_clusters),
                                  self.rng, self._stack, sizes)

    def observables(self) -> dict[str, np.ndarray]:
        """energy, abs_magnetization, cluster_fraction (mean |C|/N of the last sweep)."""
        out = self._obs()
        out["cluster_fraction"] = self._cluster_fraction()
        return out


class LongRangeMetropolis(_LongRangeBase):
    """Single-spin Metropolis reference for the long-range ring (O(N²) per sweep; tests only).

    Same parameters as :class:`LongRangeCluster` (without the cluster ones).
    """

    sampler = "metropolis"

    def __init__(self, N, sigma, temperature, n_chains: int = 1, *, rng=None, seed: int = 0,
                 images: str = "ewald", start: str = "auto"):
        super().__init__(N, sigma, temperature, n_chains, rng, seed, images, start,
                         "lr-metropolis")
        self._recompute_fields()

    def _recompute_fields(self) -> None:
        # h_i = Σ_k J(k) s_{i+k} = Σ_k J(k) s_{i−k} (J is symmetric): a circular convolution.
        f = np.fft.rfft(self.J) * np.fft.rfft(self.spins.astype(np.float64), axis=1)
        self.fields = np.ascontiguousarray(np.fft.irfft(f, n=self.N, axis=1))

    def sweep(self, n: int = 1) -> None:
        if int(n) > 0:
            _lr_metropolis_kernel(self.spins, self.fields, self.J, 1.0 / self.temperature,
                                  int(n), self.rng)
            # Resynchronise the fields to stop round-off accumulating over long runs.
            self._recompute_fields()

    def observables(self) -> dict[str, np.ndarray]:
        return self._obs()


# ----------------------------------------------------------------------------- drivers


_DEFAULTS = {
    "cluster": {"n_chains": 4, "n_thermalize": 50, "n_pilot": 200, "max_pilot": 6_400},
    "metropolis": {"n_chains": 8, "n_thermalize": 500, "n_pilot": 500, "max_pilot": 32_000},
}


def sample_longrange(N, sigma, temperature, n_samples: int, *, sampler: str = "cluster",
                     seed: int = 0, n_chains: int | None = None, images: str = "ewald",
                     n_thermalize: int | None = None, thin: int | str = "auto",
                     n_pilot: int | None = None, max_pilot: int | None = None,
                     global_flip: bool = True, progress: bool = True) -> SampleResult:
    """Decorrelated long-range chain configurations at one (σ, T), with the full discipline
    (:func:`coarsegrain.lattice.autocorr.sample_chain`).

    Parameters
    ----------
    N : chain length (≥ 4); sigma : 0 < σ ≤ 2; temperature : T > 0
    n_samples : configurations to return
    sampler : "cluster" (Luijten–Blöte) or "metropolis" (O(N²) reference)
    seed : config seed; streams keyed on (sampler, N, σ, T)
    images : "ewald" or "minimum"

    Returns
    -------
    :class:`~coarsegrain.lattice.autocorr.SampleResult`; ``configs`` int8 (n_samples, N),
    ``info`` with model, N, sigma, images, temperature, sampler, seed, tau_int, thin, ...
    """
    N = _check_N(N)
    sigma = check_sigma(sigma)
    T = check_temperature(temperature)
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}; got {sampler!r}")
    check_int(n_samples, "n_samples", 1)
    d = dict(_DEFAULTS[sampler])
    for k, v in (("n_chains", n_chains), ("n_thermalize", n_thermalize), ("n_pilot", n_pilot),
                 ("max_pilot", max_pilot)):
        if v is not None:
            d[k] = v
    rng = make_rng(seed, "longrange", sampler, N, sigma, T)
    cls = LongRangeCluster if sampler == "cluster" else LongRangeMetropolis
    chain = cls(N, sigma, T, d["n_chains"], rng=rng, images=images)
    flip_rng = make_rng(seed, "global-flip", sampler, N, sigma, T)
    res = sample_chain(chain, int(n_samples), rng=flip_rng, n_thermalize=d["n_thermalize"],
                       thin=thin, n_pilot=d["n_pilot"],
                       max_pilot=d["max_pilot"], global_flip=global_flip, progress=progress,
                       desc=f"longrange {sampler} N={N} σ={sigma:g} T={T:.4g}")
    res.info.update(model="longrange", N=N, sigma=sigma, images=images, temperature=T,
                    sampler=sampler, seed=int(seed))
    if sampler == "cluster":
        res.info["clusters_per_sweep"] = chain.clusters_per_sweep
    return res


def observables_table(spins, temperature, sigma, images: str = "ewald", chain=None,
                      n_blocks: int = 20) -> pd.DataFrame:
    """Tidy E, |m|, C, χ, U4 table for long-range chain configurations at one temperature.

    Same layout as :func:`coarsegrain.lattice.observables.observables_table` (column ``L`` holds
    the chain length N) so that :func:`coarsegrain.analysis.critical.binder_crossings` applies;
    a ``sigma`` column is added. Errors: jackknife over chains (or ``n_blocks`` blocks).
    """
    spins = np.asarray(spins)
    if spins.ndim != 2:
        raise ValueError(f"spins must have shape (n, N); got {spins.shape}")
    n, N = spins.shape
    T = check_temperature(temperature)
    J = couplings(N, sigma, images)
    if chain is None:
        chain = np.arange(n) * n_blocks // n
    e = energy_per_site(spins, J)
    m = spins.mean(axis=1, dtype=np.float64)
    est, err = jackknife(np.asarray(chain), e, m, T, N)
    return pd.DataFrame({"L": N, "sigma": float(sigma), "temperature": T,
                         "observable": list(OBSERVABLES), "value": est, "error": err, "n": n})


def scan_longrange(sigma, sizes, temperatures, n_samples: int, *, seed: int = 0,
                   images: str = "ewald", n_chains: int | None = None, progress: bool = False,
                   **kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sample every (N, T) with the cluster algorithm and tabulate observables.

    Returns
    -------
    table : tidy observables (see :func:`observables_table`) for all sizes and temperatures,
        with the sampling metadata of each (N, T) as extra columns ``tau_int``, ``thin``,
        ``n_thermalize``, ``sampler``
    runs : one row per (N, T) with the sampling metadata (tau_int, thin, ...)
    """
    sigma = check_sigma(sigma)
    sizes = [_check_N(N) for N in sizes]
    temps = [check_temperature(T, "temperatures") for T in temperatures]
    if len(sizes) == 0 or len(temps) == 0:
        raise ValueError("sizes and temperatures must be non-empty")
    tables, runs = [], []
    for N in sizes:
        for T in temps:
            res = sample_longrange(N, sigma, T, n_samples, seed=seed, images=images,
                                   n_chains=n_chains, progress=progress, **kwargs)
            # Thinned samples are ~independent: 20 contiguous blocks give a better jackknife
            # than the few chains.
            tab = observables_table(res.configs, T, sigma, images)
            for key in ("tau_int", "thin", "n_thermalize", "sampler"):
                tab[key] = res.info.get(key)
            tables.append(tab)
            runs.append({k: v for k, v in res.info.items() if not isinstance(v, dict)})
    return pd.concat(tables, ignore_index=True), pd.DataFrame(runs)


def locate_tc(sigma, sizes, n_samples: int, *, seed: int = 0, images: str = "ewald",
              coarse_points: int = 13, coarse_range: tuple[float, float] = (0.35, 1.0),
              coarse_samples: int | None = None, fine_points: int = 9,
              fine_halfwidth: float = 0.05, n_boot: int = 200, n_largest: int = 2,
              progress: bool = False) -> dict:
    """T_c of the long-range chain from Binder-cumulant crossings, located without a prior guess.

    1. Coarse scan of the smallest and largest N on ``coarse_points`` temperatures spanning
       ``coarse_range`` × the mean-field bound ``2ζ(1+σ)``; the crossing of their U4 curves,
       searched only where the small system's U4 lies in [0.15, 0.65] and below the first
       temperature where the large one's falls under 0.15 (above it both fluctuate around 0 and
       cross at random), gives T0.
    2. Fine scan of all sizes on ``fine_points`` temperatures in T0 (1 ± ``fine_halfwidth``);
       pairwise crossings (:func:`coarsegrain.analysis.critical.binder_crossings`) and the
       estimate from the ``n_largest`` largest pairs (:func:`~coarsegrain.analysis.critical.
       estimate_tc`).

    Returns
    -------
    dict with ``t_c``, ``error``, ``t0`` (coarse estimate), ``crossings`` (DataFrame L1, L2,
    t_cross, error, ...), ``table`` (fine-scan observables of all sizes), ``coarse_table``,
    ``runs`` (sampling metadata of every (N, T), including tau_int), ``mean_field_tc``.
    """
    from coarsegrain.analysis.critical import binder_crossings, estimate_tc

    sigma = check_sigma(sigma)
    sizes = sorted({_check_N(N) for N in sizes})
    if len(sizes) < 2:
        raise ValueError(f"sizes must hold at least two chain lengths; got {sizes}")
    check_int(coarse_points, "coarse_points", 3)
    check_int(fine_points, "fine_points", 3)
    lo, hi = coarse_range
    if not 0 < lo < hi:
        raise ValueError(f"coarse_range must satisfy 0 < lo < hi; got {coarse_range}")
    if not 0 < fine_halfwidth < 1:
        raise ValueError(f"fine_halfwidth must be in (0, 1); got {fine_halfwidth}")
    t_mf = mean_field_tc(sigma)
    coarse_t = np.round(t_mf * np.linspace(lo, hi, coarse_points), 6)
    coarse, runs_c = scan_longrange(sigma, [sizes[0], sizes[-1]], coarse_t,
                                    coarse_samples or max(200, n_samples // 4), seed=seed,
                                    images=images, progress=progress)
    u4 = coarse[coarse["observable"] == "binder"].pivot_table(index="temperature", columns="L",
                                                                values="value")
    # Near the crossing both cumulants are near U4* (≈ 0.2–0.6); above T_c the large system's
    # falls to ~0 and fluctuates, where noise alone can make the curves cross.
    # Search only below the first temperature at which the large system has disordered.
    low = u4[sizes[-1]] < 0.15
    cut = u4.index[low.to_numpy()].min() if low.any() else np.inf
    sel = u4[sizes[0]].between(0.15, 0.65) & (u4.index < cut)
    ok = pd.Series(u4.index[sel.to_numpy()], dtype=float)
    window = (float(ok.min()) - 1e-9, float(ok.max()) + 1e-9) if len(ok) else None
    step = float(coarse_t[1] - coarse_t[0])
    if window is not None:  # widen by one grid step so a crossing at the edge is kept
        window = (window[0] - step, window[1] + step)
    c0 = binder_crossings(coarse, t_window=window, n_boot=20, seed=seed) if window else None
    if c0 is not None and len(c0) and np.isfinite(c0["t_cross"].iloc[0]):
        t0 = float(c0["t_cross"].iloc[0])
    else:  # no crossing on the coarse grid: centre the fine scan on the ordered/disordered edge
        t0 = float(np.median(ok)) if len(ok) else 0.7 * t_mf
    fine_t = np.round(t0 * (1 + np.linspace(-fine_halfwidth, fine_halfwidth, fine_points)), 6)
    table, runs = scan_longrange(sigma, sizes, fine_t, n_samples, seed=seed, images=images,
                                 progress=progress)
    crossings = binder_crossings(table, n_boot=n_boot, seed=seed)
    tc, err = estimate_tc(crossings, n_largest=n_largest)
    return {"t_c": tc, "error": err, "t0": t0, "crossings": crossings, "table": table,
            "coarse_table": coarse, "runs": pd.concat([runs_c, runs], ignore_index=True),
            "mean_field_tc": t_mf}
