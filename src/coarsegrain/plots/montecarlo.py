"""Figures of the Monte Carlo engine: observables vs T per size, Binder crossings, correlators.

Each ``*_figure`` function takes tidy tables and returns a matplotlib Figure;
:data:`FIGURE_STAGES` holds the ``plots.mc-*`` stages that read the tables and save them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt

from coarsegrain import io
from coarsegrain.cli import StageContext
from coarsegrain.plots.style import PALETTE, save_figure, setup
from coarsegrain.plots.thermo import OBSERVABLE_LABELS as _LABELS  # noqa: E402


def _colors(sizes):
    return dict(zip(sizes, sns.color_palette(PALETTE, len(sizes)), strict=True))


def _ref_line(ax, reference, label):
    if reference is not None and math.isfinite(reference):
        ax.axvline(reference, color="k", ls="--", lw=1, label=label)


def observables_figure(obs: pd.DataFrame, title: str, size_label: str = "L",
                       reference: float | None = None, reference_label: str = ""):
    """E, |m|, χ and U4 vs T, one colour per size, with jackknife error bars.

    Parameters
    ----------
    obs : tidy observables (L, temperature, observable, value, error)
    title : figure title
    size_label : how sizes are named in the legend ("L" or "N")
    reference : a temperature drawn as a dashed line (exact T_c or the mean-field bound)
    """
    setup()
    sizes = sorted(obs["L"].unique())
    colors = _colors(sizes)
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), sharex=True)
    for ax, name in zip(axes.flat, ["energy", "abs_magnetization", "susceptibility", "binder"],
                        strict=True):
        for L in sizes:
            d = obs[(obs["L"] == L) & (obs["observable"] == name)].sort_values("temperature")
            ax.errorbar(d["temperature"], d["value"], yerr=d["error"], fmt="o-", ms=3, lw=0.8,
                        capsize=2, color=colors[L], label=f"{size_label}={L}")
        _ref_line(ax, reference, reference_label)
        ax.set_ylabel(_LABELS[name])
    for ax in axes[1]:
        ax.set_xlabel("temperature $T$ [J]")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 7), frameon=False,
               bbox_to_anchor=(0.5, 1.04))
    fig.suptitle(title, y=1.08)
    fig.tight_layout()
    return fig


def binder_figure(obs: pd.DataFrame, crossings: pd.DataFrame, title: str, size_label: str = "L",
                  reference: float | None = None, reference_label: str = ""):
    """U4(T) per size with the crossing estimate (left) and the pairwise crossings (right)."""
    setup()
    b = obs[obs["observable"] == "binder"]
    sizes = sorted(b["L"].unique())
    colors = _colors(sizes)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for L in sizes:
        d = b[b["L"] == L].sort_values("temperature")
        ax.errorbar(d["temperature"], d["value"], yerr=d["error"], fmt="o-", ms=3.5, lw=1,
                    capsize=2, color=colors[L], label=f"{size_label}={L}")
    tc = float(crossings["tc_estimate"].iloc[0]) if len(crossings) else math.nan
    err = float(crossings["tc_error"].iloc[0]) if len(crossings) else math.nan
    if math.isfinite(tc):
        e = err if math.isfinite(err) else 0.0
        ax.axvspan(tc - e, tc + e, color="C3", alpha=0.25)
        ax.axvline(tc, color="C3", lw=1, label=f"crossing $T_c$={tc:.4f}±{e:.4f}")
    if reference is not None and math.isfinite(reference):
        lo, hi = b["temperature"].min(), b["temperature"].max()
        if lo <= reference <= hi:
            _ref_line(ax, reference, reference_label)
    ax.set_xlabel("temperature $T$ [J]")
    ax.set_ylabel(_LABELS["binder"])
    ax.legend(frameon=False, fontsize=8)
    c = crossings.dropna(subset=["t_cross"])
    if not c.empty:
        ax2.errorbar(np.arange(len(c)), c["t_cross"], yerr=c["error"], fmt="s", capsize=3)
        ax2.set_xticks(np.arange(len(c)), [f"{a}/{b_}" for a, b_ in zip(c["L1"], c["L2"],
                                                                          strict=True)])
    if math.isfinite(tc):
        ax2.axhline(tc, color="C3", lw=1)
    ax2.set_xlabel(f"size pair ${size_label}_1/{size_label}_2$")
    ax2.set_ylabel("crossing temperature")
    ax2.set_title("pairwise Binder crossings")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def correlators_figure(correlators: pd.DataFrame, fits: pd.DataFrame, title: str):
    """Spin and connected energy correlators on log–log axes with their fitted forms."""
    from coarsegrain.analysis.correlators import fit_curve

    setup()
    ops = [op for op in ("spin", "energy") if (correlators["operator"] == op).any()]
    fig, axes = plt.subplots(1, len(ops), figsize=(5.2 * len(ops), 4.2), squeeze=False)
    for ax, op in zip(axes[0], ops, strict=True):
        d = correlators[(correlators["operator"] == op) & (correlators["r"] > 0)]
        pos = d["value"] > 0
        ax.errorbar(d["r"][pos], d["value"][pos], yerr=d["error"][pos], fmt="o", ms=3,
                    capsize=2, color="C0", label="Monte Carlo")
        f = fits[fits["operator"] == op]
        if len(f) and np.isfinite(f["delta"].iloc[0]):
            row = f.iloc[0].to_dict()
            r = np.linspace(row["rmin"], row["rmax"], 200)
            ref = row.get("reference", math.nan)
            ref_txt = f" (exact {ref:g})" if ref is not None and math.isfinite(ref) else ""
            ax.plot(r, fit_curve(row, r), "C3-", lw=1.3,
                    label=f"{row['form']} fit: Δ={row['delta']:.4f}±{row['delta_err']:.4f}"
                          f"{ref_txt}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("distance $r$ (lattice units, along the axes)")
        ax.set_ylabel(r"$\langle s_0 s_r\rangle$" if op == "spin"
                      else r"$\langle \varepsilon_0 \varepsilon_r\rangle_c$")
        ax.legend(frameon=False, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- stages


def _read_all(paths) -> pd.DataFrame:
    return pd.concat([io.read_table(f)[0] for f in paths], ignore_index=True)


def _reference(p: dict):
    ref = p.get("reference")
    return (float(ref) if ref is not None else None), p.get("reference_label", "")


def stage_observables(ctx: StageContext) -> None:
    """Params: title, size_label, reference, reference_label, pdf."""
    p = ctx.params
    ref, label = _reference(p)
    fig = observables_figure(_read_all(ctx.inputs["observables"]), p["title"],
                             p.get("size_label", "L"), ref, label)
    save_figure(fig, ctx.output("figure"), pdf=p.get("pdf", True))


def stage_binder(ctx: StageContext) -> None:
    """Inputs observables (list), crossings. Params as :func:`stage_observables`."""
    p = ctx.params
    ref, label = _reference(p)
    cross, _ = io.read_table(ctx.input("crossings"))
    fig = binder_figure(_read_all(ctx.inputs["observables"]), cross, p["title"],
                        p.get("size_label", "L"), ref, label)
    save_figure(fig, ctx.output("figure"), pdf=p.get("pdf", True))


def stage_correlators(ctx: StageContext) -> None:
    """Inputs correlators, fits. Params: title, pdf."""
    p = ctx.params
    corr, _ = io.read_table(ctx.input("correlators"))
    fits, _ = io.read_table(ctx.input("fits"))
    save_figure(correlators_figure(corr, fits, p["title"]), ctx.output("figure"),
                pdf=p.get("pdf", True))


FIGURE_STAGES = {
    "mc-observables": stage_observables,
    "mc-binder": stage_binder,
    "mc-correlators": stage_correlators,
}
