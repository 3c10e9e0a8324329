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


def two_point(configs, max_r: int | None = None, connected: bool = False, n_boot: int = 200,
              seed: int = 0) -> pd.DataFrame:
    """Two-point correlator ``C(r) = ⟨s(x) s(x + r ê)⟩`` with bootstrap errors.

    Parameters
    ----------
    configs : array (n, L, L) or (n, N), numpy or torch, values ±1 or real
    max_r : largest distance (default and maximum: ``min(L)//2``, the minimum-image range)
    connected : subtract ``m(x) m(x + r ê)`` with m the per-site mean over configurations
    n_boot : bootstrap resamples over configurations (0 → errors NaN)
    seed : seed of the bootstrap resampling

    Returns
    -------
    pandas.DataFrame with columns ``r`` (int, 0..max_r), ``value``, ``error``; ``df.attrs`` holds
    ``L`` (the linear size along the axes, smallest if they differ), ``n_configs``, ``connected``.
    """
    x = _as_numpy(configs)
    lattice = x.shape[1:]
    r_cap = _default_max_r(lattice)
    if max_r is None:
        max_r = r_cap
    if not _is_int(max_r) or not 0 <= max_r <= r_cap:
        raise ValueError(f"max_r must be an integer in [0, {r_cap}] (min(L)//2 for lattice "
                         f"{lattice}); got {max_r!r}")
    if not _is_int(n_boot) or n_boot < 0:
        raise ValueError(f"n_boot must be an integer >= 0; got {n_boot!r}")
    max_r = int(max_r)
    n = x.shape[0]
    per = _per_config(x, max_r)
    value = per.mean(axis=0)
    m = None
    if connected:
        m = x.reshape(n, -1).mean(axis=0, dtype=np.float64).reshape((1, *lattice))
        value = value - _per_config(m, max_r)[0]
    error = np.full(max_r + 1, np.nan)
    if n_boot > 0 and n > 1:
        rng = np.random.default_rng(seed)
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64) / n
        reps = counts @ per
        if connected:
            flat = x.reshape(n, -1).astype(np.float64)
            step = max(1, 4_000_000 // flat.shape[1])  # ~32 MB of resampled means at a time
            for i in range(0, n_boot, step):
                mb = (counts[i : i + step] @ flat).reshape((-1, *lattice))
                reps[i : i + step] -= _per_config(mb, max_r)
        error = reps.std(axis=0, ddof=1)
    df = pd.DataFrame({"r": np.arange(max_r + 1, dtype=np.int64), "value": value, "error": error})
    df.attrs.update(L=int(min(lattice)), n_configs=int(n), connected=bool(connected))
    return df


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
    return 0.5 * s * (np.roll(s, -1, axis=-1) + np.roll(s, -1, axis=-2))


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
                      n_boot: int = 100, seed: int = 0) -> dict:
    """Δ of the spin or energy operator with a jackknife error over configuration groups.

    The correlator (``operator="spin"``: ⟨s s⟩, not connected — the global flips make ⟨s⟩ = 0;
    ``"energy"``: connected ⟨ε ε⟩) is fitted on all configurations; the error comes from
    refitting with each of ``n_groups`` contiguous groups left out (jackknife), which accounts
    for the correlations between distances that the diagonal fit ignores.

    Returns
    -------
    dict: the :func:`fit_power_law` result on all data with ``delta_err`` replaced by the
    jackknife error (``delta_err_fit`` keeps the fit's own), plus ``table`` (the correlator
    DataFrame) and ``operator``.
    """
    if operator not in ("spin", "energy"):
        raise ValueError(f"operator must be 'spin' or 'energy'; got {operator!r}")
    x = _as_numpy(configs)
    if operator == "energy":
        x = energy_operator(x)
    connected = operator == "energy"
    n = x.shape[0]
    if not (isinstance(n_groups, (int, np.integer)) and 2 <= n_groups <= n):
        raise ValueError(f"n_groups must be an integer in [2, n={n}]; got {n_groups!r}")
    df = two_point(x, max_r=None, connected=connected, n_boot=n_boot, seed=seed)
    res = fit_power_law(df, rmin=rmin, rmax=rmax, form=form, kappa=kappa)
    groups = np.arange(n) * n_groups // n
    deltas = []
    for g in range(n_groups):
        d = two_point(x[groups != g], connected=connected, n_boot=0)
        d["error"] = df["error"].to_numpy()  # same weights as the full fit
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
