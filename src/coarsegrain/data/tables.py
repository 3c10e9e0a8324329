"""The Parquet form of an image dataset, and the marker written when a dataset is unavailable.

A dataset table is written with :func:`coarsegrain.io.write_lattices`: one row per image, the
image as float32 of shape (height, width) with values in [0, 1] (or {0, 1} when binarised),
and per-row columns ``label`` (int64; -1 when the dataset has no classes) and ``split``
(``train`` | ``test``), plus dataset-specific columns (e.g. SWIMSEG's ``cloud_fraction``).
The provenance metadata holds ``dataset``, ``available: true``, ``source`` (the route that
served), ``sha256`` (every digest seen: raw files, archives, wheels), ``preprocessing`` and
``counts``.

When no source can provide a dataset the stage writes the same file with zero rows and
``available: false`` plus ``reason`` (the :class:`~coarsegrain.data.fetch.DatasetUnavailable`
message), so downstream rules still run and can skip it: check with :func:`dataset_available`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from coarsegrain.io import read_lattices, read_meta, write_lattices


@dataclass
class ImageDataset:
    """Preprocessed images with per-row columns and provenance.

    Attributes
    ----------
    images : float32, shape (n, height, width)
    labels : int64, shape (n,)
    split : str, shape (n,), ``train`` | ``test``
    columns : extra per-row columns, each of shape (n,)
    meta : provenance (source, sha256 digests seen, preprocessing, counts)
    """

    images: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def write_dataset(ds: ImageDataset, path: str | os.PathLike,
                  meta: Mapping[str, Any] | None = None) -> None:
    """Write ``ds`` atomically; ``meta`` (the stage provenance) is merged with ``ds.meta``."""
    m = dict(meta or {})
    m.update(ds.meta)
    m["available"] = True
    cols = {"label": np.asarray(ds.labels, dtype=np.int64),
            "split": np.asarray(ds.split, dtype=str)}
    cols.update(ds.columns)
    write_lattices(np.asarray(ds.images, dtype=np.float32), path, meta=m, columns=cols)


def write_unavailable(path: str | os.PathLike, dataset: str, reason: str, shape: tuple[int, int],
                      meta: Mapping[str, Any] | None = None) -> None:
    """Write the zero-row marker table for a dataset that could not be obtained."""
    m = dict(meta or {})
    m.update(dataset=dataset, available=False, reason=reason)
    write_lattices(np.zeros((0, *shape), dtype=np.float32), path, meta=m,
                   columns={"label": np.zeros(0, dtype=np.int64), "split": np.zeros(0, dtype=str)})


def dataset_available(path: str | os.PathLike) -> tuple[bool, str]:
    """``(True, "")`` for a real dataset table, ``(False, reason)`` for a marker."""
    meta = read_meta(path)
    return bool(meta.get("available", True)), str(meta.get("reason", ""))


def read_dataset(path: str | os.PathLike) -> tuple[np.ndarray, pd.DataFrame, dict]:
    """Read a dataset table: ``(images float32 (n, H, W), columns DataFrame, meta)``."""
    return read_lattices(path, with_columns=True)
