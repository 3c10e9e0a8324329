"""Figures of thermodynamic observables against exact results, and Binder crossings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt

from coarsegrain.plots.style import PALETTE, T_LABEL, add_key, figure_legend, legend, setup

OBSERVABLE_LABELS = {
    "energy": r"energy per site $\langle e\rangle$ [$J$]",
    "abs_magnetization": r"$\langle |m| \rangle$",
    "specific_heat": r"specific heat per site $c$",
    "susceptibility": r"susceptibility $\chi$",
    "binder": r"Binder cumulant $U_4$",
}


def thermodynamics_figure(obs: pd.DataFrame, exact: pd.DataFrame, t_c: float):
    """Four panels (E, |m|, C, χ) vs T: Monte Carlo points with error bars per L, exact curves.

    Parameters
    ----------
    obs : tidy table (L, temperature, observable, value, error)
    exact : tidy table (L or -1 for the infinite lattice, temperature, observable, value) of
        exact curves: finite-L energy and specific heat, Onsager |m| (L = -1)
    t_c : the exact critical temperature (drawn as a vertical line)
    """
    setup()
    sizes = sorted(obs["L"].unique())
    colors = dict(zip(sizes, sns.color_palette(PALETTE, len(sizes)), strict=True))
    panels = ["energy", "abs_magnetization", "specific_heat", "susceptibility"]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), sharex=True)
    for ax, name in zip(axes.flat, panels, strict=True):
        for L in sizes:
            d = obs[(obs["L"] == L) & (obs["observable"] == name)].sort_values("temperature")
            ax.errorbar(d["temperature"], d["value"], yerr=d["error"], fmt="o", ms=3.5,
                        capsize=2, color=colors[L], label=f"MC L={L}")
            ex = exact[(exact["L"] == L) & (exact["observable"] == name)].sort_values("temperature")
            if not ex.empty:
                ax.plot(ex["temperature"], ex["value"], "-", lw=1.2, color=colors[L], alpha=0.8,
                        label=f"exact L={L}")
        inf = exact[(exact["L"] == -1) & (exact["observable"] == name)].sort_values("temperature")
        if not inf.empty:
            ax.plot(inf["temperature"], inf["value"], "k--", lw=1.2, label="Onsager (L=∞)")
        ax.axvline(t_c, color="grey", ls=":", lw=1, label=f"exact $T_c$={t_c:.4f}")
        ax.set_ylabel(OBSERVABLE_LABELS[name])
    for ax in axes[1]:
        ax.set_xlabel(T_LABEL)
    fig.suptitle("2D Ising model, Metropolis/Wolff sampling: Monte Carlo vs exact results")
    fig.tight_layout()
    figure_legend(fig, axes.flat)
    add_key(fig, "Points: Monte Carlo with standard errors, one colour per lattice size L; "
                 "solid lines: exact finite-L results (Kaufman) for energy and specific heat; "
                 "dashed: Onsager's L=∞ magnetisation; dotted vertical line: exact $T_c$.")
    return fig


def binder_figure(obs: pd.DataFrame, crossings: pd.DataFrame, tc_est: float, tc_err: float,
                  t_c: float):
    """Binder cumulant U4(T) per L near T_c, with the crossing estimate and the exact T_c."""
    setup()
    b = obs[obs["observable"] == "binder"]
    sizes = sorted(b["L"].unique())
    colors = dict(zip(sizes, sns.color_palette(PALETTE, len(sizes)), strict=True))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for L in sizes:
        d = b[b["L"] == L].sort_values("temperature")
        ax.errorbar(d["temperature"], d["value"], yerr=d["error"], fmt="o-", ms=3.5, lw=1,
                    capsize=2, color=colors[L], label=f"L={L}")
    ax.axvline(t_c, color="k", ls="--", lw=1, label=f"exact $T_c$={t_c:.4f}")
    if np.isfinite(tc_est):
        ax.axvspan(tc_est - (tc_err if np.isfinite(tc_err) else 0),
                   tc_est + (tc_err if np.isfinite(tc_err) else 0), color="C3", alpha=0.25)
        ax.axvline(tc_est, color="C3", lw=1, label=f"crossing {tc_est:.4f}±{tc_err:.4f}")
    ax.set_xlabel(T_LABEL)
    ax.set_ylabel(OBSERVABLE_LABELS["binder"])
    legend(ax, outside=False)
    c = crossings.dropna(subset=["t_cross"])
    if not c.empty:
        labels = [f"{a}/{b_}" for a, b_ in zip(c["L1"], c["L2"], strict=True)]
        ax2.errorbar(np.arange(len(c)), c["t_cross"], yerr=c["error"], fmt="s", capsize=3)
        ax2.set_xticks(np.arange(len(c)), labels)
    ax2.axhline(t_c, color="k", ls="--", lw=1, label="exact $T_c$")
    ax2.set_xlabel("size pair $L_1/L_2$")
    ax2.set_ylabel(r"crossing temperature [$J/k_B$]")
    ax2.set_title("pairwise Binder crossings")
    legend(ax2)
    fig.suptitle("2D Ising model: Binder cumulant crossings")
    fig.tight_layout()
    add_key(fig, "Left: U4(T) per lattice size with standard errors; red line and band: the "
                 "crossing estimate of $T_c$ ± error; dashed: exact $T_c$. Right: crossing "
                 "temperature of each pair of sizes with its bootstrap error.")
    return fig
