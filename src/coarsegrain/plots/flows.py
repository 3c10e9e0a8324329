"""Figures of RBM flows, thermometers, temperature flows, correlators and ⟨v h⟩ maps.

One function per figure, each taking tidy tables (as written by :mod:`coarsegrain.flow.stages`)
and returning a matplotlib Figure; :data:`FIGURE_STAGES` holds the ``plots.<name>`` stages that
read the tables and save the figures.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt
from matplotlib.ticker import ScalarFormatter

from coarsegrain.plots.style import PALETTE, setup

_METHOD_LABELS = {"thermometer": "thermometer ⟨T⟩", "thermometer_argmax": "thermometer argmax",
                  "energy": "matched ⟨E⟩", "abs_magnetization": "matched ⟨|m|⟩"}
_SOURCE_LABELS = {"mc": "from MC data", "T0": "from T=0 (all up)", "Tinf": "from T=∞ (random)"}


def _model_title(df: pd.DataFrame) -> str:
    if "model" not in df.columns or df.empty:
        return ""
    model = df["model"].iloc[0]
    if model == "longrange" and "sigma" in df.columns:
        return f"long-range chain, σ={df['sigma'].iloc[0]:g}"
    return {"ising2d": "2D Ising"}.get(model, str(model))


def _show_config(ax, x, title=""):
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    ax.imshow(x, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest",
              aspect="equal" if x.shape[0] > 1 else "auto")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8)


# ----------------------------------------------------------------------------- figures


def examples_figure(examples: pd.DataFrame, flow_steps: dict | None = None, example: int = 0):
    """Example configuration and its coarse-grainings: RG blocks, stacked-RBM layers, RBM flow.

    Parameters
    ----------
    examples : table with columns kind (rbm | rg), layer, example, shape, values (see
        :func:`coarsegrain.flow.stages.layer_examples`); layer 0 is the Monte Carlo input
    flow_steps : optional mapping step → configuration (lattice shape) of one RBM flow
    example : which example to show
    """
    setup()
    ex = examples[examples["example"] == example]
    rows = [("block-spin RG", ex[ex["kind"] == "rg"]), ("stacked RBM", ex[ex["kind"] == "rbm"])]
    n_cols = max([len(d) for _, d in rows] + [len(flow_steps or {})])
    n_rows = 2 + (1 if flow_steps else 0)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.1 * n_cols, 2.3 * n_rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for r, (label, d) in enumerate(rows):
        for c, (_, row) in enumerate(d.sort_values("layer").iterrows()):
            ax = axes[r, c]
            ax.axis("on")
            x = np.asarray(row["values"], dtype=float).reshape(tuple(row["shape"]))
            name = "MC input" if row["layer"] == 0 else f"layer {row['layer']}"
            _show_config(ax, x, f"{label}\n{name} ({'×'.join(map(str, row['shape']))})")
    if flow_steps:
        for c, (step, x) in enumerate(sorted(flow_steps.items())):
            axes[2, c].axis("on")
            _show_config(axes[2, c], x, f"RBM flow\nstep {step}")
    fig.suptitle(f"Coarse-graining one configuration — {_model_title(examples)}")
    fig.tight_layout()
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
    ax.set_xlabel("predicted T (argmax)")
    ax.set_ylabel("true T")
    acc = calibration["overall_accuracy"].iloc[0] if "overall_accuracy" in calibration else math.nan
    chance = calibration["overall_chance"].iloc[0] if "overall_chance" in calibration else math.nan
    ax.set_title(f"confusion matrix: accuracy {acc:.2f} (chance {chance:.2f})")
    t = calibration["true_temperature"]
    ax2.errorbar(t, calibration["expected_mean"], yerr=calibration["expected_std"], fmt="o",
                 capsize=2, label="⟨Σ p_k T_k⟩ ± std")
    ax2.plot(t, calibration["argmax_mean"], "s", mfc="none", label="mean argmax T")
    lim = [float(t.min()), float(t.max())]
    ax2.plot(lim, lim, "k--", lw=1, label="ideal")
    ax2.set_xlabel("true T")
    ax2.set_ylabel("predicted T")
    ax2.legend(frameon=False)
    size = calibration["lattice_size"].iloc[0] if "lattice_size" in calibration else "?"
    ax2.set_title(f"calibration on held-out Monte Carlo data (L={size})")
    fig.tight_layout()
    return fig


def temperature_flow_figure(temps: pd.DataFrame, t_c: float | None = None,
                            methods=("thermometer", "energy")):
    """Estimated temperature vs RBM-flow step, per start (MC data, T=0, T=∞) and estimator."""
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
    axes[0, 0].set_ylabel("estimated temperature [J]")
    axes[0, 0].legend(frameon=False, fontsize=8)
    fig.suptitle(f"Temperature along the RBM flow — {_model_title(temps)}")
    fig.tight_layout()
    return fig


def observables_flow_figure(obs: pd.DataFrame, mc_reference: pd.DataFrame | None = None):
    """⟨|m|⟩ and ⟨E⟩ per site vs flow step, per start; optional MC values at the input T."""
    setup()
    names = [n for n in ("abs_magnetization", "energy") if n in set(obs["observable"])]
    sources = sorted(obs["source"].unique(), key=lambda s: ("mc", "T0", "Tinf", s).index(s)
                     if s in ("mc", "T0", "Tinf") else 3)
    colors = dict(zip(sources, sns.color_palette(PALETTE, len(sources)), strict=True))
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for s in sources:
            g = obs[(obs["source"] == s) & (obs["observable"] == name)].sort_values("step")
            ax.errorbar(g["step"], g["value"], yerr=g["error"], fmt="o-", ms=3, lw=1, capsize=2,
                        color=colors[s], label=_SOURCE_LABELS.get(s, s))
        if mc_reference is not None:
            ref = mc_reference[mc_reference["observable"] == name]
            if len(ref):
                ax.axhline(float(ref["value"].iloc[0]), color="k", ls="--", lw=1,
                           label="Monte Carlo at input T")
        ax.set_xlabel("RBM flow step")
        ax.set_ylabel({"abs_magnetization": "⟨|m|⟩", "energy": "energy per site"}[name])
    axes[0, 0].legend(frameon=False, fontsize=8)
    fig.suptitle(f"Observables along the RBM flow — {_model_title(obs)}")
    fig.tight_layout()
    return fig


def correlators_figure(correlators: pd.DataFrame, deltas: pd.DataFrame,
                       exact: dict | None = None, source: str = "mc"):
    """Spin and energy correlators (MC and flow steps) with fits, and Δ_σ, Δ_ε vs flow step.

    Parameters
    ----------
    correlators, deltas : tables from :func:`coarsegrain.flow.stages.correlators`
    exact : optional reference values {"spin": Δ_σ, "energy": Δ_ε} drawn as lines
    source : which flow start to show
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
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.set_xlabel("distance r")
        ax.set_ylabel("⟨s s⟩" if op == "spin" else "⟨ε ε⟩ connected")
        ax.set_title(f"{op} correlator and fits")
        ax.legend(frameon=False, fontsize=7)
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
            ax.axhline(exact[op], color="k", ls="--", lw=1)
            ax.annotate(f"exact {exact[op]:g}", (0.01, exact[op]), xycoords=("axes fraction", "data"),
                        fontsize=7, va="bottom")
    ax.set_xlabel("RBM flow step")
    ax.set_ylabel("scaling dimension Δ")
    ax.legend(frameon=False, fontsize=7)
    ax.set_title("Δ from power-law fits vs flow step")
    fig.suptitle(f"Correlators of flowed configurations — {_model_title(deltas)}")
    fig.tight_layout()
    return fig


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
            ax.legend(frameon=False, fontsize=8)
    fig.suptitle(f"Locality of input–output maps — {_model_title(locality)}")
    fig.tight_layout()
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
        for kind, lab in (("rbm", "stacked RBM"), ("rg", "block-spin RG")):
            k = g[g["kind"] == kind].sort_values("layer")
            ax.errorbar(k["layer"], k["temperature"], yerr=k["error"], fmt="o-", capsize=3,
                        color=colors[kind], label=lab)
        if "input_temperature" in g:
            ax.axhline(float(g["input_temperature"].iloc[0]), color="k", ls="--", lw=1,
                       label="input T")
        ax.set_xlabel("layer (0 = Monte Carlo input)")
        ax.set_title(panel)
        ax.set_xticks(sorted(g["layer"].unique()))
    axes[0, 0].set_ylabel(f"temperature [{_METHOD_LABELS.get(method, method)}]")
    axes[0, 0].legend(frameon=False, fontsize=8)
    fig.suptitle("Per-layer temperature: stacked RBM vs RG")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- stages


