"""Figure stages (``python -m coarsegrain plots.<name>``): read tables, call a figure function, save."""

from __future__ import annotations

import pandas as pd

from coarsegrain import io
from coarsegrain.cli import StageContext
from coarsegrain.plots.style import save_figure


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


def report_claims(ctx: StageContext) -> None:
    from coarsegrain.io import atomic_path
    from coarsegrain.plots.tables import claims_html

    claims, _ = io.read_table(ctx.input("claims"))
    with atomic_path(ctx.output("html")) as tmp:
        tmp.write_text(claims_html(claims), encoding="utf-8")


def report_benchmarks(ctx: StageContext) -> None:
    from coarsegrain.io import atomic_path
    from coarsegrain.plots.tables import benchmarks_html, benchmarks_table

    table = benchmarks_table(ctx.inputs.get("benchmarks", []))
    io.write_table(table, ctx.output("table"), ctx.provenance())
    with atomic_path(ctx.output("html")) as tmp:
        tmp.write_text(benchmarks_html(table), encoding="utf-8")


def report_config(ctx: StageContext) -> None:
    import yaml

    from coarsegrain.io import atomic_path
    from coarsegrain.plots.tables import config_html

    text = yaml.safe_dump(ctx.params["config"], sort_keys=True, default_flow_style=None, width=100)
    with atomic_path(ctx.output("yaml")) as tmp:
        tmp.write_text(text, encoding="utf-8")
    with atomic_path(ctx.output("html")) as tmp:
        tmp.write_text(config_html(text), encoding="utf-8")


STAGES = {
    "report-claims": report_claims,
    "report-benchmarks": report_benchmarks,
    "report-config": report_config,
    "ising2d-thermodynamics": ising2d_thermodynamics,
    "ising2d-binder": ising2d_binder,
}

# RBM-flow / RG-comparison figures live in plots/flows.py.
from coarsegrain.plots.flows import FIGURE_STAGES as _FLOW_FIGURES  # noqa: E402

STAGES.update(_FLOW_FIGURES)

# Monte Carlo engine figures (observables vs T, Binder crossings, correlators) live in
# plots/montecarlo.py.
from coarsegrain.plots.montecarlo import FIGURE_STAGES as _MC_FIGURES  # noqa: E402

STAGES.update(_MC_FIGURES)
