"""Training-curve figures of RBMs, stacked RBMs and autoencoders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from coarsegrain.plots.style import PALETTE, add_key, setup, tidy_log_axes

# Panels: (title, [(metric, line style label)])
_PANELS = [
    ("log-likelihood [nats/sample]", [("loglik_train", "train"), ("loglik_heldout", "held out")]),
    ("pseudo-log-likelihood", [("pseudo_loglik", "train")]),
    ("free-energy gap (held out − train)", [("free_energy_gap", "gap")]),
    ("reconstruction error per unit", [("reconstruction_error", "train"),
                                       ("reconstruction_error_heldout", "held out")]),
    ("energy per site [$J$]", [("energy_model", "model"), ("energy_data", "data")]),
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
    styles_used: dict[str, set] = {s: set() for s in _STYLES}
    any_error = False
    for ax, (ttl, metrics) in zip(axes.flat, panels, strict=False):
        for key in keys:
            for (metric, label), ls in zip(metrics, _STYLES, strict=False):
                d = curves[(curves[hue] == key) & (curves["metric"] == metric)]
                d = d.sort_values("update")
                if d.empty:
                    continue
                styles_used[ls].add(label)
                x = d["update"].clip(lower=0.5)  # update 0 on a log axis
                ax.plot(x, d["value"], ls, color=colors[key], lw=1.3)
                err = d["error"].to_numpy(dtype=float)
                if np.isfinite(err).any():
                    any_error = True
                    # ± one error: a band along the curve and caps at the evaluated updates,
                    # so that errors show even where only a few updates were evaluated
                    e = np.nan_to_num(err, nan=0.0)
                    ax.fill_between(x, d["value"] - e, d["value"] + e, color=colors[key],
                                    alpha=0.25, lw=0)
                    ax.errorbar(x, d["value"], yerr=np.where(np.isfinite(err), err, np.nan),
                                fmt="none", ecolor=colors[key], elinewidth=0.8, capsize=2)
        if "selected_update" in curves:
            # the checkpoint the rule picked on held-out data (what flows and analyses use)
            for key in keys:
                sel = curves.loc[curves[hue] == key, "selected_update"].dropna()
                if len(sel):
                    ax.axvline(max(float(sel.iloc[0]), 0.5), color=colors[key], ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("update")
        ax.set_title(ttl, fontsize=10)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    tidy_log_axes(fig)
    # one key for all panels, right of them: colours name the curves' models/layers, line
    # styles what each panel compares (train vs held out, model vs data)
    handles = [Line2D([], [], color=colors[k], lw=1.5) for k in keys]
    labels = [f"{hue} {k}" for k in keys]
    for ls in _STYLES:
        if styles_used[ls]:
            handles.append(Line2D([], [], color="0.3", ls=ls, lw=1.3))
            labels.append(" / ".join(sorted(styles_used[ls])))
    if any_error:
        handles.append(Patch(color="0.3", alpha=0.25))
        labels.append("± error")
    if "selected_update" in curves and curves["selected_update"].notna().any():
        handles.append(Line2D([], [], color="0.3", ls=":", lw=1))
        labels.append("selected checkpoint")
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
               fontsize=9)
    add_key(fig, "Monitor metrics vs PCD update (log axis). Bands and caps: ± one error where "
                 "the metric has one (log-likelihood: AIS error of log Z, zero when Z is exact; "
                 "others: standard error over the monitored samples).", width=110)
    return fig
