"""Wolff single-cluster updates for the 2D Ising model, and the per-temperature sampler choice.

The Wolff move (Wolff 1989) grows one Fortuin–Kasteleyn cluster from a random seed site, adding
each aligned neighbour with probability ``p = 1 − exp(−2β)`` (J = 1), and flips it. Near T_c its
dynamic exponent is z ≈ 0.25 instead of Metropolis' ≈ 2.17, which is what makes critical
sampling at L ≥ 32 affordable.

Time unit: one Wolff *sweep* is a fixed number of clusters, ``clusters_per_sweep =
max(1, round(N / ⟨|C|⟩))``, so that a sweep flips N spins on average. ``⟨|C|⟩`` is measured once
after a warm-up and then kept fixed: a data-dependent number of clusters per sweep (e.g. "until N
spins flipped") would be a stopping rule correlated with the state and could bias the stationary
distribution. The warm-up is counted in flipped spins, not clusters: from a random start near T_c
the first clusters hold ~10 sites, so a warm-up of a few hundred clusters leaves the lattice
disordered and would make ``clusters_per_sweep`` ~100× too large at L = 128.

Kernels are compiled with numba and draw their random numbers from a
:class:`numpy.random.Generator` passed in, so results are reproducible from
``coarsegrain.runtime.make_rng(seed, ...)`` and independent of numba's global state.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd
import torch

from coarsegrain.lattice.autocorr import SampleResult, sample_chain
from coarsegrain.lattice.ising2d import T_CRITICAL, CheckerboardMetropolis, energy_per_site
from coarsegrain.lattice.observables import observables_table
from coarsegrain.runtime import make_rng

__all__ = [
    "SAMPLERS",
    "MetropolisIsing2D",
    "WolffIsing2D",
    "choose_sampler",
    "sample_ising2d",
    "scan_ising2d",
    "wolff_flip",
]

SAMPLERS = ("auto", "wolff", "metropolis")


@numba.njit(cache=True)
def _wolff_kernel(spins, p_add, n_clusters, rng, stack, sizes_out):
    """Flip ``n_clusters`` Wolff clusters in each chain.

    spins : int8 (n_chains, L, L), modified in place
    p_add : float64 (n_chains,), bond probability 1 − exp(−2β) per chain
    stack : int64 (L*L,) scratch
    sizes_out : int64 (n_chains, n_clusters), filled with the cluster sizes
    """
    n_chains, L, _ = spins.shape
    N = L * L
    for c in range(n_chains):
        s = spins[c].reshape(N)
        p = p_add[c]
        for k in range(n_clusters):
            i0 = rng.integers(0, N)
            s0 = s[i0]
            s[i0] = -s0
            stack[0] = i0
            top = 1
            size = 1
            while top > 0:
                top -= 1
                i = stack[top]
                y = i // L
                x = i - y * L
                # Four neighbours on the torus; flipping on insertion marks the site as visited
                # (it no longer equals s0), so every site enters the stack at most once.
                j = y * L + (x + 1 if x + 1 < L else 0)
                if s[j] == s0 and rng.random() < p:
                    s[j] = -s0
                    stack[top] = j
                    top += 1
                    size += 1
                j = y * L + (x - 1 if x > 0 else L - 1)
                if s[j] == s0 and rng.random() < p:
                    s[j] = -s0
                    stack[top] = j
                    top += 1
                    size += 1
                j = (y + 1 if y + 1 < L else 0) * L + x
                if s[j] == s0 and rng.random() < p:
                    s[j] = -s0
                    stack[top] = j
                    top += 1
                    size += 1
                j = (y - 1 if y > 0 else L - 1) * L + x
                if s[j] == s0 and rng.random() < p:
                    s[j] = -s0
                    stack[top] = j
                    top += 1
                    size += 1
            sizes_out[c, k] = size
    return sizes_out


# ----------------------------------------------------------------------------- checks


def check_temperature(T, name: str = "temperature") -> float:
    """``T`` as a float, or ValueError naming ``name`` unless it is finite and > 0."""
    try:
        t = float(T)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number > 0; got {T!r}") from None
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"{name} must be finite and > 0 (units of J); got {T!r}")
    return t


def check_int(value, name: str, minimum: int) -> int:
    """``value`` as an int, or ValueError naming ``name`` unless it is an integer ≥ minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _check_L(L) -> int:
    return check_int(L, "L", 2)


