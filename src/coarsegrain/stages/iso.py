"""Workflow stages of the Iso et al. protocol (``python -m coarsegrain iso.<name>``).

The protocol (Iso, Shiba & Yokoo, PRE 97, 053304, 2018, as publicly reproduced by Veiga &
Vicente, arXiv:2006.10176): {0,1} RBMs without biases trained by CD-1 on a uniform temperature
grid at L = 10 ("all") or only on T = 4..6 ("high_t") or T ~ 0 ("zero_t"), flowed from all-up and
random starts, the flowed configurations read by an MLP thermometer trained on the same grid.
Data, RBMs and thermometers come from the ``ising2d``, ``rbm`` and ``flows`` stages
(``workflow/rules/iso.smk``); this module flows the three models of one seed in one job, turns the
end temperatures into claim measurements, and draws the flows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from coarsegrain import io
from coarsegrain.cli import StageContext

#: Models of the protocol, in the order of figures and claims.
ISO_MODELS = ("all", "high_t", "zero_t")
_MODEL_LABELS = {"all": "trained on every grid T", "high_t": "trained on T = 4…6 only",
                 "zero_t": "trained at T ≈ 0 only"}
_START_LABELS = {"T0": "from T = 0 (all up)", "Tinf": "from T = ∞ (random)"}


def _names(ctx: StageContext, name: str) -> list[str]:
    """Model names of the ``name`` inputs (params ``models``, same order)."""
    paths = ctx.inputs[name]
    models = list(ctx.params.get("models", ISO_MODELS))
    if len(models) != len(paths):
        raise ValueError(f"params.models names {len(models)} models for {len(paths)} {name} "
                         "inputs")
    return models


def flow_temperatures(ctx: StageContext) -> None:
    """Flow every RBM of one seed from each start and read the temperature at every step.

    Inputs: ``rbms`` (checkpoints, named by params ``models``), ``thermometer`` (checkpoint at
    the RBMs' lattice), ``observables`` (Monte Carlo observables table of the grid: the energy
    estimator's reference).
    Outputs: ``temperatures`` (iso_model, source, step, method, temperature, error, spread,
    clipped, n: the thermometer's expected temperature and the matched-energy and matched-|m|
    temperatures), ``observables`` (iso_model, source, step, observable, value, error, n).
    Params: models, steps (the flow runs steps 1..steps; step 0 is the start), starts (T0,
    Tinf), n_chains, n_boot, seed, device.
    """
    from coarsegrain.flow.estimators import group_by, observables_ising2d, temperature_table
    from coarsegrain.flow.rbmflow import flow_from_starts
    from coarsegrain.flow.thermometer import Thermometer
    from coarsegrain.rbm import RBM

    p = ctx.params
    seed = int(p["seed"])
    n_steps, n = int(p["steps"]), int(p["n_chains"])
    starts = list(p.get("starts", ["T0", "Tinf"]))
    if n_steps < 1 or n < 2:
        raise ValueError(f"params steps = {n_steps} and n_chains = {n} must be >= 1 and >= 2")
    th = Thermometer.load(ctx.input("thermometer"), device=ctx.device)
    table, _ = io.read_table(ctx.input("observables"))
    temps, obs_rows = [], []
    for model, path in zip(_names(ctx, "rbms"), ctx.inputs["rbms"], strict=True):
        rbm = RBM.load(path, device=ctx.device)
        shape = tuple(th.lattice_shape)
        if rbm.W.shape[0] != math.prod(shape):
            raise ValueError(f"{path}: {rbm.W.shape[0]} visible units, but the thermometer reads "
                             f"{shape} lattices")
        results = flow_from_starts(rbm, shape, n, starts=starts, steps=range(1, n_steps + 1),
                                   seed=seed)
        for r in results:
            groups = group_by(r.configs.reshape(-1, *shape), np.repeat(r.steps, n))
            temps.append(temperature_table(
                groups, key="step", thermometer=th, table=table, n_boot=int(p.get("n_boot", 200)),
                seed=seed, source=r.source, iso_model=model))
            for step, g in groups.items():
                o = observables_ising2d(g)
                for name in o.columns:
                    v = o[name].to_numpy(float)
                    obs_rows.append({"iso_model": model, "source": r.source, "step": int(step),
                                     "observable": name, "value": float(v.mean()),
                                     "error": float(v.std(ddof=1) / math.sqrt(v.size)),
                                     "n": int(v.size)})
        end = temps[-len(results):]
        for t in end:
            last = t[(t["method"] == "thermometer") & (t["step"] == n_steps)]
            ctx.log.info("%s from %s: thermometer T = %.3f at step %d", model,
                         t["source"].iloc[0], float(last["temperature"].iloc[0]), n_steps)
    prov = ctx.provenance(model="ising2d", protocol="Iso et al.", size=list(th.lattice_shape))
    io.write_table(pd.concat(temps, ignore_index=True), ctx.output("temperatures"), prov)
    io.write_table(pd.DataFrame(obs_rows), ctx.output("observables"), prov)


def end_temperature(d: pd.DataFrame, n_tail: int) -> tuple[float, float]:
    """Mean temperature of the last ``n_tail`` steps of one flow, and its error.

    The steps follow the same chains, so their errors are not independent: the error combines
    the root-mean-square of the steps' own standard errors with the scatter between the steps
    (their standard deviation), neither divided by √n_tail.
    """
    d = d.sort_values("step").tail(int(n_tail))
    v, e = d["temperature"].to_numpy(float), d["error"].to_numpy(float)
    if v.size == 0:
        return math.nan, math.nan
    scatter = float(np.std(v, ddof=1)) if v.size > 1 else 0.0
    return float(v.mean()), math.hypot(math.sqrt(float(np.nanmean(e**2))), scatter)


def claim_rows(temps: pd.DataFrame, response: pd.DataFrame | None, *, replicate: int,
               n_tail: int, method: str = "thermometer", n_updates: dict | None = None,
               temperatures: dict | None = None) -> list[dict]:
    """Measurements ``iso/{model}/end_temperature/{start}`` of one training seed.

    Parameters
    ----------
    temps : table from :func:`flow_temperatures` (iso_model, source, step, method, temperature,
        error)
    response : the thermometer's calibration response table; its resolution at T_c (in
        true-temperature units, :meth:`coarsegrain.flow.thermometer.CalibrationMap.resolution`)
        is the measured tolerance of every row (None or not finite: the registry's stated one)
    replicate : training-seed index
    n_tail : flow steps averaged into the end temperature
    method : temperature estimator read (the protocol's: the thermometer)
    n_updates, temperatures : per model, training updates and training temperatures, recorded
        in each row's detail

    Returns
    -------
    list of measurement dicts (reference: Onsager's T_c)
    """
    from coarsegrain.claims.measure import measurement
    from coarsegrain.lattice.ising2d import T_CRITICAL

    tol, tol_src = math.nan, ""
    if response is not None and len(response):
        from coarsegrain.flow.thermometer import CalibrationMap

        res = float(np.asarray(CalibrationMap(response).resolution(T_CRITICAL)).ravel()[0])
        if math.isfinite(res):
            tol, tol_src = res, (f"thermometer resolution at T_c, {res:.3g}, from its held-out "
                                 "calibration (this seed)")
    rows = []
    d_all = temps[temps["method"] == method]
    for model in [m for m in ISO_MODELS if m in set(d_all["iso_model"])]:
        dm = d_all[d_all["iso_model"] == model]
        train = ""
        if n_updates and model in n_updates:
            train += f"; {int(n_updates[model])} CD updates"
        if temperatures and model in temperatures:
            ts = temperatures[model]
            train += f" on T = {min(ts):g}…{max(ts):g} ({len(ts)} temperatures)"
        for start, d in dm.groupby("source", sort=True):
            v, e = end_temperature(d, n_tail)
            rows.append(measurement(
                f"iso/{model}/end_temperature/{start}", v, e, seed=replicate,
                reference=T_CRITICAL, tolerance=tol, tolerance_source=tol_src,
                n=int(d["n"].iloc[0]) if "n" in d else 0,
                detail=f"{method} temperature, mean of the last {n_tail} of "
                       f"{int(d['step'].max())} flow steps{train}"))
    return rows


def claims(ctx: StageContext) -> None:
    """Claim measurements of one training seed (see :func:`claim_rows`).

    Inputs: ``temperatures`` (from :func:`flow_temperatures`), ``response`` (the thermometer's
    calibration response table, optional). Outputs: ``claims``.
    Params: replicate, tail_steps, method, n_updates and temperatures (per model, for the rows'
    details).
    """
    from coarsegrain.claims.measure import measurements_frame

    p = ctx.params
    temps, _ = io.read_table(ctx.input("temperatures"))
    response = io.read_table(ctx.input("response"))[0] if ctx.inputs.get("response") else None
    rows = claim_rows(temps, response, replicate=int(p.get("replicate", 0)),
                      n_tail=int(p.get("tail_steps", 10)), method=p.get("method", "thermometer"),
                      n_updates=p.get("n_updates"), temperatures=p.get("temperatures"))
    io.write_table(measurements_frame(rows), ctx.output("claims"),
                   ctx.provenance(model="ising2d", protocol="Iso et al."))
    for r in rows:
        ctx.log.info("%s: %.4g ± %.3g (T_c %.4g, tolerance %.3g)", r["claim"], r["value"],
                     r["error"], r["reference"], r["tolerance"])


def temperature_figure(temps: pd.DataFrame, tc: float | None = None, *, L: int | None = None,
                       n_seeds: int | None = None, methods=("thermometer", "energy")):
    """Temperature vs flow step: one panel per Iso model, colour = start, line style = estimator.

    Parameters
    ----------
    temps : table from :func:`flow_temperatures` (one training seed)
    tc : critical temperature drawn as a dashed line
    L, n_seeds : lattice side and number of training seeds, for the title
    methods : estimators drawn (solid: the first, dotted: the others)
    """
    import seaborn as sns
    from matplotlib import pyplot as plt

    from coarsegrain.plots.style import PALETTE, T_LABEL, add_key, legend, setup

    setup()
    models = [m for m in ISO_MODELS if m in set(temps["iso_model"])]
    starts = [s for s in ("T0", "Tinf") if s in set(temps["source"])]
    colors = dict(zip(starts, sns.color_palette(PALETTE, max(2, len(starts))), strict=False))
    styles = dict(zip(methods, ["-", ":", "--"], strict=False))
    fig, axes = plt.subplots(1, len(models), figsize=(4.6 * len(models), 4.0), sharey=True,
                             squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        for s in starts:
            for method in methods:
                g = temps[(temps["iso_model"] == model) & (temps["source"] == s)
                          & (temps["method"] == method)].sort_values("step")
                if g.empty:
                    continue
                ax.errorbar(g["step"], g["temperature"], yerr=g["error"], fmt=".",
                            ls=styles[method], ms=3, lw=1, capsize=1.5, color=colors[s],
                            label=f"{_START_LABELS.get(s, s)}, {method}")
                if method == "thermometer" and g["spread"].notna().any():
                    ax.fill_between(g["step"], g["temperature"] - g["spread"],
                                    g["temperature"] + g["spread"], color=colors[s], alpha=0.12)
        if tc is not None and np.isfinite(tc):
            ax.axhline(tc, color="k", ls="--", lw=1, label=f"$T_c$ = {tc:.3f}")
        ax.set_xlabel("RBM flow step")
        ax.set_title(f"{model}: {_MODEL_LABELS.get(model, model)}")
    axes[0, 0].set_ylabel(T_LABEL)
    legend(axes[0, -1], outside=True)
    where = f"L = {L}, " if L else ""
    seeds = f", seed 0 of {n_seeds}" if n_seeds else ", seed 0"
    fig.suptitle(f"Iso et al. protocol ({where}{{0,1}} RBMs without biases, CD-1){seeds}")
    fig.tight_layout()
    add_key(fig, "Points: mean estimated temperature of the flowed configurations at each step "
                 "with its error (solid: the thermometer's expected temperature, band: its spread "
                 "between configurations; dotted: the temperature whose Monte Carlo ⟨E⟩ matches). "
                 "Dashed: Onsager's T_c.")
    return fig


def figure_temperature(ctx: StageContext) -> None:
    """Inputs: temperatures (from :func:`flow_temperatures`). Params: tc, L, n_seeds, pdf."""
    from coarsegrain.plots.style import save_figure

    p = ctx.params
    temps, _ = io.read_table(ctx.input("temperatures"))
    fig = temperature_figure(temps, p.get("tc"), L=p.get("L"), n_seeds=p.get("n_seeds"))
    save_figure(fig, ctx.output("figure"), pdf=p.get("pdf", True))


STAGES = {
    "flow-temperatures": flow_temperatures,
    "claims": claims,
    "figure-temperature": figure_temperature,
}
