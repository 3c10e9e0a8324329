"""Monte Carlo engine stages: cluster-sampled critical points and correlators.

Called as ``python -m coarsegrain montecarlo.<name>`` (``workflow/rules/montecarlo.smk``):

- ``mc-scan-ising2d``: one L, a temperature grid around T_c, cluster/Metropolis by ``sampler``
  (``auto`` = Wolff inside ``window`` of T_c) → observables table with τ_int per T.
- ``mc-critical-ising2d``: Binder crossings of the scans → T_c artifact + claims.
- ``mc-critical-longrange``: one σ: coarse-then-fine Binder scan over several N → observables,
  crossings, T_c artifact + claims (T_c below the mean-field bound 2ζ(1+σ)).
- ``mc-correlators``: samples at T_c (2D: Onsager's T_c; long range: the measured T_c artifact),
  spin and connected energy correlators with power-law fits → spins, correlator and fit tables,
  claims (Δ_σ, and Δ_ε in 2D).

Called as ``python -m coarsegrain montecarlo.<name>`` (``workflow/rules/montecarlo.smk``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coarsegrain import io
from coarsegrain.cli import StageContext

RUN_KEYS = ("tau_int", "tau_int_error", "tau_reliable", "thin", "n_thermalize", "n_pilot",
            "n_chains", "sampler", "clusters_per_sweep")


def _tau_meta(runs: pd.DataFrame, size_key: str) -> list[dict]:
    cols = [c for c in (size_key, "temperature", *RUN_KEYS) if c in runs.columns]
    return runs[cols].to_dict(orient="records")


def mc_scan_ising2d(ctx: StageContext) -> None:
    """Params: L, temperatures, n_samples, sampler ("auto"|"wolff"|"metropolis"), window, seed,
    device. Output ``table``: tidy observables with tau_int, thin, sampler per temperature."""
    from coarsegrain.lattice.cluster import scan_ising2d

    p = ctx.params
    table, runs = scan_ising2d([int(p["L"])], [float(t) for t in p["temperatures"]],
                               int(p["n_samples"]), sampler=p["sampler"], seed=int(p["seed"]),
                               window=float(p["window"]), device=ctx.device, progress=True)
    for r in runs.itertuples():
        ctx.log.info("L=%d T=%.4f %s tau_int=%.2f thin=%d", r.L, r.temperature, r.sampler,
                     r.tau_int, r.thin)
    io.write_table(table, ctx.output("table"),
                   ctx.provenance(model="ising2d", size=[int(p["L"])] * 2,
                                  tau_int=_tau_meta(runs, "L")))


def mc_critical_ising2d(ctx: StageContext) -> None:
    """Binder crossings of all ``observables`` tables → ``crossings`` (L1, L2, t_cross, error,
    tc_estimate, tc_error) and ``claims``. Params: n_largest, seed, rel_tol."""
    from coarsegrain.analysis.critical import binder_crossings, estimate_tc
    from coarsegrain.claims.measure import measurement, measurements_frame
    from coarsegrain.lattice.ising2d import T_CRITICAL

    p = ctx.params
    obs = pd.concat([io.read_table(f)[0] for f in ctx.inputs["observables"]], ignore_index=True)
    cross = binder_crossings(obs, seed=int(p["seed"]))
    tc, err = estimate_tc(cross, n_largest=int(p["n_largest"]))
    cross["tc_estimate"], cross["tc_error"] = tc, err
    sizes = sorted(int(x) for x in obs["L"].unique())
    io.write_table(cross, ctx.output("crossings"), ctx.provenance(model="ising2d", sizes=sizes))
    ctx.log.info("cluster Binder crossing T_c = %.5f ± %.5f (exact %.5f)", tc, err, T_CRITICAL)
    rows = [measurement("mc/ising2d/tc_binder", tc, err, n=len(cross),
                        tolerance=float(p["rel_tol"]) * T_CRITICAL,
                        tolerance_source=f"montecarlo.ising2d.rel_tol = {float(p['rel_tol']):g}",
                        detail=f"Binder crossings of cluster-sampled sizes {sizes}, "
                               f"{int(p['n_largest'])} largest pair(s)")]
    io.write_table(measurements_frame(rows), ctx.output("claims"), ctx.provenance())


def mc_critical_longrange(ctx: StageContext) -> None:
    """One σ: :func:`coarsegrain.lattice.longrange.locate_tc`. Outputs ``observables`` (fine
    scan, all N), ``crossings`` (pairwise crossings with tc_estimate, tc_error, sigma,
    mean_field_tc, the T_c artifact used downstream) and ``claims``.
    Params: sigma, sizes, n_samples, images, coarse_points, fine_points, fine_halfwidth,
    n_largest, seed."""
    from coarsegrain.claims.measure import measurements_frame
    from coarsegrain.lattice.longrange import locate_tc

    p = ctx.params
    sigma = float(p["sigma"])
    res = locate_tc(sigma, [int(n) for n in p["sizes"]], int(p["n_samples"]),
                    seed=int(p["seed"]), images=p["images"],
                    coarse_points=int(p["coarse_points"]), fine_points=int(p["fine_points"]),
                    fine_halfwidth=float(p["fine_halfwidth"]), n_largest=int(p["n_largest"]),
                    progress=True)
    meta = ctx.provenance(model="longrange", sigma=sigma, images=p["images"],
                          tau_int=_tau_meta(res["runs"], "N"))
    io.write_table(res["table"], ctx.output("observables"), meta)
    cross = res["crossings"].copy()
    cross["sigma"] = sigma
    cross["tc_estimate"], cross["tc_error"] = res["t_c"], res["error"]
    cross["mean_field_tc"] = res["mean_field_tc"]
    cross["coarse_estimate"] = res["t0"]
    io.write_table(cross, ctx.output("crossings"), meta)
    ctx.log.info("sigma=%g: T_c = %.4f ± %.4f (coarse %.4f, mean-field bound %.4f)", sigma,
                 res["t_c"], res["error"], res["t0"], res["mean_field_tc"])
    # No claim: "T_c below the mean-field bound" could not realistically fail. T_c is an artifact
    # that the correlator claims at T_c test indirectly.
    io.write_table(measurements_frame([]), ctx.output("claims"), ctx.provenance())


def mc_correlators(ctx: StageContext) -> None:
    """Samples at T_c and their correlators.

    Params: model ("ising2d"|"longrange"), size, n_samples, sigma (long range), images, fit
    (dict: spin_rmin, energy_rmin, form, kappa — see
    :func:`coarsegrain.analysis.correlators.fit_power_law`), n_groups, seed, device. Input ``tc`` (long
    range only): a crossings table from ``mc-critical-longrange``. Outputs: ``spins`` (with
    tau_int in the metadata), ``correlators`` (operator, r, value, error), ``fits`` (operator,
    delta, delta_err, amplitude, chi2_dof, rmin, rmax, form, reference), ``claims``.
    """
    from coarsegrain.analysis.correlators import scaling_dimension
    from coarsegrain.claims.measure import measurement, measurements_frame

    p = ctx.params
    model, size, seed = p["model"], int(p["size"]), int(p["seed"])
    fit = p["fit"]
    if model == "ising2d":
        from coarsegrain.lattice.cluster import sample_ising2d
        from coarsegrain.lattice.ising2d import T_CRITICAL

        T, T_err = T_CRITICAL, 0.0
        res = sample_ising2d(size, T, int(p["n_samples"]), sampler="auto", seed=seed,
                             device=ctx.device, progress=True)
        refs = {"spin": 0.125, "energy": 1.0}
        tag, extra = f"ising2d_L{size}", {"size": [size, size]}
    elif model == "longrange":
        from coarsegrain.lattice.longrange import sample_longrange

        sigma = float(p["sigma"])
        cross, _ = io.read_table(ctx.input("tc"))
        T, T_err = float(cross["tc_estimate"].iloc[0]), float(cross["tc_error"].iloc[0])
        if not np.isfinite(T):
            raise ValueError(f"no finite T_c in {ctx.input('tc')} (Binder curves did not cross); "
                             "widen the temperature scan or add samples")
        res = sample_longrange(size, sigma, T, int(p["n_samples"]), seed=seed, images=p["images"],
                               progress=True)
        refs = {"spin": (1 - sigma) / 2}
        tag, extra = f"longrange_s{sigma:g}_N{size}", {"size": [size], "sigma": sigma,
                                                        "images": p["images"]}
    else:
        raise ValueError(f"model must be 'ising2d' or 'longrange'; got {model!r}")
    info = {k: v for k, v in res.info.items() if not isinstance(v, dict)}
    info.update(model=model, temperature=T, temperature_error=T_err, **extra)
    meta = ctx.provenance(**info)
    io.write_spins(res.configs, ctx.output("spins"), meta, columns={"chain": res.chain})
    tables, fits, rows = [], [], []
    for op in ("spin", "energy"):
        rmin = int(fit["spin_rmin"] if op == "spin" else fit["energy_rmin"])
        form, kappa = fit["form"], float(fit["kappa"])
        # The connected energy correlator is within noise of 0 beyond ~L/4, where leave-out
        # fits then fail (NaN jackknife error at L = 64 and 128): fit it up to L/4.
        rmax = size // 4 if op == "energy" else None
        r = scaling_dimension(res.configs, op, rmin=rmin, rmax=rmax, form=form, kappa=kappa,
                              n_groups=int(p["n_groups"]), seed=seed)
        t = r.pop("table")
        t.insert(0, "operator", op)
        tables.append(t)
        fits.append({"operator": op, **r, "reference": refs.get(op, np.nan), "temperature": T,
                     "size": size, "L": size})
        ctx.log.info("%s %s: Delta = %.4f ± %.4f (fit %s, chi2/dof %.2f)", tag, op, r["delta"],
                     r["delta_err"], form, r["chi2_dof"])
        if op in refs:
            cid = (f"mc/ising2d/L{size}/delta_{op}" if model == "ising2d"
                   else f"mc/longrange/s{sigma:g}/N{size}/delta_{op}")
            rows.append(measurement(
                cid, r["delta"], r["delta_err"], reference=refs[op], chi2_dof=r["chi2_dof"],
                n=len(res.configs),
                detail=f"{form} fit of the {'connected ' if op == 'energy' else ''}{op} "
                       f"correlator, r in [{r['rmin']}, {r['rmax']}], jackknife error over "
                       f"{int(p['n_groups'])} groups; T = {T:.5f}"))
    io.write_table(pd.concat(tables, ignore_index=True), ctx.output("correlators"), meta)
    io.write_table(pd.DataFrame(fits), ctx.output("fits"), meta)
    io.write_table(measurements_frame(rows), ctx.output("claims"), ctx.provenance())


def _read_all(paths) -> pd.DataFrame:
    return pd.concat([io.read_table(f)[0] for f in paths], ignore_index=True)


def _reference(p: dict):
    ref = p.get("reference")
    return (float(ref) if ref is not None else None), p.get("reference_label", "")


def stage_observables(ctx: StageContext) -> None:
    """Params: title, size_label, reference, reference_label, pdf."""
    p = ctx.params
    ref, label = _reference(p)
    fig = _plots().observables_figure(_read_all(ctx.inputs["observables"]), p["title"],
                             p.get("size_label", "L"), ref, label)
    save_figure(fig, ctx.output("figure"), pdf=p.get("pdf", True))


def stage_binder(ctx: StageContext) -> None:
    """Inputs observables (list), crossings. Params as :func:`stage_observables`."""
    p = ctx.params
    ref, label = _reference(p)
    cross, _ = io.read_table(ctx.input("crossings"))
    fig = _plots().binder_figure(_read_all(ctx.inputs["observables"]), cross, p["title"],
                        p.get("size_label", "L"), ref, label)
    save_figure(fig, ctx.output("figure"), pdf=p.get("pdf", True))


def stage_correlators(ctx: StageContext) -> None:
    """Inputs correlators, fits. Params: title, pdf."""
    p = ctx.params
    corr, _ = io.read_table(ctx.input("correlators"))
    fits, _ = io.read_table(ctx.input("fits"))
    save_figure(_plots().correlators_figure(corr, fits, p["title"]), ctx.output("figure"),
                pdf=p.get("pdf", True))


STAGES = {
    "mc-scan-ising2d": mc_scan_ising2d,
    "mc-critical-ising2d": mc_critical_ising2d,
    "mc-critical-longrange": mc_critical_longrange,
    "mc-correlators": mc_correlators,
    "figure-observables": stage_observables,
    "figure-binder": stage_binder,
    "figure-correlators": stage_correlators,
}


def _plots():
    """coarsegrain.plots.montecarlo, imported only by figure stages (start-up cost)."""
    from coarsegrain.plots import montecarlo

    return montecarlo


def save_figure(*args, **kwargs):
    from coarsegrain.plots.style import save_figure as save

    return save(*args, **kwargs)