def _check_chains(n_chains) -> int:
    return check_int(n_chains, "n_chains", 1)


# ----------------------------------------------------------------------------- Wolff


def wolff_flip(spins: np.ndarray, temperature, n_clusters: int = 1, *,
               rng: np.random.Generator) -> np.ndarray:
    """Flip ``n_clusters`` Wolff clusters in each configuration, in place.

    Parameters
    ----------
    spins : int8 array (n_chains, L, L) of ±1, C-contiguous; modified in place
    temperature : T > 0, a scalar or one per chain (shape (n_chains,))
    n_clusters : clusters per chain
    rng : numpy Generator (its state advances)

    Returns
    -------
    int64 array (n_chains, n_clusters): the size of each flipped cluster
    """
    if not (isinstance(spins, np.ndarray) and spins.dtype == np.int8 and spins.ndim == 3
            and spins.shape[1] == spins.shape[2] and spins.flags.c_contiguous):
        raise ValueError("spins must be a C-contiguous int8 array of shape (n_chains, L, L)")
    temps = np.broadcast_to(np.asarray(temperature, dtype=np.float64), spins.shape[:1])
    for t in np.unique(temps):
        check_temperature(t)
    if int(n_clusters) < 0:
        raise ValueError(f"n_clusters must be >= 0; got {n_clusters}")
    p_add = -np.expm1(-2.0 / temps)
    stack = np.empty(spins.shape[1] * spins.shape[2], dtype=np.int64)
    sizes = np.zeros((spins.shape[0], int(n_clusters)), dtype=np.int64)
    return _wolff_kernel(spins, p_add, int(n_clusters), rng, stack, sizes)


def _initial_spins(shape, temperature: float, start: str, rng: np.random.Generator,
                   t_c: float) -> np.ndarray:
    if start not in ("auto", "random", "cold"):
        raise ValueError(f"start must be 'auto', 'random' or 'cold'; got {start!r}")
    cold = start == "cold" or (start == "auto" and temperature < t_c)
    if cold:
        return np.ones(shape, dtype=np.int8)
    return (rng.integers(0, 2, size=shape, dtype=np.int8) * 2 - 1).astype(np.int8)


