"""Temperature estimates of arbitrary configurations, and temperature flows.

Two estimators:

- the physics estimator: the temperature whose Monte Carlo ⟨E⟩ (or ⟨|m|⟩) equals the
  configurations' mean value, by monotone interpolation of an observables table, with a
  bootstrap error over configurations (Veiga & Vicente's cross-check of the thermometer);
- the neural thermometer (:mod:`coarsegrain.flow.thermometer`): mean of Σ_k p_k T_k.

:func:`temperature_table` applies them to groups of configurations keyed by flow step, layer or
RG step and returns one tidy table (key, method, temperature, error, spread, n), which is what
the temperature-flow figures and claims read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from scipy.optimize import isotonic_regression

from coarsegrain.runtime import make_rng

PHYSICS_OBSERVABLES = ("energy", "abs_magnetization")


# ----------------------------------------------------------------------------- observables


def observables_ising2d(configs) -> pd.DataFrame:
    """Per-configuration energy per site and |m| of 2D Ising configurations (n, L, L).

    Works for real-valued (e.g. block-averaged) configurations too; E uses the nearest-neighbour
    coupling J = 1 on the coarse lattice.
    """
    from coarsegrain.lattice.ising2d import energy_per_site, magnetization

    configs = np.asarray(configs, dtype=np.float32)
    if configs.ndim != 3:
        raise ValueError(f"2D Ising configurations must have shape (n, L, L); got {configs.shape}")
    return pd.DataFrame({"energy": energy_per_site(configs),
                         "abs_magnetization": np.abs(magnetization(configs))})


def observables_chain(configs, sigma: float, images: str = "ewald") -> pd.DataFrame:
    """Per-configuration energy per site and |m| of long-range chain configurations (n, N).

    The energy uses :func:`coarsegrain.lattice.longrange.energy_per_site` with the chain's own
    couplings J(r) = r^−(1+σ) (``images`` as in :func:`coarsegrain.lattice.longrange.couplings`),
    so it matches the Monte Carlo observables tables of the same N.
    """
    from coarsegrain.lattice.longrange import couplings, energy_per_site

    configs = np.asarray(configs, dtype=np.float64)
    if configs.ndim != 2:
        raise ValueError(f"chain configurations must have shape (n, N); got {configs.shape}")
    J = couplings(configs.shape[1], sigma, images)
    return pd.DataFrame({"energy": energy_per_site(configs, J),
                         "abs_magnetization": np.abs(configs.mean(axis=1))})


# ----------------------------------------------------------------------------- physics estimator


def _curve(table: pd.DataFrame, observable: str, size=None):
    """(temperature, value, error) sorted by temperature, from a wide or long observables table."""
    df = table
    if size is not None and "L" in df.columns:
        df = df[df["L"] == size]
        if df.empty:
            raise ValueError(f"observables table has no rows for L={size}; has L in "
                             f"{sorted(table['L'].unique().tolist())}")
    if "observable" in df.columns:
        df = df[df["observable"] == observable]
        if df.empty:
            raise ValueError(f"observables table has no rows for observable {observable!r}")
        val, err = df["value"].to_numpy(float), df.get("error", pd.Series(np.nan, df.index))
    else:
        if observable not in df.columns:
            raise ValueError(f"observables table lacks column {observable!r}; "
                             f"has {list(df.columns)}")
        val = df[observable].to_numpy(float)
        ecol = next((c for c in (f"{observable}_err", f"{observable}_error")
                     if c in df.columns), None)
        err = df[ecol] if ecol else pd.Series(np.nan, df.index)
    if "temperature" not in df.columns:
        raise ValueError("observables table needs a 'temperature' column")
    T = df["temperature"].to_numpy(float)
    if np.unique(T).size != T.size:
        raise ValueError("observables table has repeated temperatures for one size; pass size=")
    order = np.argsort(T)
    return T[order], val[order], np.asarray(err, dtype=float)[order]


def invert_curve(T: np.ndarray, values: np.ndarray, target) -> tuple[np.ndarray, np.ndarray]:
    """Temperature at which a monotone fit of ``values(T)`` equals ``target``.

    The direction (increasing, like E; decreasing, like |m|) is taken from the data; noise that
    breaks monotonicity is removed by isotonic regression; targets outside the curve's range are
    clipped to its ends.

    Returns
    -------
    temperature : array like ``target``
    clipped : bool array, True where the target lay outside the tabulated range
    """
    T = np.asarray(T, dtype=float)
    values = np.asarray(values, dtype=float)
    increasing = np.polyfit(T, values, 1)[0] >= 0 if T.size > 1 else True
    fit = isotonic_regression(values, increasing=bool(increasing)).x
    # a tiny ramp makes flat (pooled) stretches strictly monotone so the inverse is a function
    span = max(np.ptp(fit), 1e-12)
    ramp = np.linspace(0.0, 1e-9 * span, fit.size)
    xp = fit + ramp if increasing else -(fit - ramp)
    tgt = np.asarray(target, dtype=float)
    x = tgt if increasing else -tgt
    clipped = (x < xp[0]) | (x > xp[-1])
    return np.interp(x, xp, T), clipped


def estimate_temperature(values, table: pd.DataFrame, observable: str = "energy", *,
                         size=None, n_boot: int = 200, seed: int = 0,
                         table_errors: bool = True) -> dict:
    """Physics temperature estimate: the T whose Monte Carlo ⟨observable⟩ equals mean(values).

    Parameters
    ----------
    values : per-configuration observable values (e.g. energy per site), shape (n,)
    table : observables table, wide (columns temperature, energy, abs_magnetization[, *_err])
        or long (columns temperature, observable, value, error[, L]) as written by
        :func:`coarsegrain.lattice.observables.observables_table`
    observable : "energy" or "abs_magnetization"
    size : select rows with this ``L`` when the table holds several sizes
    n_boot : bootstrap resamples of the configurations (and, if ``table_errors``, Gaussian
        perturbations of the table by its errors)
    seed : bootstrap seed

    Returns
    -------
    dict with temperature, error (bootstrap std), value, value_error, clipped (the mean lay
    outside the table's range, so the estimate is a bound), observable, n
    """
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError("values is empty")
    T, curve, cerr = _curve(table, observable, size)
    t_hat, clipped = invert_curve(T, curve, v.mean())
    rng = make_rng(seed, "physics-thermometer", observable)
    # Hand-written rather than scipy.stats.bootstrap: each replica also perturbs the Monte
    # Carlo curve by its errors (a parametric part), which scipy's resampling cannot express.
    boots = np.empty(n_boot)
    use_err = table_errors and np.all(np.isfinite(cerr))
    for i in range(n_boot):
        m = v[rng.integers(0, v.size, v.size)].mean()
        c = curve + rng.standard_normal(curve.size) * cerr if use_err else curve
        boots[i] = invert_curve(T, c, m)[0]
    return dict(temperature=float(t_hat), error=float(boots.std(ddof=1)) if n_boot > 1 else np.nan,
                value=float(v.mean()),
                value_error=float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else np.nan,
                clipped=bool(clipped), observable=observable, n=int(v.size))


# ----------------------------------------------------------------------------- flows


def _pick(mapping_or_value, shape, what):
    """Entry for lattice ``shape`` from a mapping keyed by shape (or by side length L)."""
    if mapping_or_value is None or not isinstance(mapping_or_value, Mapping):
        return mapping_or_value
    for key in (shape, shape[0], int(np.prod(shape))):
        if key in mapping_or_value:
            return mapping_or_value[key]
    raise ValueError(f"no {what} for lattice shape {shape}; have keys {list(mapping_or_value)}")


def temperature_table(groups: Mapping, *, key: str = "step", thermometer=None,
                      table=None, observables=PHYSICS_OBSERVABLES,
                      observable_fn: Callable | None = observables_ising2d,
                      n_boot: int = 200, seed: int = 0, **labels) -> pd.DataFrame:
    """Temperature estimates for groups of configurations (per flow step, layer or RG step).

    Parameters
    ----------
    groups : mapping key value → configurations (n, *lattice_shape); groups may differ in
        lattice shape (stacked RBM / RG layers)
    key : name of the key column ("step", "layer", ...)
    thermometer : a Thermometer, a mapping lattice shape (or L) → Thermometer, or None to skip
    table : observables table (wide or long, see :func:`estimate_temperature`) or a mapping
        lattice shape (or L) → table, or None to skip the physics estimator
    observables : physics observables to match
    observable_fn : configurations → DataFrame with one column per observable
    n_boot, seed : bootstrap for the physics estimator
    labels : constant columns added to every row (e.g. model="ising2d", source="T0")

    Returns
    -------
    DataFrame with columns <key>, lattice_size, method, temperature, error, spread, clipped, n
    (+ labels). ``method`` is "thermometer" (mean of Σ p T; error = std/√n; spread = std) or
    "thermometer_argmax", or the matched observable; for those, spread is NaN.
    """
    from coarsegrain.flow.thermometer import select_thermometer

    rows = []
    for k, configs in groups.items():
        configs = np.asarray(configs)
        shape = tuple(configs.shape[1:])
        n = configs.shape[0]
        base = {key: k, "lattice_size": int(shape[0])}
        if thermometer is not None:
            th = select_thermometer(thermometer, configs)
            p = th.predict_proba(configs)
            for method, t in (("thermometer", p @ th.temperatures),
                              ("thermometer_argmax", th.temperatures[np.argmax(p, axis=1)])):
                rows.append({**base, "method": method, "temperature": float(t.mean()),
                             "error": float(t.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan,
                             "spread": float(t.std(ddof=1)) if n > 1 else np.nan,
                             "clipped": False, "n": n})
        tab = _pick(table, shape, "observables table")
        if tab is not None and observable_fn is not None:
            obs = observable_fn(configs)
            size = shape[0] if "L" in tab.columns else None
            for o in observables:
                est = estimate_temperature(obs[o].to_numpy(), tab, o, size=size, n_boot=n_boot,
                                           seed=seed)
                rows.append({**base, "method": o, "temperature": est["temperature"],
                             "error": est["error"], "spread": np.nan, "clipped": est["clipped"],
                             "n": n})
    df = pd.DataFrame(rows, columns=[key, "lattice_size", "method", "temperature", "error",
                                     "spread", "clipped", "n"])
    for k, v in labels.items():
        df[k] = v
    return df


def temperature_predictions(groups: Mapping, thermometer, *, key: str = "step",
                            **labels) -> pd.DataFrame:
    """Per-configuration thermometer predictions for each group (the distribution vs step).

    Returns a DataFrame with columns <key>, expected_temperature, argmax_temperature, p_max
    (+ labels).
    """
    from coarsegrain.flow.thermometer import select_thermometer

    frames = []
    for k, configs in groups.items():
        configs = np.asarray(configs)
        df = select_thermometer(thermometer, configs).predict(configs)
        df.insert(0, key, k)
        frames.append(df)
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for k, v in labels.items():
        df[k] = v
    return df


def group_by(configs: np.ndarray, keys: np.ndarray) -> dict:
    """Split configurations (n, ...) into {key: configs with that key}, keys in sorted order."""
    keys = np.asarray(keys)
    return {k.item() if hasattr(k, "item") else k: configs[keys == k] for k in np.unique(keys)}


def layer_temperatures(rbm_layers: Mapping | None = None, rg_layers: Mapping | None = None,
                       **kwargs) -> pd.DataFrame:
    """Temperatures of each layer's output for a stacked RBM and for block-spin RG.

    Parameters
    ----------
    rbm_layers, rg_layers : mapping layer → configurations on that layer's lattice (e.g. from
        :func:`coarsegrain.flow.rbmflow.stack_outputs` and
        :func:`coarsegrain.rg.blockspin.rg_flow`); layer 0 may hold the input
    kwargs : passed to :func:`temperature_table` (thermometer / table mappings per lattice
        size, observable_fn, labels such as model=...)

    Returns
    -------
    the :func:`temperature_table` rows with key "layer" and a column ``kind`` ("rbm" or "rg")
    """
    frames = [temperature_table(groups, key="layer", kind=kind, **kwargs)
              for kind, groups in (("rbm", rbm_layers), ("rg", rg_layers)) if groups]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# ----------------------------------------------------------------------------- Δ references


def delta_fit(configs, operator: str = "spin", *, rmin: int = 1, rmax: int | None = None,
              form: str = "torus", kappa: float = 1.0, n_groups: int = 10, n_boot: int = 100,
              seed: int = 0) -> dict:
    """Δ of one set of configurations with the fit the flow correlator stage uses.

    This is :func:`coarsegrain.analysis.correlators.scaling_dimension` with ``n_groups`` capped
    at the number of configurations; call it for flow steps and Monte Carlo references alike so
    the two are measured the same way (same L, same fit window and form).

    Parameters
    ----------
    configs : (n, L, L) or (n, N) configurations
    operator : "spin" or "energy"
    rmin, rmax, form, kappa, n_groups, n_boot, seed : see ``scaling_dimension``

    Returns
    -------
    the ``scaling_dimension`` dict: delta, delta_err (jackknife), chi2_dof, ..., table
    """
    from coarsegrain.analysis.correlators import scaling_dimension

    configs = np.asarray(configs)
    if configs.ndim < 2 or configs.shape[0] < 2:
        raise ValueError(f"configs must hold >= 2 configurations (n, *lattice); got shape "
                         f"{configs.shape}")
    return scaling_dimension(configs, operator, rmin=int(rmin), rmax=rmax, form=form,
                             kappa=float(kappa), n_groups=min(int(n_groups), configs.shape[0]),
                             n_boot=int(n_boot), seed=int(seed))


def mc_delta_reference(mc_configs: Mapping, temperature: float, temperature_error: float = 0.0,
                       *, operator: str = "spin", lattice_shape=None, **fit) -> dict:
    """Monte Carlo Δ at a flow's end temperature, measured exactly as the flow's Δ is.

    At small L a fitted Δ mostly tracks temperature (at L = 10, Δ_σ goes from ≈ 0.04 at T = 2.0
    to ≈ 0.2 at T = 2.4), so a flow's Δ must be compared with Monte Carlo Δ on the same lattice,
    with the same fit, at the temperature the flow ends at — not with the exact 1/8.

    Method: Δ(T_i) ± σ_i is fitted (:func:`delta_fit`, the same ``fit`` settings as for the
    flow) at every Monte Carlo temperature T_i and interpolated linearly in T to the flow's end
    temperature T_f. Error: the interpolated statistical error √((1−t)² σ_i² + t² σ_{i+1}²)
    and the temperature uncertainty |Δ(T_f + δT) − Δ(T_f − δT)| / 2 added in quadrature.

    Parameters
    ----------
    mc_configs : mapping temperature → Monte Carlo configurations (n, *lattice_shape) at that
        temperature, on the flow's lattice; at least one temperature (two to interpolate)
    temperature : the flow's end temperature T_f (e.g. the calibrated thermometer or the
        energy estimator at the last flow steps)
    temperature_error : its uncertainty δT (>= 0)
    operator : "spin" or "energy"
    lattice_shape : the flow's lattice shape; if given, every Monte Carlo set must match it
    fit : :func:`delta_fit` keywords (rmin, rmax, form, kappa, n_groups, n_boot, seed)

    Returns
    -------
    dict: delta, error, error_stat, error_temperature, temperature, temperature_error,
    extrapolated (T_f ± δT reaches outside the Monte Carlo temperatures: Δ is then clamped to
    the nearest one's), operator, lattice_shape, table (DataFrame, one row per Monte Carlo
    temperature: temperature, delta, delta_err, chi2_dof, n)
    """
    if not isinstance(mc_configs, Mapping) or not mc_configs:
        raise ValueError("mc_configs must be a non-empty mapping temperature -> configurations")
    T_f, dT = float(temperature), float(temperature_error)
    if not np.isfinite(T_f) or T_f <= 0:
        raise ValueError(f"temperature must be a finite number > 0; got {temperature!r}")
    if not np.isfinite(dT) or dT < 0:
        raise ValueError(f"temperature_error must be a finite number >= 0; got "
                         f"{temperature_error!r}")
    rows, shape = [], None if lattice_shape is None else tuple(int(s) for s in lattice_shape)
    for T in sorted(mc_configs, key=float):
        x = np.asarray(mc_configs[T])
        if shape is None:
            shape = tuple(x.shape[1:])
        if tuple(x.shape[1:]) != shape:
            raise ValueError(f"Monte Carlo configurations at T={T} have lattice shape "
                             f"{tuple(x.shape[1:])}; expected {shape} (the flow's lattice)")
        res = delta_fit(x, operator, **fit)
        rows.append({"temperature": float(T), "delta": float(res["delta"]),
                     "delta_err": float(res["delta_err"]),
                     "chi2_dof": float(res.get("chi2_dof", np.nan)), "n": int(x.shape[0])})
    table = pd.DataFrame(rows)
    Ts, D, E = (table[c].to_numpy(float) for c in ("temperature", "delta", "delta_err"))

    def interp(t):
        if Ts.size == 1:
            return D[0], E[0]
        i = int(np.clip(np.searchsorted(Ts, t) - 1, 0, Ts.size - 2))
        w = float(np.clip((t - Ts[i]) / (Ts[i + 1] - Ts[i]), 0.0, 1.0))
        return (1 - w) * D[i] + w * D[i + 1], float(np.hypot((1 - w) * E[i], w * E[i + 1]))

    delta, err_stat = interp(T_f)
    err_T = abs(interp(T_f + dT)[0] - interp(T_f - dT)[0]) / 2 if dT > 0 else 0.0
    return {"delta": float(delta), "error": float(np.hypot(err_stat, err_T)),
            "error_stat": float(err_stat), "error_temperature": float(err_T),
            "temperature": T_f, "temperature_error": dT,
            "extrapolated": bool(T_f - dT < Ts[0] or T_f + dT > Ts[-1]),
            "operator": operator, "lattice_shape": list(shape), "table": table}


def compare_delta(flow_delta: float, flow_error: float, reference: Mapping) -> dict:
    """Difference between a flow's Δ and its Monte Carlo reference (:func:`mc_delta_reference`).

    Returns
    -------
    dict: difference (flow − reference), error (both errors in quadrature), n_sigma
    (|difference| / error; inf when the error is 0 and the difference is not), reference,
    reference_error, extrapolated
    """
    diff = float(flow_delta) - float(reference["delta"])
    err = float(np.hypot(float(flow_error), float(reference["error"])))
    n_sigma = abs(diff) / err if err > 0 else (0.0 if diff == 0 else np.inf)
    return {"difference": diff, "error": err, "n_sigma": float(n_sigma),
            "reference": float(reference["delta"]), "reference_error": float(reference["error"]),
            "extrapolated": bool(reference.get("extrapolated", False))}


def calibrated_rows(table: pd.DataFrame, calibration, *, method: str = "thermometer"
                    ) -> pd.DataFrame:
    """Append bias-corrected thermometer rows to a :func:`temperature_table` result.

    Parameters
    ----------
    table : rows from :func:`temperature_table` / :func:`layer_temperatures`
    calibration : a :class:`coarsegrain.flow.thermometer.CalibrationMap`, or a mapping lattice
        size L → CalibrationMap (the thermometer of each lattice size has its own)
    method : the rows to correct

    Returns
    -------
    ``table`` plus, for every ``method`` row, a row with method ``<method>_calibrated``:
    temperature and error from :meth:`CalibrationMap.correct`, spread = the calibrated
    single-configuration resolution at that temperature, clipped = the reading lay beyond the
    thermometer's unsaturated range (the value is then a bound).
    """
    rows = table[table["method"] == method]
    if rows.empty:
        return table
    out = []
    for size, grp in rows.groupby("lattice_size", sort=True):
        cal = (calibration[int(size)] if isinstance(calibration, Mapping) else calibration)
        c = cal.correct(grp["temperature"].to_numpy(float), grp["error"].to_numpy(float))
        new = grp.copy()
        new["method"] = f"{method}_calibrated"
        new["temperature"] = c["temperature"].to_numpy()
        new["error"] = c["error"].to_numpy()
        new["spread"] = cal.resolution(c["temperature"].to_numpy())
        new["clipped"] = c["clipped"].to_numpy()
        out.append(new)
    return pd.concat([table, *out], ignore_index=True)
