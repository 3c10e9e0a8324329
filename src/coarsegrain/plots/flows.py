"""Figures of RBM flows, thermometers, temperature flows, correlators and ⟨v h⟩ maps.

One function per figure, each taking tidy tables (as written by :mod:`coarsegrain.flow.stages`)
and returning a matplotlib Figure; :data:`FIGURE_STAGES` holds the ``plots.<name>`` stages that
read the tables and save the figures.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt

from coarsegrain.plots.style import (
    E_LABEL,
    PALETTE,
    add_key,
    drawn_handles,
    legend,
    setup,
    tidy_log_axes,
)

_METHOD_LABELS = {"thermometer": "thermometer ⟨T⟩", "thermometer_argmax": "thermometer argmax",
                  "energy": "matched ⟨E⟩", "abs_magnetization": "matched ⟨|m|⟩"}
_SOURCE_LABELS = {"mc": "from MC data", "T0": "from T=0 (all up)", "Tinf": "from T=∞ (random)"}


_PROTOCOLS = {"tc": "trained at $T_c$", "grid": "trained on the temperature grid"}


def rbm_label(name: str | None) -> str:
    """Readable name of an RBM from its config name: ``nh81_tc`` → "RBM nh81_tc ($N_h$=81,
    trained at $T_c$)"; other names are shown as they are."""
    if not name:
        return ""
    m = re.fullmatch(r"nh(\d+)_(\w+)", str(name))
    if not m:
        return f"RBM {name}"
    return f"RBM {name} ($N_h$={m.group(1)}, {_PROTOCOLS.get(m.group(2), m.group(2))})"


def _model_title(df: pd.DataFrame, rbm: str | None = None) -> str:
    """Model (and, when given, RBM) named in a figure title, e.g. "2D Ising, RBM nh81_tc …"."""
    name = ""
    if "model" in df.columns and not df.empty:
        model = df["model"].iloc[0]
        if model == "longrange" and "sigma" in df.columns:
            name = f"long-range chain, σ={df['sigma'].iloc[0]:g}"
        else:
            name = {"ising2d": "2D Ising"}.get(model, str(model))
    return ", ".join(s for s in (name, rbm_label(rbm)) if s)


def _show_config(ax, x, title=""):
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    im = ax.imshow(x, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest",
                   aspect="equal" if x.shape[0] > 1 else "auto")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.set_title(title, fontsize=8)
    return im


def _shape_text(shape) -> str:
    """"16×16" for a lattice, "32-site" for a chain."""
    shape = [int(n) for n in shape]
    return f"{shape[0]}-site" if len(shape) == 1 else "×".join(map(str, shape))


def _spin_colorbar(fig, im, axes) -> None:
    """The ±1 colour key: spins are ±1; RG block averages and RBM means lie in between."""
    cb = fig.colorbar(im, ax=axes, shrink=0.8, ticks=[-1, 0, 1], pad=0.02)
    cb.ax.set_yticklabels(["−1 (down)", "0", "+1 (up)"])
    cb.set_label("spin / block value", fontsize=8)


# ----------------------------------------------------------------------------- figures


