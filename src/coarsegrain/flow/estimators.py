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
