"""Two-point correlators of spin configurations and power-law fits for scaling dimensions.

Conventions
-----------
- Configurations are numpy (or torch) arrays of shape ``(n, L, L)`` (2D square or rectangular
  tori) or ``(n, N)`` (periodic chains); values ±1 for spins, any real values otherwise
  (e.g. block-averaged spins or the energy operator). A 2D array is always read as ``n`` chains.
- Distances are minimum-image distances *along the lattice axes*: ``C(r)`` averages
  ``s(x) s(x + r ê_a)`` over all sites x, over the axes a (both axes in 2D) and over the
  configurations, for ``r = 0 .. max_r`` with ``max_r ≤ min(L)/2``. Computed by FFT along each
  axis (O(n L² log L)).
- ``connected=True`` subtracts ``m(x) m(x + r ê_a)`` averaged the same way, where ``m(x)`` is the
  mean of the configurations at site x (the per-site sample mean). With translation-invariant
  data this is ``⟨s⟩²`` up to noise of order ``C(r)/n``.
- Energy operator: in 2D ``ε(x) = s(x)[s(x+x̂) + s(x+ŷ)]/2`` — the mean of the two bonds leaving
  x in the positive directions, so that ``⟨ε⟩ = −e`` (energy per site divided by the number of
  bonds per site) and ``ε`` is a site field with the lattice's translation symmetry; in 1D
  ``ε_i = s_i s_{i+1}`` (periodic).
- Errors: bootstrap over configurations (``n_boot`` resamples of the n configurations with
  replacement, the connected part recomputed in every resample); the error is the standard
  deviation of the replicas. This assumes the configurations are independent — thin Monte Carlo
  data by ``2 τ_int`` first (``coarsegrain.lattice.autocorr``).
- Fits, by weighted least squares: ``C(r) = A r^(−2Δ)`` (``form="power"``);
  ``C(r) = A [r^(−2Δ) + (L − r)^(−2Δ)]`` (``form="periodic"``, the nearest periodic image);
  ``C(r) = A r^(−2Δ) [1 + a (r/L)^κ]`` (``form="torus"``). The last is the leading finite-size
  correction at criticality: by the operator product expansion σ×σ = 1 + ε + …, the torus
  correlator picks up ``r^(Δ_ε) ⟨ε⟩_L ∝ (r/L)^(Δ_ε)``, so κ = Δ_ε (= 1 for the 2D Ising model,
  the default). On a 64² torus at T_c the image sum ("periodic") overestimates Δ_σ by ~0.035,
  while "torus" over 1 ≤ r ≤ L/2 is within ~0.003 of 1/8.
  The errors of different r are correlated (same configurations), so the fit's ``delta_err``
  (from the covariance, scaled by √χ²/dof when that exceeds 1) is indicative; for a rigorous
  error use :func:`scaling_dimension`, which refits on jackknife groups of configurations.
- Cost: one pass over the configurations per call, in chunks of ``chunk`` configurations
  (default: about 4·10⁶ sites, ~32 MB of float64, at a time). Each chunk adds to float64 sums —
  per jackknife group and per bootstrap resample — of the per-configuration correlators and, for
  connected correlators, of the site fields; the full, leave-one-group-out and resampled
  correlators all come from these sums. Peak memory is the input plus O(chunk + (n_boot +
  n_groups) · sites) floats, whatever the number of configurations; no per-configuration array
  of correlators or float64 copy of the input is kept.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

__all__ = [
    "FORMS",
    "energy_operator",
    "fit_curve",
    "fit_power_law",
    "scaling_dimension",
    "two_point",
]

FORMS = ("power", "periodic", "torus")


def _as_numpy(configs) -> np.ndarray:
    if hasattr(configs, "detach"):  # torch tensor, on any device
        configs = configs.detach().cpu().numpy()
    a = np.asarray(configs)
    if a.ndim not in (2, 3):
        raise ValueError("configs must have shape (n, N) for chains or (n, L, L) for 2D "
                         f"lattices; got {a.shape}")
    if a.shape[0] < 1 or min(a.shape[1:]) < 2:
        raise ValueError(f"configs needs n >= 1 configurations of linear size >= 2; got {a.shape}")
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise ValueError(f"configs must be real numbers; got dtype {a.dtype}")
    return a


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _corr_along(x: np.ndarray, axis: int, max_r: int) -> np.ndarray:
    """Periodic autocorrelation along ``axis`` averaged over every other lattice axis.

    x : float64 (k, *lattice); returns (k, max_r + 1) with element r the mean over sites of
    x(site) x(site + r along axis).
    """
    n = x.shape[axis]
    f = np.fft.rfft(x, axis=axis)
    c = np.fft.irfft(f * np.conj(f), n=n, axis=axis)
    c = np.take(c, np.arange(max_r + 1), axis=axis)
    other = tuple(a for a in range(1, x.ndim) if a != axis)
    c = c.mean(axis=other) if other else c
    return c / n


def _per_config(x: np.ndarray, max_r: int, chunk: int = 256) -> np.ndarray:
    """(n, max_r+1) correlator of each configuration, averaged over sites and axes."""
    axes = list(range(1, x.ndim))
    out = np.empty((x.shape[0], max_r + 1))
    for i in range(0, x.shape[0], chunk):
        xi = x[i : i + chunk].astype(np.float64)
        out[i : i + chunk] = sum(_corr_along(xi, a, max_r) for a in axes) / len(axes)
    return out


def _default_max_r(shape) -> int:
    return min(shape) // 2


#: Sites (configurations × lattice sites) per chunk of the accumulating pass: ~32 MB of float64.
CHUNK_SITES = 1 << 22


def _chunk_size(chunk, n: int, sites: int) -> int:
    """Configurations per chunk: ``chunk`` if given (ValueError unless an integer ≥ 1), else
    enough to hold about :data:`CHUNK_SITES` sites."""
    if chunk is None:
        return max(1, min(n, CHUNK_SITES // max(1, sites)))
    if not _is_int(chunk) or chunk < 1:
        raise ValueError(f"chunk must be an integer >= 1 (configurations per chunk) or None; "
                         f"got {chunk!r}")
    return int(chunk)


class _Sums:
    """Float64 sums from one chunked pass over the configurations (see the module docstring).

    Attributes (R = max_r + 1, P = number of lattice sites)
    ----------
    n_per_group : int64 (n_groups,) configurations in each group
    corr_group : (n_groups, R) sums of the per-configuration correlators over each group
    corr_boot : (n_boot, R) bootstrap-weighted means of the per-configuration correlators
    site_group : (n_groups, *lattice) sums of the site field over each group (connected only)
    site_boot : (n_boot, *lattice) bootstrap-weighted means of the site field (connected only)
    """

    def __init__(self, x, field, max_r: int, connected: bool, groups: np.ndarray,
                 n_groups: int, weights: np.ndarray | None, chunk: int):
        n, lattice = x.shape[0], x.shape[1:]
        sites = int(np.prod(lattice))
        n_boot = 0 if weights is None else weights.shape[0]
        self.lattice, self.connected = lattice, connected
        self.n_per_group = np.bincount(groups, minlength=n_groups)
        self.corr_group = np.zeros((n_groups, max_r + 1))
        self.corr_boot = np.zeros((n_boot, max_r + 1))
        self.site_group = np.zeros((n_groups, sites)) if connected else None
        self.site_boot = np.zeros((n_boot, sites)) if connected and n_boot else None
        for i in range(0, n, chunk):
            f = field(x[i : i + chunk])
            per = _per_config(f, max_r, chunk=f.shape[0])
            # One-hot group membership: a (n_groups, k) @ (k, ·) product sums each group.
            onehot = (groups[i : i + chunk][None, :] == np.arange(n_groups)[:, None])
            onehot = onehot.astype(np.float64)
            self.corr_group += onehot @ per
            if n_boot:
                self.corr_boot += weights[:, i : i + chunk] @ per
            if connected:
                flat = f.reshape(f.shape[0], sites)
                self.site_group += onehot @ flat
                if n_boot:
                    self.site_boot += weights[:, i : i + chunk] @ flat
        if connected:
            self.site_group = self.site_group.reshape((n_groups, *lattice))
            if self.site_boot is not None:
                self.site_boot = self.site_boot.reshape((n_boot, *lattice))

    def _disconnected(self, site_sum: np.ndarray, count, max_r: int) -> np.ndarray:
        return _per_config((site_sum / count)[None], max_r)[0]

    def value(self, max_r: int, leave_out: int | None = None) -> np.ndarray:
        """Correlator over all configurations, or with group ``leave_out`` removed; (R,)."""
        corr, site = self.corr_group.sum(axis=0), None
        count = self.n_per_group.sum()
        if self.connected:
            site = self.site_group.sum(axis=0)
        if leave_out is not None:
            corr = corr - self.corr_group[leave_out]
            count = count - self.n_per_group[leave_out]
            if self.connected:
                site = site - self.site_group[leave_out]
        out = corr / count
        if self.connected:
            out = out - self._disconnected(site, count, max_r)
        return out

    def replicas(self, max_r: int) -> np.ndarray:
        """Bootstrap replicas of the correlator, (n_boot, R)."""
        reps = self.corr_boot.copy()
        if self.connected and self.site_boot is not None:
            reps -= _per_config(self.site_boot, max_r)
        return reps


def _bootstrap_weights(n: int, n_boot: int, seed: int) -> np.ndarray | None:
    """(n_boot, n) resample multiplicities divided by n, or None without a bootstrap."""
    # Hand-written rather than scipy.stats.bootstrap: the resamples are applied as weights to
    # sums streamed over chunks of configurations, so no resampled copy of the (n, *lattice)
    # data is ever built; scipy would materialise each resample of the configurations.
    if n_boot <= 0 or n <= 1:
        return None
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64) / n


def _as_float(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64)


def _check_max_r(max_r, lattice) -> int:
    r_cap = _default_max_r(lattice)
    if max_r is None:
        return r_cap
    if not _is_int(max_r) or not 0 <= max_r <= r_cap:
        raise ValueError(f"max_r must be an integer in [0, {r_cap}] (min(L)//2 for lattice "
                         f"{lattice}); got {max_r!r}")
    return int(max_r)


def _table(value, error, max_r, lattice, n, connected) -> pd.DataFrame:
    df = pd.DataFrame({"r": np.arange(max_r + 1, dtype=np.int64), "value": value, "error": error})
    df.attrs.update(L=int(min(lattice)), n_configs=int(n), connected=bool(connected))
    return df


def two_point(configs, max_r: int | None = None, connected: bool = False, n_boot: int = 200,
              seed: int = 0, chunk: int | None = None) -> pd.DataFrame:
    """Two-point correlator ``C(r) = ⟨s(x) s(x + r ê)⟩`` with bootstrap errors.

    Parameters
    ----------
    configs : array (n, L, L) or (n, N), numpy or torch, values ±1 or real
    max_r : largest distance (default and maximum: ``min(L)//2``, the minimum-image range)
    connected : subtract ``m(x) m(x + r ê)`` with m the per-site mean over configurations
    n_boot : bootstrap resamples over configurations (0 → errors NaN)
    seed : seed of the bootstrap resampling
    chunk : configurations per chunk of the accumulating pass (None: about
        :data:`CHUNK_SITES` sites); the result does not depend on it beyond float round-off

    Returns
    -------
    pandas.DataFrame with columns ``r`` (int, 0..max_r), ``value``, ``error``; ``df.attrs`` holds
    ``L`` (the linear size along the axes, smallest if they differ), ``n_configs``, ``connected``.
    """
    x = _as_numpy(configs)
    lattice = x.shape[1:]
    max_r = _check_max_r(max_r, lattice)
    if not _is_int(n_boot) or n_boot < 0:
        raise ValueError(f"n_boot must be an integer >= 0; got {n_boot!r}")
    n = x.shape[0]
    chunk = _chunk_size(chunk, n, int(np.prod(lattice)))
    weights = _bootstrap_weights(n, n_boot, seed)
    sums = _Sums(x, _as_float, max_r, connected, np.zeros(n, dtype=np.int64), 1, weights, chunk)
    error = (sums.replicas(max_r).std(axis=0, ddof=1) if weights is not None
             else np.full(max_r + 1, np.nan))
    return _table(sums.value(max_r), error, max_r, lattice, n, connected)


def energy_operator(configs) -> np.ndarray:
    """Local energy operator of each configuration (see the module docstring for the choice).

    Parameters
    ----------
    configs : array (n, L, L) or (n, N) of ±1 (numpy or torch)

    Returns
    -------
    float64 numpy array of the same shape: 2D ``ε(x) = s(x)[s(x+x̂) + s(x+ŷ)]/2``, values in
    {−1, 0, 1}; 1D ``ε_i = s_i s_{i+1}`` (periodic), values ±1.
    """
    s = _as_numpy(configs).astype(np.float64)
    if s.ndim == 2:
        return s * np.roll(s, -1, axis=-1)
    # In place, so that at most three float64 arrays of the input's size exist at once.
    out = np.roll(s, -1, axis=-1)
    out += np.roll(s, -1, axis=-2)
    out *= s
    out *= 0.5
    return out


def _model(form: str, L: float, kappa: float = 1.0):
    if form == "power":
        return lambda r, a, d: a * r ** (-2.0 * d)
    if form == "torus":
        return lambda r, a, d, b: a * r ** (-2.0 * d) * (1.0 + b * (r / L) ** kappa)
    return lambda r, a, d: a * (r ** (-2.0 * d) + (L - r) ** (-2.0 * d))


def fit_curve(fit: dict, r) -> np.ndarray:
    """Evaluate a :func:`fit_power_law` result at distances ``r`` (for plotting)."""
    r = np.asarray(r, dtype=np.float64)
    f = _model(fit["form"], float(fit["L"]), float(fit.get("kappa", 1.0)))
    params = [fit["amplitude"], fit["delta"]] + ([fit["correction"]] if fit["form"] == "torus"
                                                  else [])
    return f(r, *params)


def fit_power_law(df: pd.DataFrame, rmin: int = 1, rmax: int | None = None,
                  form: str = "power", L: int | None = None, kappa: float = 1.0) -> dict:
    """Fit ``C(r) ∝ r^(−2Δ)`` (or its periodic form) to a correlator table.

    Parameters
    ----------
    df : table from :func:`two_point` (columns r, value, error)
    rmin, rmax : fit range, inclusive (rmax defaults to the largest r in ``df``)
    form : "power" — ``A r^(−2Δ)``; "periodic" — ``A [r^(−2Δ) + (L − r)^(−2Δ)]``;
        "torus" — ``A r^(−2Δ) [1 + a (r/L)^κ]`` (module docstring)
    L : system size for "periodic"/"torus" (default ``df.attrs["L"]``, else ``2 · max(r)``)
    kappa : exponent κ of the "torus" correction (Δ_ε of the model; 1 for 2D Ising)

    Returns
    -------
    dict with ``delta``, ``delta_err`` (covariance error scaled by √max(1, χ²/dof)),
    ``amplitude``, ``amplitude_err``, ``chi2_dof``, ``rmin``, ``rmax``, ``n_points``, ``form``
    (and ``correction`` = a, ``kappa`` for "torus"); ``L`` used by the periodic forms.
    NaNs when the fit fails or the data are not positive.
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}; got {form!r}")
    missing = {"r", "value", "error"} - set(df.columns)
    if missing:
        raise ValueError(f"df must have columns r, value, error; missing {sorted(missing)}")
    r_all = df["r"].to_numpy()
    if rmax is None:
        rmax = int(r_all.max())
    if not (isinstance(rmin, (int, np.integer)) and rmin >= 1):
        raise ValueError(f"rmin must be an integer >= 1 (r=0 is the on-site value); got {rmin!r}")
    if not (isinstance(rmax, (int, np.integer)) and rmax >= rmin + 1):
        raise ValueError(f"rmax must be an integer >= rmin + 1 = {rmin + 1}; got {rmax!r}")
    if L is None:
        L = df.attrs.get("L", 2 * int(r_all.max()))
    if not (math.isfinite(kappa) and kappa > 0):
        raise ValueError(f"kappa must be finite and > 0; got {kappa!r}")
    if form == "periodic" and not rmax < L:
        raise ValueError(f"rmax must be < L={L} for the periodic form; got {rmax}")
    sel = (r_all >= rmin) & (r_all <= rmax)
    r = r_all[sel].astype(np.float64)
    y = df["value"].to_numpy()[sel].astype(np.float64)
    e = df["error"].to_numpy()[sel].astype(np.float64)
    out = {"delta": math.nan, "delta_err": math.nan, "amplitude": math.nan,
           "amplitude_err": math.nan, "chi2_dof": math.nan, "rmin": int(rmin), "rmax": int(rmax),
           "n_points": int(sel.sum()), "form": form, "L": int(L)}
    n_par = 3 if form == "torus" else 2
    if r.size < n_par or np.any(~np.isfinite(y)) or np.any(y <= 0):
        return out
    weighted = bool(np.all(np.isfinite(e)) and np.all(e > 0))
    # Start from the straight line in log–log coordinates.
    slope, icpt = np.polyfit(np.log(r), np.log(y), 1)
    p0 = [math.exp(icpt), max(-slope / 2.0, 1e-3)] + ([0.0] if form == "torus" else [])
    f = _model(form, float(L), float(kappa))
    try:
        popt, pcov = curve_fit(f, r, y, p0=p0, sigma=e if weighted else None,
                               absolute_sigma=weighted, maxfev=20_000)
    except (RuntimeError, ValueError):
        return out
    dof = r.size - n_par
    resid = (y - f(r, *popt)) / (e if weighted else 1.0)
    chi2 = float(resid @ resid)
    chi2_dof = chi2 / dof if dof > 0 and weighted else math.nan
    scale = math.sqrt(max(1.0, chi2_dof)) if weighted and dof > 0 else 1.0
    perr = np.sqrt(np.diag(pcov)) * scale
    out.update(delta=float(popt[1]), delta_err=float(perr[1]), amplitude=float(popt[0]),
               amplitude_err=float(perr[0]), chi2_dof=chi2_dof)
    if form == "torus":
        out["correction"], out["kappa"] = float(popt[2]), float(kappa)
    return out


