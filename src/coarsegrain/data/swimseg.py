"""SWIMSEG (Singapore Whole-sky IMaging SEGmentation): 1,013 sky images with cloud masks.

There is no public URL or checksum: the authors send a zip on request. The user points config
key ``datasets.swimseg.path`` at that zip or at its extracted folder; the folder holding ``images/`` and
``GTmaps/`` may be the root or up to two levels below it. Counts are verified (1,013 images and
1,013 masks for the real set; ``expected_count`` can be lowered for small test sets) and the
sha256 seen is recorded (of the zip, or a tree digest of the folder's files, see
:func:`coarsegrain.data.fetch.tree_sha256`).

SWIMSEG has no classes: ``label`` is -1 and an extra column ``cloud_fraction`` holds the
fraction of cloud pixels (mask value > 127) of each image's ground-truth map. Images are paired
with masks by file stem (``0001.png`` ↔ ``0001_GT.png`` or ``0001.png``). The split is a seeded
random ``test_fraction`` hold-out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from coarsegrain.data.fetch import (
    DataError,
    DatasetUnavailable,
    default_cache_dir,
    extract_archive,
    sha256_file,
    tree_sha256,
)
from coarsegrain.data.preprocess import list_images, load_images, stratified_split
from coarsegrain.data.tables import ImageDataset

log = logging.getLogger(__name__)

EXPECTED_COUNT = 1013
IMAGES_DIR, MASKS_DIR = "images", "GTmaps"

HOW_TO_SUPPLY = ("request the SWIMSEG zip from its authors (1013 600x600 sky images in images/, "
                 "cloud masks in GTmaps/) and set config key 'datasets.swimseg.path' to that zip or to "
                 "its extracted folder")


def find_swimseg_root(root: str | os.PathLike) -> Path:
    """The folder (``root`` or up to two levels below) that holds ``images/`` and ``GTmaps/``."""
    root = Path(root)
    candidates = [root, *sorted(p for p in root.glob("*") if p.is_dir()),
                  *sorted(p for p in root.glob("*/*") if p.is_dir())]
    for c in candidates:
        if (c / IMAGES_DIR).is_dir() and (c / MASKS_DIR).is_dir():
            return c
    raise DataError(f"{root}: no folder holding both {IMAGES_DIR}/ and {MASKS_DIR}/")


def pair_masks(images: Sequence[Path], masks: Sequence[Path]) -> list[Path | None]:
    """For each image the mask with the same stem (optionally suffixed ``_GT``), else None."""
    by_stem: dict[str, Path] = {}
    for m in masks:
        stem = m.stem
        by_stem.setdefault(stem[:-3] if stem.upper().endswith("_GT") else stem, m)
    return [by_stem.get(p.stem) for p in images]


def cloud_fraction(mask_path: str | os.PathLike) -> float:
    """Fraction of pixels with grey value > 127 in a ground-truth map, at full resolution."""
    from PIL import Image

    try:
        with Image.open(mask_path) as im:
            return float((np.asarray(im.convert("L")) > 127).mean())
    except OSError as exc:
        raise DataError(f"{mask_path}: not a readable mask image ({exc})") from exc


def locate_swimseg(path: str | os.PathLike | None, cache_dir: str | os.PathLike | None = None
                   ) -> tuple[Path, dict]:
    """Resolve a user-supplied zip or folder to the folder holding ``images/`` and ``GTmaps/``.

    Returns ``(root, {"source": "path", "sha256": {...}})``; raises :class:`DatasetUnavailable`
    when no path is configured or it does not hold SWIMSEG.
    """
    if path is None:
        raise DatasetUnavailable("swimseg", HOW_TO_SUPPLY,
                                 ["path: config key 'datasets.swimseg.path' is not set"])
    p = Path(path)
    try:
        if p.is_dir():
            root = find_swimseg_root(p)
            files = list_images(root / IMAGES_DIR) + list_images(root / MASKS_DIR)
            return root, {"source": "path", "sha256": {"folder": tree_sha256(root, files)}}
        if not p.is_file():
            raise DataError(f"{p}: no such file or folder")
        digest = sha256_file(p)
        dest = default_cache_dir(cache_dir) / "swimseg"
        marker = dest / ".archive-sha256"
        if not (marker.is_file() and marker.read_text().strip() == digest):
            extract_archive(p, dest)
            marker.write_text(digest + "\n")
        return find_swimseg_root(dest), {"source": "path", "sha256": {p.name: digest}}
    except DataError as exc:
        raise DatasetUnavailable("swimseg", HOW_TO_SUPPLY, [f"path: {exc}"]) from exc


def load_swimseg(path: str | os.PathLike | None, cache_dir: str | os.PathLike | None = None,
                 size: int | Sequence[int] = 32, mode: str = "unit", threshold: float = 0.5,
                 test_fraction: float = 0.2, seed: int = 0,
                 expected_count: int | None = EXPECTED_COUNT,
                 max_images: int | None = None) -> ImageDataset:
    """SWIMSEG as grey, centre-cropped, area-downscaled images with their cloud fractions.

    Parameters
    ----------
    path : the user's zip or folder (config key ``datasets.swimseg.path``)
    size, mode, threshold : preprocessing (see :mod:`coarsegrain.data.preprocess`)
    expected_count : number of images and of masks required (1013); None skips the check
    max_images : keep only the first n images by name; None keeps all

    Raises
    ------
    DatasetUnavailable
        no path configured, it holds no ``images/`` + ``GTmaps/`` folder, or the counts differ
        from ``expected_count``.
    """
    from coarsegrain.runtime import make_rng

    root, info = locate_swimseg(path, cache_dir)
    images = list_images(root / IMAGES_DIR)
    masks = list_images(root / MASKS_DIR)
    counts = (len(images), len(masks))
    if expected_count is not None and counts != (expected_count, expected_count):
        raise DatasetUnavailable("swimseg", HOW_TO_SUPPLY, [
            f"path: {root} holds {len(images)} images in {IMAGES_DIR}/ and {len(masks)} masks in "
            f"{MASKS_DIR}/, expected {expected_count} of each"])
    if max_images is not None:
        images = images[:max_images]
    paired = pair_masks(images, masks)
    x = load_images(images, size, mode, threshold, desc="swimseg")
    cloud = np.full(len(images), np.nan)
    have = [i for i, m in enumerate(paired) if m is not None]
    for i in have:
        cloud[i] = cloud_fraction(paired[i])
    labels = np.full(len(images), -1, dtype=np.int64)
    split = stratified_split(labels, test_fraction, make_rng(seed, "swimseg-split"))
    meta = {"dataset": "swimseg", "source": info["source"], "sha256": info["sha256"],
            "counts": {IMAGES_DIR: len(list_images(root / IMAGES_DIR)), MASKS_DIR: len(masks),
                       "paired": len(have)},
            "preprocessing": {"size": list(x.shape[1:]), "mode": mode, "threshold": threshold,
                              "grey": "ITU-R 601-2 luma", "crop": "centre",
                              "resize": "area average"}}
    return ImageDataset(x, labels, split, columns={"cloud_fraction": cloud}, meta=meta)