def _read(ctx, name):
    from coarsegrain import io

    return pd.concat([io.read_table(p)[0] for p in ctx.inputs[name]], ignore_index=True)


def _save(ctx, fig):
    from coarsegrain.plots.style import save_figure

    save_figure(fig, ctx.output("figure"), pdf=ctx.params.get("pdf", True))


def _tc(ctx) -> float | None:
    """T_c from the ``tc`` param, or from a ``tc`` input table (tc_estimate; a measured T_c)."""
    if ctx.params.get("tc") is not None:
        return float(ctx.params["tc"])
    if ctx.inputs.get("tc"):
        df = _read(ctx, "tc")
        if "sigma" in df.columns and ctx.params.get("sigma") is not None:
            df = df[np.isclose(df["sigma"], float(ctx.params["sigma"]))]
        return float(df["tc_estimate"].iloc[0]) if len(df) else None
    return None


def stage_examples(ctx) -> None:
    """Inputs: examples (from flow.layer-temperatures), flow (optional flow file)."""
    from coarsegrain import io

    flow_steps = None
    if "flow" in ctx.inputs:
        x, cols, _ = io.read_spins(ctx.input("flow"), with_columns=True)
        sel = (cols["source"] == ctx.params.get("source", "mc")).to_numpy()
        steps = ctx.params.get("steps") or sorted(cols.loc[sel, "step"].unique())[:6]
        flow_steps = {int(s): x[np.flatnonzero(sel & (cols["step"] == s).to_numpy())[0]]
                      for s in steps}
    _save(ctx, examples_figure(_read(ctx, "examples"), flow_steps))


