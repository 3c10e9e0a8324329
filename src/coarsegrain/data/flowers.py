"""TensorFlow Flowers (``flower_photos.tgz``): 3,670 JPEG photos in 5 class folders.

Sources (``source=``):

``url``
    download :data:`URL` into the cache folder, checking size (:data:`SIZE` bytes) and sha256
    (:data:`SHA256`) before the file is kept.
``path``
    a local ``flower_photos.tgz`` (checked against the same size/sha256 unless disabled) or an
    already extracted folder (``flower_photos/`` itself or a folder containing it).
``auto``
    ``path`` when configured, then ``url``.

Archives are extracted with tarfile's ``data`` filter into ``cache_dir/flowers/`` (reused on
later runs when it came from the same archive). Labels are the class index in
:data:`CLASSES` order; the train/test split is stratified per class with a seeded generator.
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
    download,
    extract_archive,
    sha256_file,
    tree_sha256,
    verify_file,
)
from coarsegrain.data.preprocess import list_images, load_images, stratified_split
from coarsegrain.data.tables import ImageDataset

log = logging.getLogger(__name__)

URL = "https://download.tensorflow.org/example_images/flower_photos.tgz"
SIZE = 228_813_984
SHA256 = "4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c"
ARCHIVE_NAME = "flower_photos.tgz"
CLASSES = ("daisy", "dandelion", "roses", "sunflowers", "tulips")
EXPECTED_COUNT = 3670
SOURCES = ("auto", "path", "url")

HOW_TO_SUPPLY = (f"download {URL} ({SIZE} bytes, sha256 {SHA256}) and set config key "
                 "'datasets.flowers.path' to that flower_photos.tgz or to its extracted flower_photos/ "
                 "folder (5 class folders: " + ", ".join(CLASSES) + ")")


def find_class_root(root: str | os.PathLike, classes: Sequence[str] = CLASSES) -> Path:
    """The folder (``root`` or one up to two levels below) holding every class folder."""
    root = Path(root)
    candidates = [root, *sorted(p for p in root.glob("*") if p.is_dir()),
                  *sorted(p for p in root.glob("*/*") if p.is_dir())]
    for c in candidates:
        if all((c / k).is_dir() for k in classes):
            return c
    raise DataError(f"{root}: no folder holding the class folders {', '.join(classes)}")


def _extract_cached(archive: Path, cache_dir: Path) -> tuple[Path, str]:
    digest = sha256_file(archive)
    dest = cache_dir / "flowers"
    marker = dest / ".archive-sha256"
    if not (marker.is_file() and marker.read_text().strip() == digest):
        log.info("extracting %s into %s", archive, dest)
        extract_archive(archive, dest)
        marker.write_text(digest + "\n")
    return dest, digest


def locate_flowers(source: str = "auto", path: str | os.PathLike | None = None,
                   cache_dir: str | os.PathLike | None = None, url: str = URL,
                   size: int | None = SIZE, sha256: str | None = SHA256,
                   timeout: float = 10.0) -> tuple[Path, dict]:
    """Find (downloading/extracting as needed) the folder holding the class folders.

    Returns
    -------
    root : the folder holding ``daisy/``, ``dandelion/``, ...
    info : ``source`` (route that served), ``sha256`` (digests seen), ``attempts``

    Raises
    ------
    DatasetUnavailable
        no route worked (the message says how to supply the archive).
    """
    if source not in SOURCES:
        raise ValueError(f"flowers source {source!r} is not allowed; choose one of {SOURCES}")
    if source == "path" and path is None:
        raise ValueError("flowers source 'path' needs a path (config key 'datasets.flowers.path')")
    cache = default_cache_dir(cache_dir)
    attempts: list[str] = []

    def from_path():
        p = Path(path)
        if p.is_dir():
            root = find_class_root(p)
            return root, {"folder": tree_sha256(root, _all_images(root))}
        if not p.is_file():
            raise DataError(f"{p}: no such file or folder")
        verify_file(p, sha256, size)
        dest, digest = _extract_cached(p, cache)
        return find_class_root(dest), {ARCHIVE_NAME: digest}

    def from_url():
        archive = cache / ARCHIVE_NAME
        if archive.is_file():
            try:
                verify_file(archive, sha256, size)
            except DataError as exc:
                log.warning("discarding cached %s: %s", archive, exc)
                archive.unlink()
        if not archive.is_file():
            download(url, archive, sha256=sha256, size=size, timeout=timeout)
        dest, digest = _extract_cached(archive, cache)
        return find_class_root(dest), {ARCHIVE_NAME: digest}

    routes = {"path": from_path, "url": from_url}
    order = ["path", "url"] if source == "auto" else [source]
    if source == "auto" and path is None:
        order.remove("path")
    for route in order:
        try:
            root, digests = routes[route]()
        except DataError as exc:
            attempts.append(f"{route}: {exc}")
            log.info("flowers source %s failed: %s", route, exc)
            continue
        log.info("flowers served by source %r (%s)", route, root)
        return root, {"source": route, "sha256": digests, "attempts": attempts}
    raise DatasetUnavailable("flowers", HOW_TO_SUPPLY, attempts)


def _all_images(root: Path) -> list[Path]:
    return [p for k in CLASSES for p in list_images(root / k)]


def load_flowers(source: str = "auto", path: str | os.PathLike | None = None,
                 cache_dir: str | os.PathLike | None = None, size: int | Sequence[int] = 32,
                 mode: str = "unit", threshold: float = 0.5, test_fraction: float = 0.2,
                 seed: int = 0, expected_count: int | None = EXPECTED_COUNT,
                 max_per_class: int | None = None, url: str = URL,
                 archive_size: int | None = SIZE, archive_sha256: str | None = SHA256,
                 timeout: float = 10.0) -> ImageDataset:
    """TF Flowers as grey, centre-cropped, area-downscaled images.

    Parameters
    ----------
    size : output side (or (height, width)), e.g. 32
    mode, threshold : normalisation (see :mod:`coarsegrain.data.preprocess`)
    test_fraction, seed : stratified split; the generator is ``make_rng(seed, "flowers-split")``
    expected_count : total number of JPEGs required (3,670 for the real set); None skips the check
    max_per_class : keep only the first n files (by name) of each class; None keeps all
    archive_size, archive_sha256 : expected archive size/digest (None disables that check)

    Returns
    -------
    ImageDataset with ``labels`` the class index in :data:`CLASSES`.
    """
    from coarsegrain.runtime import make_rng

    root, info = locate_flowers(source, path, cache_dir, url, archive_size, archive_sha256, timeout)
    per_class = {k: list_images(root / k) for k in CLASSES}
    total = sum(len(v) for v in per_class.values())
    if expected_count is not None and total != expected_count:
        counts = ", ".join(f"{k}: {len(v)}" for k, v in per_class.items())
        raise DatasetUnavailable("flowers", HOW_TO_SUPPLY, [
            *info["attempts"], f"{info['source']}: {root} holds {total} images in the class "
            f"folders ({counts}), expected {expected_count}"])
    files, labels = [], []
    for i, k in enumerate(CLASSES):
        chosen = per_class[k][:max_per_class] if max_per_class is not None else per_class[k]
        files += chosen
        labels += [i] * len(chosen)
    labels = np.asarray(labels, dtype=np.int64)
    images = load_images(files, size, mode, threshold, desc="flowers")
    split = stratified_split(labels, test_fraction, make_rng(seed, "flowers-split"))
    meta = {"dataset": "flowers", "source": info["source"], "sha256": info["sha256"],
            "attempts": info["attempts"], "classes": list(CLASSES),
            "counts": {k: len(v) for k, v in per_class.items()},
            "preprocessing": {"size": list(images.shape[1:]), "mode": mode,
                              "threshold": threshold, "grey": "ITU-R 601-2 luma",
                              "crop": "centre", "resize": "area average"}}
    return ImageDataset(images, labels, split, meta=meta)