class ClusterSweeps:
    """Sweeps for single-cluster samplers: a sweep is ``clusters_per_sweep`` cluster flips,
    calibrated so that one sweep flips about ``N`` spins. Subclasses provide ``N``,
    ``n_chains`` and ``flip(n_clusters) -> sizes (n_chains, n_clusters)``."""

    def _init_sweeps(self, clusters_per_sweep: int | None, warmup: int) -> None:
        """Set the sweep length and clear ``last_sizes``; the last step of ``__init__``.

        Parameters
        ----------
        clusters_per_sweep : the sweep length, or None to :meth:`calibrate` it
        warmup : minimum clusters per chain for :meth:`calibrate` (ignored when the length is
            given)

        Raises
        ------
        ValueError
            if ``clusters_per_sweep`` is given and < 1.
        """
        self.last_sizes = np.zeros((self.n_chains, 0), dtype=np.int64)
        # Calibrating flips clusters, so the subclass's kernel state must already be in place.
        if clusters_per_sweep is None:
            self.clusters_per_sweep = self.calibrate(warmup)
        else:
            if int(clusters_per_sweep) < 1:
                raise ValueError(f"clusters_per_sweep must be >= 1; got {clusters_per_sweep}")
            self.clusters_per_sweep = int(clusters_per_sweep)

    def _cluster_fraction(self) -> np.ndarray:
        """Mean ``|C|/N`` over the last sweep's clusters, shape (n_chains,).

        NaN before the first sweep, when there are no sizes to average.
        """
        if self.last_sizes.shape[1]:
            return self.last_sizes.mean(axis=1) / self.N
        return np.full(self.n_chains, np.nan)

    #: Warm-up length of :meth:`calibrate`, in flipped spins per site of every chain.
    WARMUP_FLIPS_PER_SITE = 20.0
    #: Length of the ⟨|C|⟩ measurement of :meth:`calibrate`, in expected flipped spins per site.
    MEASURE_FLIPS_PER_SITE = 5.0

    def calibrate(self, warmup: int = 200) -> int:
        """Warm up, then set the sweep length from the mean cluster size.

        The warm-up flips clusters until every chain has flipped at least
        ``WARMUP_FLIPS_PER_SITE · N`` spins (and at least ``warmup`` clusters). ``⟨|C|⟩`` is then
        the mean size over a fixed number of further clusters per chain,
        ``max(warmup, ceil(MEASURE_FLIPS_PER_SITE · N / s))`` with ``s`` the mean size at the end
        of the warm-up. Sets and returns ``clusters_per_sweep = max(1, round(N / ⟨|C|⟩))``.

        Parameters
        ----------
        warmup : minimum clusters per chain in the warm-up and in the measurement (≥ 10 is used)
        """
        warmup = max(int(warmup), 10)
        target = self.WARMUP_FLIPS_PER_SITE * self.N
        sizes = self.flip(warmup)
        flipped = sizes.sum(axis=1)
        while flipped.min() < target:
            # Clusters grow as the lattice orders, so each batch is sized to flip about N/2
            # spins at the current mean size: a batch sized from the small early clusters could
            # otherwise flip hundreds of N once the lattice has ordered.
            batch = max(1, math.ceil(0.5 * self.N / sizes.mean()))
            sizes = self.flip(batch)
            flipped += sizes.sum(axis=1)
        n_measure = max(warmup, math.ceil(self.MEASURE_FLIPS_PER_SITE * self.N / sizes.mean()))
        sizes = self.flip(n_measure)
        self.clusters_per_sweep = max(1, round(self.N / sizes.mean()))
        return self.clusters_per_sweep

    def sweep(self, n: int = 1) -> None:
        """Advance every chain by ``n`` sweeps of ``clusters_per_sweep`` clusters."""
        if int(n) > 0:
            sizes = self.flip(int(n) * self.clusters_per_sweep)
            self.last_sizes = sizes[:, -self.clusters_per_sweep:]


class WolffIsing2D(ClusterSweeps):
    """``n_chains`` independent Wolff chains of the L×L Ising torus at one temperature.

    Implements the :class:`coarsegrain.lattice.autocorr.MarkovChain` protocol.

    Parameters
    ----------
    L : lattice size (≥ 2)
    temperature : T > 0 (units of J)
    n_chains : independent chains
    rng : numpy Generator driving everything (defaults to ``make_rng(seed, "wolff", L, T)``)
    seed : used only when ``rng`` is None
    start : "auto" (all-up below T_c, random above), "random" or "cold"
    clusters_per_sweep : fix the sweep length; None calibrates it (:meth:`ClusterSweeps.calibrate`)
    warmup : minimum clusters per chain in the calibration's warm-up and in its ⟨|C|⟩ measurement

    Attributes
    ----------
    spins : int8 (n_chains, L, L)
    clusters_per_sweep : int
    last_sizes : int64 (n_chains, clusters_per_sweep), cluster sizes of the last sweep
    """

    sampler = "wolff"

    def __init__(self, L, temperature, n_chains: int = 1, *, rng=None, seed: int = 0,
                 start: str = "auto", clusters_per_sweep: int | None = None, warmup: int = 200):
        self.L = _check_L(L)
        self.temperature = check_temperature(temperature)
        self.n_chains = _check_chains(n_chains)
        self.rng = rng if rng is not None else make_rng(seed, "wolff", self.L, self.temperature)
        self.spins = _initial_spins((self.n_chains, self.L, self.L), self.temperature, start,
                                    self.rng, T_CRITICAL)
        self.N = self.L * self.L
        self._p_add = np.full(self.n_chains, -math.expm1(-2.0 / self.temperature))
        self._stack = np.empty(self.N, dtype=np.int64)
        self._init_sweeps(clusters_per_sweep, warmup)

    def flip(self, n_clusters: int) -> np.ndarray:
        """Flip ``n_clusters`` clusters per chain in one kernel call; returns their sizes,
        shape (n_chains, n_clusters)."""
        sizes = np.zeros((self.n_chains, int(n_clusters)), dtype=np.int64)
        return _wolff_kernel(self.spins, self._p_add, int(n_clusters), self.rng, self._stack,
                             sizes)

    def observables(self) -> dict[str, np.ndarray]:
        """energy (per site), abs_magnetization, and cluster_fraction (mean |C|/N over the last
        sweep's clusters, NaN before the first sweep); each shape (n_chains,)."""
        return {"energy": energy_per_site(self.spins),
                "abs_magnetization": np.abs(self.spins.mean(axis=(1, 2), dtype=np.float64)),
                "cluster_fraction": self._cluster_fraction()}

    def configurations(self) -> np.ndarray:
        return self.spins.copy()


