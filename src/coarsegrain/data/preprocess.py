"""Image preprocessing shared by every image dataset.

The pipeline, applied to each image in this order (all steps documented so that the Parquet
tables are reproducible from the raw files):

1. **Grey scale**: ITU-R 601-2 luma, ``Y = 0.299 R + 0.587 G + 0.114 B`` (what Pillow's
   ``convert("L")`` computes; for JPEGs the decoder's Y channel, which is the same transform).
   Values stay on the 0–255 scale.
2. **Centre crop** to the target aspect ratio (square by default), keeping the middle of the
   image. MNIST (already square) is unaffected; Flowers photos lose their long-side margins.
3. **Area-averaging downscale** to ``(height, width)``: each output pixel is the mean of the input
   area it covers, with fractional weights at the edges of non-integer ratios (a box filter;
   for an integer factor it is exactly block averaging, as in the 2×2 block-spin RG). JPEGs are
   first decoded at a reduced DCT scale (``Image.draft``) no smaller than 4× the target size,
   which only speeds up decoding.
4. **Normalisation** (``mode``):
   ``unit`` — divide by 255, values in [0, 1];
   ``minmax`` — per image, map [min, max] to [0, 1] (a constant image becomes all zeros);
   ``binary`` — ``unit`` then threshold: 1 where ``x >= threshold`` (default 0.5), else 0.
   Binary data suit {0,1} RBMs; ``2x - 1`` maps them to ±1 spins.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

NORMALIZE_MODES = ("unit", "minmax", "binary")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif")
_LUMA = np.array([0.299, 0.587, 0.114])


def _size2(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    size = tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be a positive int or (height, width); got {size!r}")
    return size


def to_grey(image: np.ndarray) -> np.ndarray:
    """Grey-scale an image.

    Parameters
    ----------
    image : array of shape (H, W) (already grey), (H, W, 3) RGB or (H, W, 4) RGBA (alpha ignored)

    Returns
    -------
    numpy.ndarray of float64, shape (H, W), on the input's scale (0–255 for 8-bit images).
    """
    image = np.asarray(image)
    if image.ndim == 2:
        return image.astype(np.float64)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return image[..., :3].astype(np.float64) @ _LUMA
    raise ValueError(f"image must have shape (H, W), (H, W, 3) or (H, W, 4); got {image.shape}")


def center_crop(image: np.ndarray, aspect: float = 1.0) -> np.ndarray:
    """Crop the middle of ``image`` (..., H, W) to width/height ratio ``aspect``."""
    h, w = image.shape[-2:]
    if w > h * aspect:
        new_w = max(1, round(h * aspect))
        x0 = (w - new_w) // 2
        return image[..., :, x0:x0 + new_w]
    new_h = max(1, round(w / aspect))
    y0 = (h - new_h) // 2
    return image[..., y0:y0 + new_h, :]


def _area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix whose row i averages the input cells covered by output cell i."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    cells = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, cells + 1) - np.maximum(lo, cells), 0.0, None)
    return overlap / (n_in / n_out)


def area_resize(images: np.ndarray, size: int | Sequence[int]) -> np.ndarray:
    """Area-averaging resize of the last two axes.

    Parameters
    ----------
    images : array of shape (..., H, W)
    size : output (height, width), or an int for a square. Upscaling repeats pixels.

    Returns
    -------
    numpy.ndarray of float64, shape (..., height, width). The mean over each image is preserved.
    """
    oh, ow = _size2(size)
    images = np.asarray(images, dtype=np.float64)
    h, w = images.shape[-2:]
    if (h, w) == (oh, ow):
        return images.copy()
    if h % oh == 0 and w % ow == 0:
        fh, fw = h // oh, w // ow
        return images.reshape(*images.shape[:-2], oh, fh, ow, fw).mean(axis=(-3, -1))
    return _area_matrix(h, oh) @ images @ _area_matrix(w, ow).T


def normalize(images: np.ndarray, mode: str = "unit", threshold: float = 0.5,
              max_value: float = 255.0) -> np.ndarray:
    """Map images (on a 0–``max_value`` scale) to float32 in [0, 1] or {0, 1}.

    Parameters
    ----------
    images : array of shape (n, H, W) or (H, W)
    mode : ``unit`` | ``minmax`` | ``binary`` (see the module docstring)
    threshold : binarisation threshold on the ``unit`` scale (``binary`` only)
    """
    if mode not in NORMALIZE_MODES:
        raise ValueError(f"normalize mode {mode!r} is not allowed; choose one of {NORMALIZE_MODES}")
    x = np.asarray(images, dtype=np.float64)
    if mode == "minmax":
        lo = x.min(axis=(-2, -1), keepdims=True)
        span = x.max(axis=(-2, -1), keepdims=True) - lo
        out = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1.0), 0.0)
    else:
        out = np.clip(x / max_value, 0.0, 1.0)
        if mode == "binary":
            out = (out >= threshold).astype(np.float64)
    return out.astype(np.float32)


def preprocess(images: np.ndarray, size: int | Sequence[int], mode: str = "unit",
               threshold: float = 0.5, max_value: float = 255.0) -> np.ndarray:
    """Centre-crop, area-resize and normalise a batch of grey images (n, H, W) → float32
    (n, height, width)."""
    oh, ow = _size2(size)
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (n, H, W); got {images.shape}")
    cropped = center_crop(images, aspect=ow / oh)
    return normalize(area_resize(cropped, (oh, ow)), mode, threshold, max_value)


def load_grey_image(path: str | os.PathLike, size: int | Sequence[int]) -> np.ndarray:
    """Decode one image file, grey-scale, centre-crop and area-resize it.

    Returns
    -------
    numpy.ndarray of float64, shape (height, width), on the 0–255 scale (not yet normalised).
    """
    from PIL import Image

    oh, ow = _size2(size)
    path = Path(path)
    try:
        with Image.open(path) as im:
            if im.format == "JPEG":
                # DCT-domain reduction: decoding cost drops ~scale², output stays ≥ 4× target.
                im.draft("L", (4 * ow, 4 * oh))
            grey = np.asarray(im.convert("L"), dtype=np.float64)
    except OSError as exc:
        from coarsegrain.data.fetch import DataError

        raise DataError(f"{path}: not a readable image ({exc})") from exc
    return area_resize(center_crop(grey, aspect=ow / oh), (oh, ow))


def load_images(paths: Sequence[str | os.PathLike], size: int | Sequence[int],
                mode: str = "unit", threshold: float = 0.5, desc: str = "images") -> np.ndarray:
    """Decode and preprocess image files into float32 of shape (len(paths), height, width)."""
    from tqdm import tqdm

    oh, ow = _size2(size)
    out = np.empty((len(paths), oh, ow), dtype=np.float64)
    for i, p in enumerate(tqdm(paths, desc=desc, total=len(paths), mininterval=5, smoothing=0.1,
                               disable=len(paths) < 200)):
        out[i] = load_grey_image(p, (oh, ow))
    return normalize(out, mode, threshold)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files directly inside ``folder`` (by suffix, case-insensitive), sorted by name."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file()
                  and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def stratified_split(labels: np.ndarray, test_fraction: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Assign each row to ``train`` or ``test``, holding out ``round(test_fraction * n_c)`` rows
    of every label ``c`` chosen with ``rng``.

    Returns
    -------
    numpy.ndarray of str, shape (n,)
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1); got {test_fraction}")
    labels = np.asarray(labels)
    split = np.full(labels.shape[0], "train", dtype=object)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        n_test = round(test_fraction * idx.size)
        split[rng.permutation(idx)[:n_test]] = "test"
    return split.astype(str)
