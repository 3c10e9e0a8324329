"""P3 figures: initialisation experiment, spectra, overlaps, reconstructions, the P1 RBM against
a null, and the covariance-spectrum solvability measures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt

from coarsegrain.plots.style import PALETTE, integer_ticks, legend, setup

SCHEME_COLORS = {"random": "tab:blue", "covariance": "tab:orange", "dataset": "tab:green"}
MODEL_COLORS = {"trained": "tab:red", "null": "tab:grey"}
LOSS = "reconstruction_error"


def unavailable_figure(dataset: str, reason: str):
    """A placeholder page saying why a dataset was skipped and how to supply it."""
    setup()
    fig, ax = plt.subplots(figsize=(8, 2.5))
    ax.axis("off")
    import textwrap

    ax.text(0.0, 0.5, f"{dataset}: skipped\n\n" + textwrap.fill(reason, 110), va="center",
            ha="left", fontsize=9, family="monospace")
    return fig


def training_figure(curves: pd.DataFrame, target: pd.DataFrame, speedup: pd.DataFrame,
                    losses: pd.DataFrame, pruning: pd.DataFrame, noise: pd.DataFrame,
                    dataset: str):
    """Four panels: training loss vs update and vs seconds (one line per initialisation and
    seed; dotted: the fixed target; dashed: PCA's and the untrained data-set autoencoder's
    training loss), held-out loss of the trained weights pruned to their top m singular modes,
    and noise rejection (MSE to the clean data after / before reconstruction). Titles give the
    speedup to the target as an interval over seeds (≥ when a random run never reached it)."""
    setup()
    fig, axes = plt.subplots(1, 4, figsize=(17, 4))
    loss = curves[curves["metric"] == LOSS]
    wall = curves[curves["metric"] == "wall_time"][["scheme", "seed", "update", "value"]]
    merged = loss.merge(wall.rename(columns={"value": "seconds"}), on=["scheme", "seed", "update"])
    for (scheme, seed), d in merged.groupby(["scheme", "seed"]):
        d = d.sort_values("update")
        kw = {"color": SCHEME_COLORS.get(scheme, "grey"), "lw": 1.2, "alpha": 0.85,
              "label": f"{scheme} init" if seed == merged["seed"].min() else None}
        axes[0].plot(d["update"].clip(lower=1), d["value"], **kw)
        axes[1].plot(d["seconds"].clip(lower=1e-3), d["value"], **kw)
    tgt = float(target["target_loss"].iloc[0]) if len(target) else np.nan
    tr = losses[losses["split"] == "train"] if len(losses) else losses
    refs = []
    if len(tr):
        refs = [("PCA", tr[tr["model"] == "pca"]["loss"].mean(), "k"),
                ("data-set AE, untrained", tr[tr["model"] == "dataset_ae"]["loss"].mean(),
                 SCHEME_COLORS["dataset"])]
    for ax, xl in zip(axes[:2], ["update", "training seconds"], strict=True):
        ax.axhline(tgt, color="k", ls=":", lw=1, label="target")
        for label, v, c in refs:
            if np.isfinite(v):
                ax.axhline(v, color=c, ls="--", lw=0.8, label=label)
        ax.set(xscale="log", yscale="log", xlabel=xl, ylabel="reconstruction MSE per unit")
        ax.legend(fontsize=7)
    for ax, unit in zip(axes[:2], ["updates", "seconds"], strict=True):
        d = speedup[speedup["scheme"] == "dataset"] if len(speedup) else speedup
        col = f"speedup_{unit}"
        if len(d) and col + "_lower" in d:
            lo = np.exp(np.log(d[col + "_lower"].clip(lower=1e-300)).mean())
            hi = np.exp(np.log(d[col + "_upper"].clip(lower=1e-300)).mean())
            text = f"{lo:.3g}x" if np.isclose(lo, hi) else (f">= {lo:.3g}x" if np.isinf(hi)
                                                             else f"{lo:.3g}-{hi:.3g}x")
            ax.set_title(f"{dataset}: data-set init speedup {text} ({unit})", fontsize=9)
        elif len(d) and col in d:
            ax.set_title(f"{dataset}: speedup ({unit}) see table", fontsize=9)
    for scheme, d in pruning.groupby("scheme"):
        m = d.groupby("n_modes")["value"].agg(["mean", "std"]).reset_index()
        m = m[m["n_modes"] > 0]
        axes[2].errorbar(m["n_modes"], m["mean"], yerr=m["std"].fillna(0), marker="o", ms=4,
                         capsize=2, color=SCHEME_COLORS.get(scheme, "grey"), label=f"{scheme} init")
    if "full_loss" in pruning and len(pruning):
        axes[2].axhline(pruning["full_loss"].mean(), color="k", ls=":", lw=1, label="unpruned")
    axes[2].set(xscale="log", yscale="log", xlabel="singular modes kept m",
                ylabel="held-out MSE per unit", title="pruning to the top modes")
    axes[2].legend(fontsize=8)
    if len(noise):
        sns.lineplot(noise, x="noise", y="ratio", hue="model", marker="o", ax=axes[3],
                     palette=PALETTE)
        axes[3].axhline(1, color="k", ls=":", lw=1, label="no rejection (ratio 1)")
        kind = noise["kind"].iloc[0] if "kind" in noise else ""
        axes[3].set(xlabel=f"noise level ({kind})", ylabel="MSE(output) / MSE(noisy input)",
                    title="noise rejection")
        axes[3].legend(fontsize=7)
    fig.tight_layout()
    return fig


def spectra_figure(singular: pd.DataFrame, covariance: pd.DataFrame, fourier: pd.DataFrame,
                   overlap: pd.DataFrame, subspace: pd.DataFrame, dataset: str, k_claim: int = 8,
                   n_fourier_modes: int = 4):
    """Six panels: singular spectra of the trained weights (both inits, all seeds), the data
    covariance spectrum, radially averaged Fourier power of the top visible and hidden singular
    vectors (random init, first seed), hidden/low-pass-visible overlap per mode with chance level,
    subspace agreement vs k (final weights) and at k = ``k_claim`` vs update."""
    setup()
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    ax = axes[0, 0]
    for (scheme, seed), d in singular.groupby(["scheme", "seed"]):
        ax.plot(d["mode"] + 1, d["singular_value"], color=SCHEME_COLORS.get(scheme, "grey"),
                lw=1, alpha=0.8, label=f"{scheme} init" if seed == singular["seed"].min() else None)
    ax.set(xscale="log", yscale="log", xlabel="mode", ylabel="singular value of W",
           title=f"{dataset}: trained weights")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    # eigenvalues below 1e-10 of the largest are rounding noise (e.g. constant border pixels)
    ev = covariance[covariance["eigenvalue"] > 1e-10 * covariance["eigenvalue"].max()]
    ax.plot(ev["index"] + 1, ev["eigenvalue"], "k-", lw=1.2)
    ax.set(xscale="log", yscale="log", xlabel="eigen-mode", ylabel="covariance eigenvalue",
           title="training data covariance")
    ax = axes[0, 2]
    first = fourier[(fourier["scheme"] == "random") & (fourier["seed"] == fourier["seed"].min())]
    colors = sns.color_palette(PALETTE, n_fourier_modes)
    for mode in range(n_fourier_modes):
        for side, ls in (("visible", "-"), ("hidden", "--")):
            d = first[(first["mode"] == mode) & (first["side"] == side)]
            if len(d):
                ax.plot(d["k"], d["shell_power"], ls, color=colors[mode], lw=1.2,
                        label=f"mode {mode} {side}")
    ax.set(xlabel="|k| (rad / site)", ylabel="Fourier power in shell",
           title="top singular vectors (random init)")
    legend(ax, outside=True, fontsize=7)
    ax = axes[1, 0]
    for (scheme, seed), d in overlap.groupby(["scheme", "seed"]):
        c = SCHEME_COLORS.get(scheme, "grey")
        lab = seed == overlap["seed"].min()
        ax.plot(d["mode"], d["overlap"], "o-", color=c, ms=3, lw=1,
                label=f"{scheme}: overlap" if lab else None)
        ax.plot(d["mode"], d["lowpass_fraction"], "x:", color=c, ms=4, lw=0.8,
                label=f"{scheme}: visible low-pass fraction" if lab else None)
    if len(overlap):
        ax.axhline(overlap["random_baseline"].iloc[0], color="k", ls=":", lw=1,
                   label="chance level")
    ax.set(xlabel="mode (descending singular value)", ylim=(0, 1.02),
           ylabel="|cos(hidden, low-pass visible)|", title="hidden vs low-pass filtered visible")
    legend(ax, outside="below", fontsize=7)
    ax = axes[1, 1]
    last = subspace.groupby(["scheme", "seed"])["update"].transform("max") == subspace["update"]
    fin = subspace[last]
    for (scheme, seed), d in fin.groupby(["scheme", "seed"]):
        ax.plot(d["k"], d["mean_cos2"], "o-", ms=3, color=SCHEME_COLORS.get(scheme, "grey"),
                label=f"{scheme} init" if seed == fin["seed"].min() else None)
    if len(fin):
        base = fin.drop_duplicates("k").sort_values("k")
        ax.plot(base["k"], base["random_baseline"], "k:", label="chance k/n")
    ax.set_xscale("log", base=2)
    if len(fin):
        integer_ticks(ax, fin["k"].unique())
    ax.set(xlabel="k", ylabel="mean cos² of principal angles", ylim=(0, 1.02),
           title="top-k covariance vs top-k singular subspace")
    ax.legend(fontsize=8)
    ax = axes[1, 2]
    kk = subspace[subspace["k"] == k_claim]
    for (scheme, seed), d in kk.groupby(["scheme", "seed"]):
        d = d.sort_values("update")
        ax.plot(d["update"].clip(lower=1), d["mean_cos2"], "o-", ms=3,
                color=SCHEME_COLORS.get(scheme, "grey"),
                label=f"{scheme} init" if seed == kk["seed"].min() else None)
    ax.set(xscale="log", xlabel="update (0 drawn at 1)", ylabel=f"mean cos² at k={k_claim}",
           ylim=(0, 1.02), title="subspace agreement during training")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def reconstructions_figure(images: np.ndarray, columns: pd.DataFrame, dataset: str):
    """Rows: data, covariance autoencoder (PCA), trained autoencoders; one column per example.
    Grey levels span the data's range; reconstructions outside it saturate."""
    setup()
    models = list(dict.fromkeys(columns["model"]))
    n = int(columns["index"].max()) + 1 if len(columns) else 0
    grid2d = images.reshape(len(images), images.shape[1], -1) if images.ndim == 3 else \
        images.reshape(len(images), 1, -1)
    fig, axes = plt.subplots(len(models), max(n, 1), figsize=(1.3 * max(n, 1) + 1.5,
                                                               1.4 * len(models) + 0.5),
                             squeeze=False)
    data = images[columns["model"].to_numpy() == models[0]] if models else images
    lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 1.0)
    for r, m in enumerate(models):
        sel = np.flatnonzero(columns["model"].to_numpy() == m)
        for c, i in enumerate(sel):
            axes[r, c].imshow(grid2d[i], cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        axes[r, 0].set_ylabel(m, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(f"{dataset}: reconstructions of held-out examples")
    fig.tight_layout()
    return fig


def rbm_figure(singular: pd.DataFrame, fourier: pd.DataFrame, overlap: pd.DataFrame, name: str,
               n_fourier_modes: int = 3):
    """Three panels for a trained RBM against its null (same shape, untrained or shuffled):
    singular spectra, radially averaged Fourier power of the top visible (solid) and hidden
    (dashed) singular vectors (first seed), and the hidden / low-pass-visible overlap per mode
    with chance level. Tables with a ``layer`` column (a stacked RBM) get one row per layer."""
    setup()
    layers = sorted(singular["layer"].unique()) if "layer" in singular else [None]
    fig, axes = plt.subplots(len(layers), 3, figsize=(15, 4.2 * len(layers)), squeeze=False)
    for row, layer in zip(axes, layers, strict=True):
        def pick(df, layer=layer):
            return df if layer is None else df[df["layer"] == layer]

        title = f"RBM {name}"
        if layer is not None and "visible_shape" in singular:
            d = pick(singular)
            title += (f", layer {layer} ({d['visible_shape'].iloc[0]} → "
                      f"{d['hidden_shape'].iloc[0]})")
        _rbm_panels(row, pick(singular), pick(fourier), pick(overlap), title, n_fourier_modes)
    fig.tight_layout()
    return fig


def _rbm_panels(axes, singular, fourier, overlap, title, n_fourier_modes):
    for (model, seed), d in singular.groupby(["model", "seed"]):
        axes[0].plot(d["mode"] + 1, d["singular_value"], color=MODEL_COLORS.get(model, "k"),
                     lw=1, alpha=0.8, label=model if seed == singular["seed"].min() else None)
    axes[0].set(xscale="log", yscale="log", xlabel="mode", ylabel="singular value of W",
                title=title)
    axes[0].legend(fontsize=8)
    first = fourier[fourier["seed"] == fourier["seed"].min()]
    colors = sns.color_palette(PALETTE, n_fourier_modes)
    for mode in range(n_fourier_modes):
        for side, ls in (("visible", "-"), ("hidden", "--")):
            d = first[(first["mode"] == mode) & (first["side"] == side)
                      & (first["model"] == "trained")]
            if len(d):
                axes[1].plot(d["k"], d["shell_power"], ls, color=colors[mode], lw=1.2,
                             label=f"mode {mode} {side}")
    axes[1].set(xlabel="|k| (rad / site)", ylabel="Fourier power in shell",
                title="top singular vectors (trained, first seed)")
    legend(axes[1], outside="below", fontsize=7)
    for (model, seed), d in overlap.groupby(["model", "seed"]):
        axes[2].plot(d["mode"], d["overlap"], "o-", ms=3, lw=1, color=MODEL_COLORS.get(model, "k"),
                     label=model if seed == overlap["seed"].min() else None)
    if len(overlap):
        axes[2].axhline(overlap["random_baseline"].iloc[0], color="k", ls=":", lw=1,
                        label="chance")
    axes[2].set(xlabel="mode (descending singular value)", ylim=(0, 1.02),
                ylabel="|cos(hidden, low-pass visible)|", title="hidden vs low-pass visible")
    axes[2].legend(fontsize=8)


def solvability_figure(table: pd.DataFrame, spectra: dict):
    """Cumulative covariance variance fraction vs number of modes per dataset (marker at
    n_hidden, dotted line at the fraction q), and the participation ratio per dataset."""
    setup()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = sns.color_palette(PALETTE, max(len(spectra), 1))
    for c, (name, cov) in zip(colors, spectra.items(), strict=False):
        ev = cov["eigenvalue"].to_numpy(dtype=float)
        cum = np.cumsum(ev) / max(ev.sum(), 1e-300)
        k = np.arange(1, ev.size + 1)
        axes[0].plot(k, cum, color=c, lw=1.3, label=name)
        row = table[table["dataset"] == name]
        if len(row):
            nh = int(row["n_hidden"].iloc[0])
            axes[0].plot([nh], [cum[min(nh, ev.size) - 1]], "o", color=c, ms=6)
    if len(table):
        axes[0].axhline(float(table["q"].iloc[0]), color="k", ls=":", lw=1, label="q")
        axes[1].bar(table["dataset"], table["participation_ratio"],
                    color=[("tab:green" if s else "tab:red") for s in table["solvable"]])
        axes[1].set_ylim(0, 1.25 * float(table["participation_ratio"].max()))  # room for labels
        for i, r in enumerate(table.itertuples()):
            axes[1].text(i, r.participation_ratio, f"n_q={r.n_modes_q}\nn_h={r.n_hidden}",
                         ha="center", va="bottom", fontsize=7)
    axes[0].set(xscale="log", xlabel="covariance modes k", ylabel="variance fraction in top k",
                ylim=(0, 1.02), title="our reading of P3's criterion (dot: k = n_hidden)")
    axes[0].legend(fontsize=8)
    axes[1].set(ylabel="participation ratio (Σλ)²/Σλ²",
                title="effective modes (green: n_q <= n_hidden)")
    fig.tight_layout()
    return fig
