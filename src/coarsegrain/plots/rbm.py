"""Training-curve figures of RBMs, stacked RBMs and autoencoders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt

from coarsegrain.plots.style import PALETTE, setup

# Panels: (title, [(metric, line style label)])
_PANELS = [
    ("log-likelihood [nats/sample]", [("loglik_train", "train"), ("loglik_heldout", "held out")]),
    ("pseudo-log-likelihood", [("pseudo_loglik", "train")]),
    ("free-energy gap (held out − train)", [("free_energy_gap", "gap")]),
    ("reconstruction error per unit", [("reconstruction_error", "train"),
                                       ("reconstruction_error_heldout", "held out")]),
    ("energy per site", [("energy_model", "model"), ("energy_data", "data")]),
    (r"$\langle |m| \rangle$", [("abs_mag_model", "model"), ("abs_mag_data", "data")]),
]
_STYLES = ["-", "--"]


def training_curves_figure(curves: pd.DataFrame, hue: str = "model", title: str = ""):
    """Monitor metrics against the update number, one panel per quantity present.

    Parameters
    ----------
    curves : tidy table with columns update, metric, value, error and the ``hue`` column
        (e.g. ``model`` for several RBMs, ``layer`` for a stack)
    hue : column that distinguishes the curves (colours); within a panel, line styles
        distinguish train/held-out or model/data
    title : figure title
    """
    setup()
    present = set(curves["metric"])
    panels = [(t, [m for m in ms if m[0] in present]) for t, ms in _PANELS]
    panels = [(t, ms) for t, ms in panels if ms]
    if not panels:
        raise ValueError("no known monitor metrics in the curves table")
    keys = sorted(curves[hue].unique(), key=str)
    colors = dict(zip(keys, sns.color_palette(PALETTE, len(keys)), strict=True))
    ncol = min(3, len(panels))
    nrow = int(np.ceil(len(panels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.3 * nrow), squeeze=False)
    for ax, (ttl, metrics) in zip(axes.flat, panels, strict=False):
        for key in keys:
            for (metric, label), ls in zip(metrics, _STYLES, strict=False):
                d = curves[(curves[hue] == key) & (curves["metric"] == metric)]
                d = d.sort_values("update")
                if d.empty:
                    continue
                x = d["update"].clip(lower=0.5)  # update 0 on a log axis
                ax.plot(x, d["value"], ls, color=colors[key], lw=1.3,
                        label=f"{hue} {key}, {label}" if len(keys) > 1 else label)
                err = d["error"].to_numpy(dtype=float)
                if np.isfinite(err).any() and (np.nan_to_num(err) > 0).any():
                    ax.fill_between(x, d["value"] - err, d["value"] + err, color=colors[key],
                                    alpha=0.2, lw=0)
        ax.set_xscale("log")
        ax.set_xlabel("update")
        ax.set_title(ttl, fontsize=10)
        ax.legend(fontsize=7, frameon=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