def examples_figure(examples: pd.DataFrame, flow_steps: dict | None = None, example: int = 0):
    """Example configuration and its coarse-grainings: RG blocks, stacked-RBM layers, RBM flow.

    The RG and stacked-RBM rows start from the same Monte Carlo configuration; the RBM flow
    acts on the (usually smaller) lattice of the flow's RBM, so it is drawn as a separate panel
    group with its own heading rather than as a third row of the same sequence.

    Parameters
    ----------
    examples : table with columns kind (rbm | rg), layer, example, shape, values (see
        :func:`coarsegrain.stages.flows.layer_examples`); layer 0 is the Monte Carlo input
    flow_steps : optional mapping step → configuration (lattice shape) of one RBM flow
    example : which example to show
    """
    setup()
    ex = examples[examples["example"] == example]
    rows = [("block-spin RG", ex[ex["kind"] == "rg"]), ("stacked RBM", ex[ex["kind"] == "rbm"])]
    n_cols = max([len(d) for _, d in rows] + [len(flow_steps or {}), 1])
    fig = plt.figure(figsize=(2.1 * n_cols + 1.2, 2.3 * (2 + (1.25 if flow_steps else 0))))
    subfigs = fig.subfigures(2 if flow_steps else 1, 1, squeeze=False,
                             height_ratios=[2, 1.25] if flow_steps else [1])[:, 0]
    top = subfigs[0]
    axes = top.subplots(2, n_cols, squeeze=False)
    im = None
    for ax in axes.flat:
        ax.axis("off")
    in_shape = ""
    for r, (label, d) in enumerate(rows):
        for c, (_, row) in enumerate(d.sort_values("layer").iterrows()):
            ax = axes[r, c]
            ax.axis("on")
            x = np.asarray(row["values"], dtype=float).reshape(tuple(row["shape"]))
            shape = _shape_text(row["shape"])
            if row["layer"] == 0:
                in_shape = shape
            name = "MC input" if row["layer"] == 0 else f"layer {row['layer']}"
            im = _show_config(ax, x, f"{label}\n{name} ({shape})")
    top.suptitle(f"One {in_shape} Monte Carlo configuration, coarse-grained by block-spin RG "
                 "and by the stacked RBM", fontsize=10)
    if im is not None:
        _spin_colorbar(top, im, axes)
    if flow_steps:
        bottom = subfigs[1]
        steps = sorted(flow_steps.items())
        fax = bottom.subplots(1, n_cols, squeeze=False)[0]
        for ax in fax:
            ax.axis("off")
        shape = _shape_text(np.shape(steps[0][1]))
        for ax, (step, x) in zip(fax, steps, strict=False):
            ax.axis("on")
            im = _show_config(ax, x, f"step {step}")
        other = " (another lattice: the flow's RBM has its own size)" if shape != in_shape else ""
        bottom.suptitle(f"RBM flow of one {shape} configuration{other}; step 0 is the Monte "
                        "Carlo start", fontsize=10)
        _spin_colorbar(bottom, im, fax)
    fig.suptitle(f"Coarse-graining one configuration — {_model_title(examples)}", y=1.02)
    return fig


def calibration_figure(confusion: pd.DataFrame, calibration: pd.DataFrame):
    """Thermometer calibration: confusion matrix (held-out data) and predicted vs true T."""
    setup()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.6))
    mat = confusion.pivot(index="true_temperature", columns="predicted_temperature",
                          values="fraction")
    sns.heatmap(mat, ax=ax, cmap="viridis", vmin=0, vmax=1, square=True,
                cbar_kws={"label": "fraction of true-T configurations"},
                xticklabels=[f"{t:g}" for t in mat.columns],
                yticklabels=[f"{t:g}" for t in mat.index])
    ax.invert_yaxis()
    ax.set_xlabel(r"predicted $T$ (argmax) [$J/k_B$]")
    ax.set_ylabel(r"true $T$ [$J/k_B$]")
    acc = calibration["overall_accuracy"].iloc[0] if "overall_accuracy" in calibration else math.nan
    chance = calibration["overall_chance"].iloc[0] if "overall_chance" in calibration else math.nan
    ax.set_title(f"confusion matrix: accuracy {acc:.2f} (chance {chance:.2f})")
    t = calibration["true_temperature"]
    ax2.errorbar(t, calibration["expected_mean"], yerr=calibration["expected_std"], fmt="o",
                 capsize=2, label="⟨Σ p_k T_k⟩ ± std")
    ax2.plot(t, calibration["argmax_mean"], "s", mfc="none", label="mean argmax T")
    lim = [float(t.min()), float(t.max())]
    ax2.plot(lim, lim, "k--", lw=1, label="ideal (predicted = true)")
    ax2.set_xlabel(r"true $T$ [$J/k_B$]")
    ax2.set_ylabel(r"predicted $T$ [$J/k_B$]")
    legend(ax2, loc="upper left")
    size = calibration["lattice_size"].iloc[0] if "lattice_size" in calibration else "?"
    ax2.set_title(f"calibration on held-out Monte Carlo data (L={size})")
    fig.tight_layout()
    add_key(fig, "Left: fraction of held-out Monte Carlo configurations at each true "
                 "temperature that the thermometer assigns to each temperature (argmax). Right: "
                 "its expected temperature (mean ± std over configurations) and mean argmax "
                 "vs the true one; dashed: perfect calibration.")
    return fig


