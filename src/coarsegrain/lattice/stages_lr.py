"""Long-range chain samples on a temperature grid (for thermometers and temperature estimators).

Merged into ``coarsegrain.lattice.stages.STAGES`` (called as ``lattice.<name>``):

- ``sample-longrange``: one (σ, N), Luijten–Blöte cluster samples at every grid temperature →
  one spin file per temperature and an observables table (E, |m|, C, χ, U4 with errors). The
  grid is either absolute temperatures or ratios T/T_c relative to the measured T_c artifact of
  ``lattice.mc-critical-longrange``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from coarsegrain import io
from coarsegrain.cli import StageContext

GRIDS = ("relative", "absolute")


def grid_temperatures(points, grid: str = "relative", tc: float | None = None) -> np.ndarray:
    """Temperatures of a grid: ``points`` themselves (absolute) or ``points × tc`` (relative).

    Raises ValueError for an unknown ``grid``, non-positive points, or a relative grid without
    a finite positive ``tc``.
    """
    pts = np.asarray(points, dtype=np.float64).ravel()
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}; got {grid!r}")
    if pts.size == 0 or not np.all(np.isfinite(pts)) or np.any(pts <= 0):
        raise ValueError(f"grid points must be finite and > 0; got {pts.tolist()}")
    if grid == "absolute":
        return pts
    if tc is None or not math.isfinite(tc) or tc <= 0:
        raise ValueError(f"a relative temperature grid needs a finite T_c > 0; got tc={tc!r} "
                         "(the Binder curves did not cross: widen the scan or add samples)")
    return pts * float(tc)


def _read_tc(path, sigma: float) -> tuple[float, float]:
    cross, _ = io.read_table(path)
    if "sigma" in cross.columns:
        cross = cross[np.isclose(cross["sigma"], sigma)]
    if cross.empty:
        raise ValueError(f"{path}: no T_c row for sigma={sigma:g}")
    return float(cross["tc_estimate"].iloc[0]), float(cross["tc_error"].iloc[0])


def sample_longrange_grid(ctx: StageContext) -> None:
    """One (σ, N) on a temperature grid; one spin file per grid point.

    Inputs: ``tc`` (T_c artifact, a crossings table with tc_estimate, tc_error; required for a
    relative grid). Outputs: ``spins`` (one path per grid point, in the order of ``points``),
    ``table`` (optional: observables of every grid point, columns as
    :func:`coarsegrain.lattice.longrange.observables_table` plus tau_int, thin, temperature_ratio).
    Params: sigma, N, grid ("relative" | "absolute"), points (ratios T/T_c or temperatures),
    n_samples, n_chains (optional), images, seed.
    """
    from coarsegrain.lattice.longrange import observables_table, sample_longrange

    p = ctx.params
    sigma, N = float(p["sigma"]), int(p["N"])
    grid = p.get("grid", "relative")
    tc, tc_err = (_read_tc(ctx.input("tc"), sigma) if "tc" in ctx.inputs
                  else (math.nan, math.nan))
    temps = grid_temperatures(p["points"], grid, tc if grid == "relative" else None)
    outs = ctx.outputs["spins"]
    if len(outs) != temps.size:
        raise ValueError(f"{len(outs)} spin outputs for {temps.size} grid points")
    images = p.get("images", "ewald")
    tables = []
    for point, T, out in zip(p["points"], temps, outs, strict=True):
        res = sample_longrange(N, sigma, float(T), int(p["n_samples"]), seed=int(p["seed"]),
                               images=images, n_chains=p.get("n_chains"), progress=True)
        info = {k: v for k, v in res.info.items() if not isinstance(v, dict)}
        ratio = float(T / tc) if math.isfinite(tc) else math.nan
        info.update(model="longrange", size=[N], sigma=sigma, images=images,
                    temperature=float(T), temperature_ratio=ratio, tc=tc, tc_error=tc_err,
                    grid=grid, grid_point=float(point))
        io.write_spins(res.configs, out, ctx.provenance(**info), columns={"chain": res.chain})
        tab = observables_table(res.configs, float(T), sigma, images)
        tab["temperature_ratio"] = ratio
        for key in ("tau_int", "thin", "n_thermalize", "sampler"):
            tab[key] = res.info.get(key)
        tables.append(tab)
        ctx.log.info("sigma=%g N=%d T=%.4f (T/T_c=%.3f): tau_int=%.2f thin=%s, <|m|>=%.3f",
                     sigma, N, T, ratio, res.info.get("tau_int", math.nan), res.info.get("thin"),
                     float(np.abs(res.configs.mean(axis=1)).mean()))
    if "table" in ctx.outputs:
        io.write_table(pd.concat(tables, ignore_index=True), ctx.output("table"),
                       ctx.provenance(model="longrange", sigma=sigma, size=[N], tc=tc,
                                      tc_error=tc_err, images=images))


STAGES = {
    "sample-longrange": sample_longrange_grid,
}