class MetropolisIsing2D:
    """Adapter giving :class:`coarsegrain.lattice.ising2d.CheckerboardMetropolis` at one
    temperature the :class:`~coarsegrain.lattice.autocorr.MarkovChain` interface."""

    sampler = "metropolis"

    def __init__(self, L, temperature, n_chains: int = 64, *, seed: int = 0, device="auto",
                 start: str = "auto"):
        self.L = _check_L(L)
        self.temperature = check_temperature(temperature)
        self.n_chains = _check_chains(n_chains)
        if start not in ("auto", "random", "cold"):
            raise ValueError(f"start must be 'auto', 'random' or 'cold'; got {start!r}")
        cold = "auto" if start == "auto" else start == "cold"
        # Key the stream on T as well, so chains at different temperatures are independent.
        sub = int(make_rng(seed, "metropolis", self.L, self.temperature).integers(2**62))
        self.mc = CheckerboardMetropolis(self.L, [self.temperature], n_chains=self.n_chains,
                                         seed=sub, device=device, cold_start=cold)

    def sweep(self, n: int = 1) -> None:
        if int(n) > 0:
            self.mc.sweep(int(n))

    def observables(self) -> dict[str, np.ndarray]:
        s = self.mc.spins[0]
        return {"energy": self.mc.energy()[0].double().cpu().numpy(),
                "abs_magnetization": s.double().mean(dim=(-2, -1)).abs().cpu().numpy()}

    def configurations(self) -> np.ndarray:
        return self.mc.spins[0].to(torch.int8).cpu().numpy()


# ----------------------------------------------------------------------------- driver


def choose_sampler(temperature, sampler: str = "auto", window: float = 0.5,
                   t_c: float = T_CRITICAL) -> str:
    """The sampler to use at ``temperature``.

    ``sampler="auto"`` gives ``"wolff"`` when ``|T − t_c| ≤ window`` (where Metropolis'
    critical slowing down is costly) and ``"metropolis"`` elsewhere; an explicit ``"wolff"`` or
    ``"metropolis"`` is returned unchanged.
    """
    t = check_temperature(temperature)
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}; got {sampler!r}")
    if not (math.isfinite(window) and window >= 0):
        raise ValueError(f"window must be finite and >= 0; got {window!r}")
    if sampler != "auto":
        return sampler
    return "wolff" if abs(t - t_c) <= window else "metropolis"


_DEFAULTS = {
    "wolff": {"n_chains": 4, "n_thermalize": 50, "n_pilot": 200, "max_pilot": 6_400},
    "metropolis": {"n_chains": 64, "n_thermalize": 500, "n_pilot": 500, "max_pilot": 64_000},
}


