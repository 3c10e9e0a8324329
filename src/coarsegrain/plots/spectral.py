"""P3 figures: covariance-initialisation training curves, spectra, overlaps, reconstructions."""

from __future__ import annotations

import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt

from coarsegrain.plots.style import PALETTE, setup

SCHEME_COLORS = {"random": "tab:blue", "covariance": "tab:orange"}
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


def training_figure(curves: pd.DataFrame, speedup: pd.DataFrame, pruning: pd.DataFrame,
                    noise: pd.DataFrame, dataset: str):
    """Four panels: training loss vs update and vs seconds (random vs covariance init, one line
    per seed, dotted line at the random runs' mean final loss), held-out loss of the weights
    pruned to their top m singular modes, and noise rejection (MSE to the clean data after / before
    reconstruction)."""
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
    target = speedup["target_loss"].mean() if len(speedup) else np.nan
    g = np.exp(np.log(speedup["speedup_updates"]).mean()) if len(speedup) else np.nan
    gs = np.exp(np.log(speedup["speedup_seconds"]).mean()) if len(speedup) else np.nan
    for ax, xl in zip(axes[:2], ["update", "training seconds"], strict=True):
        ax.axhline(target, color="k", ls=":", lw=1)
        ax.set(xscale="log", yscale="log", xlabel=xl, ylabel="reconstruction MSE per unit")
        ax.legend(fontsize=8)
    axes[0].set_title(f"{dataset}: speedup {g:.3g}x (updates)")
    axes[1].set_title(f"speedup {gs:.3g}x (seconds)")
    for scheme, d in pruning.groupby("scheme"):
        m = d.groupby("n_modes")["value"].agg(["mean", "std"]).reset_index()
        axes[2].errorbar(m["n_modes"], m["mean"], yerr=m["std"].fillna(0), marker="o", ms=4,
                         capsize=2, color=SCHEME_COLORS.get(scheme, "grey"), label=f"{scheme} init")
    axes[2].set(xscale="log", xlabel="singular modes kept m", ylabel="held-out MSE per unit",
                title="pruning to the top modes")
    axes[2].legend(fontsize=8)
    if len(noise):
        sns.lineplot(noise, x="noise", y="ratio", hue="model", marker="o", ax=axes[3],
                     palette=PALETTE)
        axes[3].axhline(1, color="k", ls=":", lw=1)
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
    ax.legend(fontsize=7, ncol=2)
    ax = axes[1, 0]
    for (scheme, seed), d in overlap.groupby(["scheme", "seed"]):
        c = SCHEME_COLORS.get(scheme, "grey")
        lab = seed == overlap["seed"].min()
        ax.plot(d["mode"], d["overlap"], "o-", color=c, ms=3, lw=1,
                label=f"{scheme}: overlap" if lab else None)
        ax.plot(d["mode"], d["lowpass_fraction"], "x:", color=c, ms=4, lw=0.8,
                label=f"{scheme}: visible low-pass fraction" if lab else None)
    if len(overlap):
        ax.axhline(overlap["random_baseline"].iloc[0], color="k", ls=":", lw=1, label="chance")
    ax.set(xlabel="mode (descending singular value)", ylim=(0, 1.02),
           ylabel="|cos(hidden, low-pass visible)|", title="hidden vs low-pass filtered visible")
    ax.legend(fontsize=7)
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
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
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
