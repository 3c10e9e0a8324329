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


STAGES = {
    "ising2d-thermodynamics": ising2d_thermodynamics,
    "ising2d-binder": ising2d_binder,
}