def temperature_flow_figure(temps: pd.DataFrame, t_c: float | None = None,
                            methods=("thermometer", "energy"), rbm: str | None = None):
    """Estimated temperature vs RBM-flow step, per start (MC data, T=0, T=∞) and estimator.

    ``rbm`` (the RBM's config name, e.g. ``nh81_tc``) goes into the title: figures of
    different RBMs of one model must not share a title.
    """
    setup()
    d = temps[temps["method"].isin(methods)]
    sources = [s for s in ("mc", "T0", "Tinf") if s in set(d["source"])] + sorted(
        set(d["source"]) - {"mc", "T0", "Tinf"})
    colors = dict(zip(sources, sns.color_palette(PALETTE, len(sources)), strict=True))
    fig, axes = plt.subplots(1, len(methods), figsize=(5.5 * len(methods), 4.2), sharey=True,
                             squeeze=False)
    for ax, method in zip(axes[0], methods, strict=True):
        for s in sources:
            g = d[(d["source"] == s) & (d["method"] == method)].sort_values("step")
            if g.empty:
                continue
            ax.errorbar(g["step"], g["temperature"], yerr=g["error"], fmt="o-", ms=3, lw=1,
                        capsize=2, color=colors[s], label=_SOURCE_LABELS.get(s, s))
            if "spread" in g and g["spread"].notna().any():
                ax.fill_between(g["step"], g["temperature"] - g["spread"],
                                g["temperature"] + g["spread"], color=colors[s], alpha=0.12)
        if t_c is not None and np.isfinite(t_c):
            ax.axhline(t_c, color="k", ls="--", lw=1, label=f"$T_c$={t_c:.3f}")
        ax.set_xlabel("RBM flow step")
        ax.set_title(_METHOD_LABELS.get(method, method))
    axes[0, 0].set_ylabel(r"estimated temperature [$J/k_B$]")
    legend(axes[0, -1], outside=True)
    fig.suptitle(f"Temperature along the RBM flow — {_model_title(temps, rbm)}")
    fig.tight_layout()
    add_key(fig, "Points: mean estimated temperature of the flowed configurations at each step "
                 "with its error; band: spread between configurations; dashed: $T_c$. "
                 "Colours: the flow's start (Monte Carlo data at $T_c$, all spins up, random).")
    return fig


def observables_flow_figure(obs: pd.DataFrame, mc_reference: pd.DataFrame | None = None,
                            rbm: str | None = None):
    """⟨|m|⟩ and ⟨E⟩ per site vs flow step, per start; optional MC values at the input T;
    ``rbm`` names the RBM in the title."""
    setup()
    names = [n for n in ("abs_magnetization", "energy") if n in set(obs["observable"])]
    sources = sorted(obs["source"].unique(), key=lambda s: ("mc", "T0", "Tinf", s).index(s)
                     if s in ("mc", "T0", "Tinf") else 3)
    colors = dict(zip(sources, sns.color_palette(PALETTE, len(sources)), strict=True))
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for s in sources:
            g = obs[(obs["source"] == s) & (obs["observable"] == name)].sort_values("step")
            if g.empty:
                continue
            ax.errorbar(g["step"], g["value"], yerr=g["error"], fmt="o-", ms=3, lw=1, capsize=2,
                        color=colors[s], label=_SOURCE_LABELS.get(s, s))
        if mc_reference is not None:
            ref = mc_reference[mc_reference["observable"] == name]
            if len(ref):
                ax.axhline(float(ref["value"].iloc[0]), color="k", ls="--", lw=1,
                           label="Monte Carlo at input T")
        ax.set_xlabel("RBM flow step")
        ax.set_ylabel({"abs_magnetization": "⟨|m|⟩", "energy": E_LABEL}[name])
    legend(axes[0, -1], outside=True)
    fig.suptitle(f"Observables along the RBM flow — {_model_title(obs, rbm)}")
    fig.tight_layout()
    add_key(fig, "Points: mean over the flowed configurations at each step with standard "
                 "errors, one colour per start; dashed: the Monte Carlo value at the input "
                 "temperature on the same lattice.")
    return fig


