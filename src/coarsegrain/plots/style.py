"""Shared figure style and reproducible saving."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from coarsegrain.io import atomic_path  # noqa: E402

PALETTE = "viridis"


def setup() -> None:
    """Apply the project style (seaborn ticks, readable sizes)."""
    sns.set_theme(context="paper", style="ticks", font_scale=1.15,
                  rc={"figure.dpi": 110, "savefig.dpi": 150, "axes.grid": True,
                      "grid.alpha": 0.3, "svg.hashsalt": "coarsegrain"})


def save_figure(fig, path: str | os.PathLike, pdf: bool = True) -> None:
    """Save ``fig`` as PNG at ``path`` (and PDF beside it), atomically, with fixed metadata.

    Matplotlib stamps PDFs with a creation date and software version; both are removed so
    that the same data give the same bytes.
    """
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight", metadata={"Software": None})
    if pdf:
        with atomic_path(path.with_suffix(".pdf"), suffix=".pdf") as tmp:
            fig.savefig(tmp, format="pdf", bbox_inches="tight",
                        metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(fig)