def sample_ising2d(L, temperature, n_samples: int, *, sampler: str = "auto", seed: int = 0,
                   n_chains: int | None = None, device="auto", window: float = 0.5,
                   n_thermalize: int | None = None, thin: int | str = "auto",
                   n_pilot: int | None = None, max_pilot: int | None = None,
                   global_flip: bool = True, progress: bool = True) -> SampleResult:
    """Decorrelated 2D Ising configurations at one temperature, with the full discipline.

    Runs :func:`coarsegrain.lattice.autocorr.sample_chain` (thermalise, measure τ_int, thin by
    ``ceil(2 τ_int)``, random global flip) on Wolff chains or on checkerboard Metropolis chains,
    as chosen by :func:`choose_sampler`.

    Parameters
    ----------
    L : lattice size (even for Metropolis)
    temperature : T > 0
    n_samples : configurations to return
    sampler : "auto", "wolff" or "metropolis"
    seed : config seed; streams are keyed on (sampler, L, T)
    n_chains, n_thermalize, n_pilot, max_pilot : None → per-sampler defaults (``_DEFAULTS``)
    device : torch device for Metropolis (Wolff runs on the CPU)
    window : half-width of the temperature window around T_c where "auto" picks Wolff

    Returns
    -------
    :class:`~coarsegrain.lattice.autocorr.SampleResult`; ``configs`` int8 (n_samples, L, L),
    ``info`` holds model, L, temperature, sampler, seed, tau_int, thin, ... (store it as metadata).
    """
    L = _check_L(L)
    T = check_temperature(temperature)
    check_int(n_samples, "n_samples", 1)
    kind = choose_sampler(T, sampler, window)
    d = dict(_DEFAULTS[kind])
    for k, v in (("n_chains", n_chains), ("n_thermalize", n_thermalize), ("n_pilot", n_pilot),
                 ("max_pilot", max_pilot)):
        if v is not None:
            d[k] = v
    if kind == "wolff":
        chain = WolffIsing2D(L, T, d["n_chains"], rng=make_rng(seed, "wolff", L, T))
    else:
        if L % 2:
            raise ValueError(f"L must be even for the checkerboard Metropolis sampler; got {L}")
        chain = MetropolisIsing2D(L, T, d["n_chains"], seed=seed, device=device)
    res = sample_chain(chain, int(n_samples), rng=make_rng(seed, "global-flip", kind, L, T),
                       n_thermalize=d["n_thermalize"], thin=thin, n_pilot=d["n_pilot"],
                       max_pilot=d["max_pilot"], global_flip=global_flip, progress=progress,
                       desc=f"{kind} L={L} T={T:.4g}")
    res.info.update(model="ising2d", L=L, temperature=T, sampler=kind, seed=int(seed))
    if kind == "wolff":
        res.info["clusters_per_sweep"] = chain.clusters_per_sweep
    return res


def scan_ising2d(sizes, temperatures, n_samples: int, *, sampler: str = "wolff", seed: int = 0,
                 progress: bool = False, **kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sample every (L, T) with :func:`sample_ising2d` and tabulate observables.

    Returns
    -------
    table : tidy observables (``coarsegrain.lattice.observables.observables_table``: columns L,
        temperature, observable, value, error, n; jackknife errors over 20 blocks of the
        thinned samples) for every (L, T), plus the sampling metadata of each (L, T) as columns
        ``tau_int``, ``thin``, ``n_thermalize``, ``sampler``
    runs : one row per (L, T) with the sampling metadata (sampler, tau_int, thin, ...)
    """
    sizes = [_check_L(L) for L in sizes]
    temps = [check_temperature(T, "temperatures") for T in temperatures]
    if not sizes or not temps:
        raise ValueError("sizes and temperatures must be non-empty")
    tables, runs = [], []
    for L in sizes:
        for T in temps:
            res = sample_ising2d(L, T, n_samples, sampler=sampler, seed=seed, progress=progress,
                                 **kwargs)
            # Thinned samples are ~independent: 20 contiguous blocks give a better jackknife
            # than the few chains.
            tab = observables_table(res.configs, T)
            for key in ("tau_int", "thin", "n_thermalize", "sampler"):
                tab[key] = res.info.get(key)
            tables.append(tab)
            runs.append({k: v for k, v in res.info.items() if not isinstance(v, dict)})
    return pd.concat(tables, ignore_index=True), pd.DataFrame(runs)