def correlators_figure(correlators: pd.DataFrame, deltas: pd.DataFrame,
                       exact: dict | None = None, source: str = "mc", rbm: str | None = None):
    """Spin and energy correlators (MC and flow steps) with fits, and Δ_σ, Δ_ε vs flow step.

    Parameters
    ----------
    correlators, deltas : tables from :func:`coarsegrain.flow.stages.correlators`
    exact : optional reference values {"spin": Δ_σ, "energy": Δ_ε} drawn as lines
    source : which flow start to show
    rbm : the RBM's config name, shown in the title
    """
    from coarsegrain.analysis.correlators import fit_curve

    setup()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    steps = sorted(deltas.loc[deltas["source"] == source, "step"].unique())
    shown = steps if len(steps) <= 4 else [steps[0], steps[len(steps) // 3],
                                           steps[2 * len(steps) // 3], steps[-1]]
    colors = sns.color_palette(PALETTE, len(shown))
    for ax, op in zip(axes[:2], ("spin", "energy"), strict=True):
        for lab, src, step, color in ([("Monte Carlo", "monte_carlo", 0, "k")]
                                      + [(f"flow step {s}", source, s, c)
                                         for s, c in zip(shown, colors, strict=True)]):
            c = correlators[(correlators["operator"] == op) & (correlators["source"] == src)
                            & (correlators["step"] == step) & (correlators["r"] >= 1)]
            if c.empty:
                continue
            ok = c["value"] > 0
            ax.errorbar(c.loc[ok, "r"], c.loc[ok, "value"], yerr=c.loc[ok, "error"], fmt="o",
                        ms=3, capsize=2, color=color, label=lab)
            fit = deltas[(deltas["operator"] == op) & (deltas["source"] == src)
                         & (deltas["step"] == step)]
            if len(fit) and np.isfinite(fit["delta"].iloc[0]):
                row = fit.iloc[0].to_dict()
                r = np.linspace(row["rmin"], row["rmax"], 50)
                ax.plot(r, fit_curve(row, r), "-", lw=1, color=color)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("distance r [lattice units]")
        ax.set_ylabel("⟨s s⟩" if op == "spin" else "⟨ε ε⟩ connected")
        ax.set_title(f"{op} correlator and fits")
        legend(ax, loc="lower left", fontsize=7)
    ax = axes[2]
    for op, marker in (("spin", "o"), ("energy", "s")):
        g = deltas[(deltas["operator"] == op) & (deltas["source"] == source)].sort_values("step")
        line = ax.errorbar(g["step"], g["delta"], yerr=g["delta_err"], fmt=marker + "-", ms=3,
                           lw=1, capsize=2, label=f"flow Δ ({op})")
        mc = deltas[(deltas["operator"] == op) & (deltas["source"] == "monte_carlo")]
        if len(mc):
            v, e = float(mc["delta"].iloc[0]), float(mc["delta_err"].iloc[0])
            col = line[0].get_color()
            ax.axhspan(v - e, v + e, color=col, alpha=0.15)
            ax.axhline(v, color=col, ls=":", lw=1, label=f"MC Δ ({op})")
        if exact and op in exact:
            sym = "Δ_σ" if op == "spin" else "Δ_ε"
            ax.axhline(exact[op], color="k", ls="--" if op == "spin" else "-.", lw=1,
                       label=f"exact ${sym}$ = {_fraction(exact[op])}")
    ax.set_xlabel("RBM flow step")
    ax.set_ylabel("scaling dimension Δ")
    legend(ax, outside=True, fontsize=7)
    ax.set_title("Δ from power-law fits vs flow step")
    fig.suptitle(f"Correlators of flowed configurations — {_model_title(deltas, rbm)}")
    fig.tight_layout()
    tidy_log_axes(fig)
    add_key(fig, "Left, middle: correlators (log–log) of the Monte Carlo input (black) and of "
                 "flowed configurations at a few steps, with the fitted forms. Right: Δ from "
                 "the fits vs flow step; dotted lines and bands: Monte Carlo Δ ± error; dashed "
                 "and dash-dotted: exact values.")
    return fig


def _fraction(x: float) -> str:
    """1/8 rather than 0.125 for the exact scaling dimensions."""
    from fractions import Fraction

    f = Fraction(float(x)).limit_denominator(64)
    return str(f) if abs(float(f) - x) < 1e-12 and f.denominator > 1 else f"{x:g}"


def iomap_figure(maps: np.ndarray, cols: pd.DataFrame, n_units: int = 8, layer: int = 1):
    """Panel grid of input–output maps on the visible lattice: RBM units vs RG blocks.

    One row per (map type, kind): ⟨v_i h_a⟩ ("correlation") and, when present, the linear
    receptive field ("response"); each panel has its own symmetric colour scale.
    """
    setup()
    if "map_type" not in cols.columns:
        cols = cols.assign(map_type="correlation")
    rows = [(m, k) for m in ("correlation", "response") for k in ("rbm", "rg")
            if ((cols["map_type"] == m) & (cols["kind"] == k)).any()]
    titles = {"correlation": "⟨v h⟩", "response": "receptive field"}
    fig, axes = plt.subplots(len(rows), n_units, figsize=(1.7 * n_units, 2.0 * len(rows)),
                             squeeze=False)
    for r, (map_kind, kind) in enumerate(rows):
        sel = (cols["map_type"] == map_kind) & (cols["kind"] == kind) & (cols["layer"] == layer)
        idx = np.flatnonzero(sel.to_numpy())[:n_units]
        for c in range(n_units):
            ax = axes[r, c]
            if c >= idx.size:
                ax.axis("off")
                continue
            m = maps[idx[c]]
            vmax = float(np.abs(m).max()) or 1.0
            if m.ndim == 1:
                ax.plot(m, lw=1)
                ax.set_xticks([])
            else:
                ax.imshow(m, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
            ax.set_title(f"{kind.upper()} {titles[map_kind]} {int(cols['unit'].iloc[idx[c]])}",
                         fontsize=7)
    fig.suptitle(f"Input–output maps, layer {layer} — {_model_title(cols)} "
                 "(RBM: mean-field tanh outputs; RG: block spins)")
    fig.tight_layout()
    add_key(fig, "Each panel: one hidden unit's (RBM) or block spin's (RG) map on the visible "
                 "lattice, red positive, blue negative, each on its own symmetric scale. Local "
                 "maps are compact blobs; the RG maps are the b×b blocks by construction.")
    return fig


def locality_figure(locality: pd.DataFrame):
    """Distribution of the locality measures per unit, RBM vs RG, per layer (one row per map
    type: ⟨v h⟩ and receptive field)."""
    setup()
    if "map_type" not in locality.columns:
        locality = locality.assign(map_type="correlation")
    kinds = [m for m in ("correlation", "response") if m in set(locality["map_type"])]
    measures = (("block_fraction", "weight fraction in best b×b block"),
                ("participation_ratio", "participation ratio (sites)"),
                ("radius", "rms radius [lattice units]"))
    fig, axes = plt.subplots(len(kinds), 3, figsize=(14, 3.8 * len(kinds)), squeeze=False)
    for row, map_kind in zip(axes, kinds, strict=True):
        d = locality[locality["map_type"] == map_kind]
        for ax, (measure, label) in zip(row, measures, strict=True):
            sns.boxplot(data=d, x="layer", y=measure, hue="kind", ax=ax, fliersize=0,
                        palette=PALETTE)
            sns.stripplot(data=d, x="layer", y=measure, hue="kind", dodge=True, ax=ax,
                          size=2.5, alpha=0.5, palette="dark:k", legend=False)
            ax.set_ylabel(label)
            ax.set_title({"correlation": "⟨v h⟩ maps", "response": "receptive fields"}[map_kind],
                         fontsize=9)
            if measure == "block_fraction":
                u = d.groupby("layer")["uniform_fraction"].first()
                for i, v in enumerate(u.to_numpy()):
                    ax.plot([i - 0.4, i + 0.4], [v, v], "r:", lw=1.2,
                            label="uniform map" if i == 0 else None)
                ax.set_ylim(0, 1.05)
            if ax.get_legend() is not None:
                ax.get_legend().remove()
    fig.suptitle(f"Locality of input–output maps — {_model_title(locality)}")
    fig.tight_layout()
    # seaborn's hue legend sits on the boxes; one legend right of the panels instead
    handles, labels = drawn_handles(axes[0, 0])
    names = {"rbm": "stacked RBM", "rg": "block-spin RG"}
    fig.legend(handles, [names.get(lab, lab) for lab in labels], loc="center left",
               bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=9)
    add_key(fig, "Boxes: distribution over units of each locality measure, per layer, stacked "
                 "RBM vs block-spin RG (points: single units); red dotted: the value of a "
                 "uniform map. Local maps have a large block fraction, a small participation "
                 "ratio and a small radius.")
    return fig


def layer_temperature_figure(layers: pd.DataFrame, method: str = "thermometer"):
    """Temperature of each layer's output, stacked RBM vs RG; one panel per model."""
    setup()
    d = layers[layers["method"] == method].copy()
    d["panel"] = [("2D Ising" if m == "ising2d" else f"long-range σ={s:g}")
                  for m, s in zip(d["model"], d.get("sigma", pd.Series(np.nan, d.index)),
                                  strict=True)]
    panels = list(dict.fromkeys(d["panel"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4), squeeze=False)
    colors = {"rbm": "C0", "rg": "C3"}
    for ax, panel in zip(axes[0], panels, strict=True):
        g = d[d["panel"] == panel]
        readout = g["readout"] if "readout" in g else pd.Series("placed", g.index)
        for kind, ro, lab, color, fmt in (
                ("rbm", "placed", "stacked RBM (units placed by receptive field)", colors["rbm"], "o-"),
                ("rbm", "reconstruction", "stacked RBM (read back on the input lattice)", "C2",
                 "s--"),
                ("rg", "placed", "block-spin RG", colors["rg"], "o-"),
                ("rg", "majority", "block-spin RG, majority rule (spins)", "C1", "^:")):
            k = g[(g["kind"] == kind) & (readout == ro)].sort_values("layer")
            ood = "in_distribution" in k and not k["in_distribution"].all()
            if ood:  # block averages: shown, marked, not used by any claim
                lab, fmt = f"{lab}, 2x2 averages (out of distribution)", "x--"
            if len(k):
                ax.errorbar(k["layer"], k["temperature"], yerr=k["error"], fmt=fmt, capsize=3,
                            color=color, label=lab, alpha=0.5 if ood else 1.0)
        if "input_temperature" in g:
            ax.axhline(float(g["input_temperature"].iloc[0]), color="k", ls="--", lw=1,
                       label="input temperature")
        ax.set_xlabel("layer (0 = Monte Carlo input)")
        ax.set_title(panel)
        ax.set_xticks(sorted(g["layer"].unique()))
    axes[0, 0].set_ylabel(f"temperature [$J/k_B$] ({_METHOD_LABELS.get(method, method)})")
    legend(axes[0, -1], outside=True, also=axes[0, :-1])  # panels draw different series
    fig.suptitle("Per-layer temperature: stacked RBM vs RG")
    fig.tight_layout()
    add_key(fig, "Temperature read off each layer's output (layer 0: the Monte Carlo input) "
                 "with its error, for the stacked RBM and for block-spin RG; dashed: the input "
                 "temperature. On the chain RG flows to high T (P2); in 2D, majority-rule RG "
                 "of T_c configurations should stay near T_c (its blocks are spins, as the "
                 "thermometers were trained on; block averages are not, so their faded "
                 "readings are shown but no claim uses them: the 2D stack is compared with "
                 "majority-rule RG).")
    return fig