def scaling_dimension(configs, operator: str = "spin", rmin: int = 1, rmax: int | None = None,
                      form: str = "torus", kappa: float = 1.0, n_groups: int = 10,
                      n_boot: int = 100, seed: int = 0, chunk: int | None = None) -> dict:
    """Δ of the spin or energy operator with a jackknife error over configuration groups.

    The correlator (``operator="spin"``: ⟨s s⟩, not connected — the global flips make ⟨s⟩ = 0;
    ``"energy"``: connected ⟨ε ε⟩) is fitted on all configurations; the error comes from
    refitting with each of ``n_groups`` contiguous groups left out (jackknife), which accounts
    for the correlations between distances that the diagonal fit ignores.

    The correlator, its bootstrap errors (``n_boot`` resamples, ``seed``) and the ``n_groups``
    leave-one-group-out correlators all come from one chunked pass over the configurations
    (``chunk`` configurations at a time; module docstring), the energy operator being formed
    chunk by chunk; the numbers equal those of :func:`two_point` on the full and on the reduced
    sets of configurations up to float round-off.

    Returns
    -------
    dict: the :func:`fit_power_law` result on all data with ``delta_err`` replaced by the
    jackknife error (``delta_err_fit`` keeps the fit's own), plus ``table`` (the correlator
    DataFrame) and ``operator``.
    """
    if operator not in ("spin", "energy"):
        raise ValueError(f"operator must be 'spin' or 'energy'; got {operator!r}")
    x = _as_numpy(configs)
    field = energy_operator if operator == "energy" else _as_float
    connected = operator == "energy"
    n, lattice = x.shape[0], x.shape[1:]
    if not (isinstance(n_groups, (int, np.integer)) and 2 <= n_groups <= n):
        raise ValueError(f"n_groups must be an integer in [2, n={n}]; got {n_groups!r}")
    if not _is_int(n_boot) or n_boot < 0:
        raise ValueError(f"n_boot must be an integer >= 0; got {n_boot!r}")
    max_r = _default_max_r(lattice)
    chunk = _chunk_size(chunk, n, int(np.prod(lattice)))
    groups = np.arange(n) * n_groups // n
    weights = _bootstrap_weights(n, n_boot, seed)
    sums = _Sums(x, field, max_r, connected, groups, int(n_groups), weights, chunk)
    error = (sums.replicas(max_r).std(axis=0, ddof=1) if weights is not None
             else np.full(max_r + 1, np.nan))
    df = _table(sums.value(max_r), error, max_r, lattice, n, connected)
    res = fit_power_law(df, rmin=rmin, rmax=rmax, form=form, kappa=kappa)
    deltas = []
    for g in range(n_groups):
        d = _table(sums.value(max_r, leave_out=g), df["error"].to_numpy(), max_r, lattice,
                   n - int(sums.n_per_group[g]), connected)  # same weights as the full fit
        deltas.append(fit_power_law(d, rmin=rmin, rmax=rmax, form=form, L=df.attrs["L"],
                                    kappa=kappa)["delta"])
    deltas = np.asarray(deltas)
    jk = (math.sqrt((n_groups - 1) / n_groups * np.sum((deltas - deltas.mean()) ** 2))
          if np.all(np.isfinite(deltas)) else math.nan)
    res["delta_err_fit"] = res["delta_err"]
    res["delta_err"] = jk
    res["operator"] = operator
    res["table"] = df
    return res
