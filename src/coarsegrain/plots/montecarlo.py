"""Figures of the Monte Carlo engine: observables vs T per size, Binder crossings, correlators.

Each ``*_figure`` function takes tidy tables and returns a matplotlib Figure;
the stages that read the tables and save them are in :mod:`coarsegrain.stages.montecarlo`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt

from coarsegrain.plots.style import (
    PALETTE,
    T_LABEL,
    add_key,
    figure_legend,
    legend,
    setup,
)
from coarsegrain.plots.thermo import OBSERVABLE_LABELS as _LABELS  # noqa: E402


def _colors(sizes):
    return dict(zip(sizes, sns.color_palette(PALETTE, len(sizes)), strict=True))


def _ref_line(ax, reference, label):
    if reference is not None and math.isfinite(reference):
        ax.axvline(reference, color="k", ls="--", lw=1, label=label or "reference")


def _sigma(text: str) -> str:
    """Titles from older rules spell σ out; write the symbol everywhere."""
    return text.replace("sigma=", "σ=").replace("sigma =", "σ =")


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
        ax.set_xlabel(T_LABEL)
    fig.suptitle(_sigma(title))
    fig.tight_layout()
    figure_legend(fig, axes.flat)
    add_key(fig, f"Points: Monte Carlo estimates with jackknife errors, one colour per size "
                 f"{size_label}" + (f"; dashed vertical line: {reference_label}."
                                    if reference is not None and math.isfinite(reference)
                                    else "."))
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
    ax.set_xlabel(T_LABEL)
    ax.set_ylabel(_LABELS["binder"])
    legend(ax)
    c = crossings.dropna(subset=["t_cross"])
    if not c.empty:
        ax2.errorbar(np.arange(len(c)), c["t_cross"], yerr=c["error"], fmt="s", capsize=3)
        ax2.set_xticks(np.arange(len(c)), [f"{a}/{b_}" for a, b_ in zip(c["L1"], c["L2"],
                                                                          strict=True)])
    if math.isfinite(tc):
        ax2.axhline(tc, color="C3", lw=1, label="crossing $T_c$ estimate")
    ax2.set_xlabel(f"size pair ${size_label}_1/{size_label}_2$")
    ax2.set_ylabel(r"crossing temperature [$J/k_B$]")
    ax2.set_title("pairwise Binder crossings")
    legend(ax2)
    fig.suptitle(_sigma(title))
    fig.tight_layout()
    add_key(fig, "Left: Binder cumulant U4(T) per size with jackknife errors; red line and "
                 "band: $T_c$ from the crossings ± error" + (
                     f"; dashed: {reference_label}" if reference_label else "") +
            ". Right: crossing temperature of each pair of sizes with its error.")
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
        legend(ax, loc="lower left")
    fig.suptitle(_sigma(title))
    fig.tight_layout()
    add_key(fig, "Points: correlators at $T_c$ with errors (log–log axes, non-positive values "
                 "not drawn); red line: the fitted form over its fit range, with the scaling "
                 "dimension Δ it gives and the exact value where known.")
    return fig
