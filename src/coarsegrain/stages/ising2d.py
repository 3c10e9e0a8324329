"""Entry points of ``workflow/rules/ising2d.smk``: 2D Ising sampling on the temperature grid,
observables, exact curves, Binder crossings and their figures.

Called as ``python -m coarsegrain ising2d.<name>``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coarsegrain import io
from coarsegrain.cli import StageContext


def sample_ising2d(ctx: StageContext) -> None:
    """Sample one lattice size at every configured temperature; one spin file per temperature.

    Each temperature gets the full sampling discipline of
    :func:`coarsegrain.lattice.cluster.sample_ising2d`: Wolff near T_c and checkerboard Metropolis
    elsewhere (``sampler: auto``), thermalisation, τ_int measured in a pilot run, thinning by
    ⌈2 τ_int⌉, a random global flip per stored configuration. τ_int and the rest go in the metadata.

    Params: L, temperatures (list, same order as the ``spins`` outputs), n_samples, sampler,
    window, thin ("auto" or sweeps), seed, device.
    """
    from coarsegrain.lattice.cluster import sample_ising2d as sample

    p = ctx.params
    temps = [float(t) for t in p["temperatures"]]
    outs = ctx.outputs["spins"]
    if len(outs) != len(temps):
        raise ValueError(f"{len(outs)} spin outputs for {len(temps)} temperatures")
    for T, out in zip(temps, outs, strict=True):
        res = sample(p["L"], T, p["n_samples"], sampler=p.get("sampler", "auto"), seed=p["seed"],
                     device=ctx.device, window=p.get("window", 0.5), thin=p.get("thin", "auto"))
        meta = ctx.provenance(**{**res.info, "model": "ising2d", "size": [p["L"], p["L"]],
                                 "temperature": T, "seed": p["seed"]})
        io.write_spins(res.configs, out, meta, columns={"chain": res.chain})
        ctx.log.info("T=%.4f: %s, tau_int=%.2f sweeps, thin=%s, <e>=%.4f", T, res.info["sampler"],
                     res.info["tau_int"], res.info["thin"], res.observables["energy"].mean()
                     if "energy" in res.observables else float("nan"))


def observables_ising2d(ctx: StageContext) -> None:
    """Observables table (E, |m|, C, χ, U4 with jackknife errors) for every spin file given."""
    from coarsegrain.lattice.observables import observables_table

    frames = []
    for path in ctx.inputs["spins"]:
        spins, meta = io.read_spins(path)
        # Stored configurations are thinned by 2 τ_int, so jackknife over contiguous blocks in
        # time (rows are ordered by time, then chain); a Wolff run has only a few chains.
        frames.append(observables_table(spins, meta["temperature"], chain=None,
                                        n_blocks=ctx.params.get("n_blocks", 20)))
    df = pd.concat(frames, ignore_index=True).sort_values(["L", "temperature", "observable"])
    io.write_table(df, ctx.output("table"), ctx.provenance(model="ising2d"))


def exact_ising2d(ctx: StageContext) -> None:
    """Exact curves: finite-L energy and specific heat (Kaufman), Onsager |m| and energy (L=∞)."""
    from coarsegrain.lattice import exact

    p = ctx.params
    grid = np.linspace(p["tmin"], p["tmax"], p["n"])
    rows = []
    for L in p["sizes"]:
        th = exact.finite_size_thermo(grid, L)
        for name in ("energy", "specific_heat"):
            rows.append(pd.DataFrame({"L": L, "temperature": grid, "observable": name, "value": th[name]}))
    rows.append(pd.DataFrame({"L": -1, "temperature": grid, "observable": "abs_magnetization",
                              "value": exact.onsager_magnetization(grid)}))
    rows.append(pd.DataFrame({"L": -1, "temperature": grid, "observable": "energy",
                              "value": exact.onsager_energy(grid)}))
    io.write_table(pd.concat(rows, ignore_index=True), ctx.output("table"),
                   ctx.provenance(model="ising2d"))


def critical_ising2d(ctx: StageContext) -> None:
    """Binder crossings → T_c, and measurements for the claims T_c vs Onsager and sampled E(T)
    vs exact finite-L E(T)."""
    from coarsegrain.analysis.critical import binder_crossings, estimate_tc
    from coarsegrain.claims.measure import measurement, measurements_frame
    from coarsegrain.lattice import exact

    p = ctx.params
    obs = pd.concat([io.read_table(f)[0] for f in ctx.inputs["observables"]], ignore_index=True)
    cross = binder_crossings(obs, t_window=tuple(p["binder_window"]), seed=p["seed"])
    tc, tc_err = estimate_tc(cross, n_largest=1)
    cross["tc_estimate"], cross["tc_error"] = tc, tc_err
    io.write_table(cross, ctx.output("crossings"), ctx.provenance(model="ising2d"))
    ctx.log.info("Binder crossing T_c = %.5f ± %.5f (exact %.5f)", tc, tc_err, exact.T_CRITICAL)

    sizes = sorted(int(x) for x in obs["L"].unique())
    rows = [measurement("ising2d/tc_binder", tc, tc_err, n=len(cross),
                        detail=f"crossing of the two largest sizes; sizes {sizes}")]
    e = obs[(obs["observable"] == "energy") & (obs["temperature"] > 0.05)]
    for L, d in e.groupby("L"):
        ex = exact.finite_size_thermo(d["temperature"].to_numpy(), int(L))["energy"]
        z = (d["value"].to_numpy() - ex) / d["error"].to_numpy()
        ok = np.isfinite(z) & (d["error"].to_numpy() > 0)
        chi2 = float(np.mean(z[ok] ** 2)) if ok.any() else float("nan")
        n = int(ok.sum())
        rows.append(measurement(
            f"ising2d/energy_chi2dof/L{int(L)}", chi2, np.sqrt(2.0 / max(n, 1)), n=n,
            detail=f"{n} temperatures, max |z| = "
                   f"{np.nanmax(np.abs(z[ok])) if n else float('nan'):.2f}"))
    io.write_table(measurements_frame(rows), ctx.output("claims"), ctx.provenance())


def ising2d_thermodynamics(ctx: StageContext) -> None:
    from coarsegrain.lattice.ising2d import T_CRITICAL
    from coarsegrain.plots.thermo import thermodynamics_figure

    obs = pd.concat([io.read_table(f)[0] for f in ctx.inputs["observables"]], ignore_index=True)
    exact, _ = io.read_table(ctx.input("exact"))
    save_figure(thermodynamics_figure(obs, exact, T_CRITICAL), ctx.output("figure"),
                pdf=ctx.params.get("pdf", True))

def ising2d_binder(ctx: StageContext) -> None:
    from coarsegrain.lattice.ising2d import T_CRITICAL
    from coarsegrain.plots.thermo import binder_figure

    obs = pd.concat([io.read_table(f)[0] for f in ctx.inputs["observables"]], ignore_index=True)
    w = ctx.params["binder_window"]
    obs = obs[(obs["temperature"] >= w[0]) & (obs["temperature"] <= w[1])]
    cross, _ = io.read_table(ctx.input("crossings"))
    tc = float(cross["tc_estimate"].iloc[0]) if len(cross) else float("nan")
    err = float(cross["tc_error"].iloc[0]) if len(cross) else float("nan")
    save_figure(binder_figure(obs, cross, tc, err, T_CRITICAL), ctx.output("figure"),
                pdf=ctx.params.get("pdf", True))


STAGES = {
    "sample-ising2d": sample_ising2d,
    "observables-ising2d": observables_ising2d,
    "exact-ising2d": exact_ising2d,
    "critical-ising2d": critical_ising2d,
    "figure-thermodynamics": ising2d_thermodynamics,
    "figure-binder": ising2d_binder,
}


def save_figure(*args, **kwargs):
    """coarsegrain.plots.style.save_figure, imported only when a figure is saved (start-up cost)."""
    from coarsegrain.plots.style import save_figure as save

    return save(*args, **kwargs)