def stage_calibration(ctx) -> None:
    _save(ctx, calibration_figure(_read(ctx, "confusion"), _read(ctx, "calibration")))


def stage_temperature_flow(ctx) -> None:
    _save(ctx, temperature_flow_figure(_read(ctx, "temperatures"), _tc(ctx),
                                       tuple(ctx.params.get("methods", ("thermometer", "energy")))))


def stage_observables_flow(ctx) -> None:
    ref = None
    if "reference" in ctx.inputs:
        ref = _read(ctx, "reference")
        # the input temperature as a value, or (chain grids relative to T_c) as T/T_c
        key = next((k for k in ("temperature", "temperature_ratio")
                    if ctx.params.get(k) is not None and k in ref.columns), None)
        ref = ref[np.isclose(ref[key], float(ctx.params[key]))
                  & (ref["L"] == int(ctx.params["L"]))] if key else None
    _save(ctx, observables_flow_figure(_read(ctx, "observables"), ref))


def stage_correlators(ctx) -> None:
    _save(ctx, correlators_figure(_read(ctx, "correlators"), _read(ctx, "deltas"),
                                  ctx.params.get("exact")))


def stage_iomaps(ctx) -> None:
    from coarsegrain import io

    maps, cols, _ = io.read_lattices(ctx.input("maps"), with_columns=True)
    meta_cols = cols.assign(**{k: v for k, v in ctx.params.items() if k in ("model", "sigma")})
    _save(ctx, iomap_figure(maps, meta_cols, n_units=int(ctx.params.get("n_units", 8))))


def stage_locality(ctx) -> None:
    _save(ctx, locality_figure(_read(ctx, "locality")))


def stage_layer_temperatures(ctx) -> None:
    _save(ctx, layer_temperature_figure(_read(ctx, "layers"),
                                        ctx.params.get("method", "thermometer")))


FIGURE_STAGES = {
    "flow-examples": stage_examples,
    "flow-calibration": stage_calibration,
    "flow-temperature": stage_temperature_flow,
    "flow-observables": stage_observables_flow,
    "flow-correlators": stage_correlators,
    "flow-iomaps": stage_iomaps,
    "flow-locality": stage_locality,
    "flow-layer-temperatures": stage_layer_temperatures,
}
