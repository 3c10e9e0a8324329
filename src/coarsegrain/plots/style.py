"""Shared figure style, axis labels, legends, figure keys and reproducible saving."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import LogFormatterSciNotation  # noqa: E402

from coarsegrain.io import atomic_path  # noqa: E402

PALETTE = "viridis"

# One spelling of the units everywhere: temperatures in units of J/k_B, energies per site in J.
T_LABEL = r"temperature $T$ [$J/k_B$]"
E_LABEL = "energy per site [$J$]"


def setup() -> None:
    """Apply the project style (seaborn ticks, readable sizes)."""
    sns.set_theme(context="paper", style="ticks", font_scale=1.15,
                  rc={"figure.dpi": 110, "savefig.dpi": 150, "axes.grid": True,
                      "grid.alpha": 0.3, "svg.hashsalt": "coarsegrain"})


class PlainLogFormatter(LogFormatterSciNotation):
    """Log-axis labels as plain numbers ("2", "30", "0.05") where they are short.

    Matplotlib's default labels the minor ticks of a short log axis "2×10^0"; this keeps its
    choice of which ticks get a label and writes those between 1e-3 and 1e5 as plain numbers
    (integers without a decimal point), larger or smaller ones as powers of ten.
    """

    def __call__(self, x, pos=None):
        s = super().__call__(x, pos)
        if not s or x == 0 or not 1e-3 <= abs(x) < 1e5:
            return s
        return f"{x:.0f}" if float(x).is_integer() else f"{x:.3g}"


def tidy_log_axes(fig) -> None:
    """Give every log-scaled axis of ``fig`` plain-number tick labels (see
    :class:`PlainLogFormatter`); linear axes, and axes given fixed labels (e.g. by
    :func:`integer_ticks`), are left alone."""
    for ax in fig.axes:
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale != "log" or isinstance(axis.get_major_formatter(),
                                            matplotlib.ticker.FixedFormatter):
                continue
            base = getattr(axis.get_transform(), "base", 10)
            axis.set_major_formatter(PlainLogFormatter(base=base))
            axis.set_minor_formatter(PlainLogFormatter(base=base, labelOnlyBase=False))


def integer_ticks(ax, values, axis: str = "x") -> None:
    """Put ticks exactly at the integers ``values`` (e.g. k = 1, 2, 4, …, 32), labelled as
    integers, with no minor ticks; works on linear and log axes."""
    values = sorted({int(v) for v in values})
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(matplotlib.ticker.FixedLocator(values))
    target.set_major_formatter(matplotlib.ticker.FixedFormatter([str(v) for v in values]))
    target.set_minor_locator(matplotlib.ticker.NullLocator())


def _has_data(artist) -> bool:
    """Whether a legend handle stands for something drawn (proxy handles made only for a
    legend, e.g. by seaborn, have no axes and count as drawn)."""
    from matplotlib.collections import Collection, PathCollection
    from matplotlib.container import Container
    from matplotlib.lines import Line2D

    if isinstance(artist, Container):
        return any(_has_data(a) for a in artist.get_children())
    if getattr(artist, "axes", None) is None:
        return True
    if isinstance(artist, Line2D):
        xy = np.asarray(artist.get_xydata(), dtype=float)
        return xy.size > 0 and bool(np.isfinite(xy).all(axis=-1).any())
    if isinstance(artist, PathCollection):
        return len(artist.get_offsets()) > 0
    if isinstance(artist, Collection):
        return any(len(p.vertices) for p in artist.get_paths())
    return True


def drawn_handles(*axes) -> tuple[list, list]:
    """Legend handles and labels of ``axes`` that stand for drawn data, without duplicates.

    A series plotted from an empty table still gets a legend entry in matplotlib; this drops it.
    """
    handles, labels = [], []
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab.startswith("_") or lab in labels or not _has_data(h):
                continue
            handles.append(h)
            labels.append(lab)
    return handles, labels


def legend(ax, outside: bool | str = False, also=(), **kw):
    """Legend of the drawn series of ``ax`` (and of the axes in ``also``, for one key shared
    by panels that draw different series).

    ``outside`` keeps it off the data: True or "right" puts it right of the axes (for the
    rightmost panel of a row), "below" under the x label (for a bottom-row panel with a
    neighbour on its right); False lets matplotlib pick the emptiest corner. Returns the
    legend, or None when nothing labelled was drawn.
    """
    handles, labels = drawn_handles(*also, ax)
    if not handles:
        return None
    kw.setdefault("frameon", False)
    kw.setdefault("fontsize", 8)
    if outside == "below":
        kw.setdefault("loc", "upper center")
        kw.setdefault("bbox_to_anchor", (0.5, -0.2))
        kw.setdefault("ncol", 2)
    elif outside:
        kw.setdefault("loc", "upper left")
        kw.setdefault("bbox_to_anchor", (1.01, 1.0))
        kw.setdefault("borderaxespad", 0.0)
    else:
        kw.setdefault("loc", "best")
    return ax.legend(handles, labels, **kw)


def figure_legend(fig, axes, ncol: int = 1, **kw):
    """One legend for several panels, right of them (outside every panel); entries from
    ``axes`` in order, deduplicated, drawn series only. Call after ``tight_layout``."""
    handles, labels = drawn_handles(*axes)
    if not handles:
        return None
    kw.setdefault("frameon", False)
    kw.setdefault("fontsize", 9)
    return fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5),
                      ncol=ncol, **kw)


def add_key(fig, text: str, width: int = 150) -> None:
    """Write ``text`` (how to read the figure) under the panels, so that the figure explains
    itself wherever it is shown (report viewer, PDF, slides)."""
    fig.text(0.01, -0.01, textwrap.fill(text, width), ha="left", va="top", fontsize=8,
             color="0.25", wrap=False)


def title_note(fig, note: str) -> None:
    """Add ``note`` (what the figure shows of a replicated run, e.g. its protocol and seed) as a
    second line of the figure's title, or as the title if it has none."""
    if not note:
        return
    sup = fig._suptitle  # matplotlib keeps no public getter for the suptitle
    if sup is not None and sup.get_text():
        sup.set_text(f"{sup.get_text()}\n{note}")
    else:
        fig.suptitle(note)


def save_figure(fig, path: str | os.PathLike, pdf: bool = True) -> None:
    """Save ``fig`` as PNG at ``path`` (and PDF beside it), atomically, with fixed metadata.

    Matplotlib stamps PDFs with a creation date and software version; both are removed so
    that the same data give the same bytes.
    """
    tidy_log_axes(fig)
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight", metadata={"Software": None})
    if pdf:
        with atomic_path(path.with_suffix(".pdf"), suffix=".pdf") as tmp:
            fig.savefig(tmp, format="pdf", bbox_inches="tight",
                        metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(fig)
