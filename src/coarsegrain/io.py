"""Parquet tables and spin files with provenance, written atomically.

Every file this project writes carries its provenance (the stage's params, seed, package
version and code fingerprint) as JSON in the Parquet schema metadata under the key
``coarsegrain``. Writes go to a temporary file in the destination folder and are renamed into
place, so a failed or killed job never leaves a partial file where a complete one is expected.
Identical inputs give byte-identical files (pyarrow's writer is deterministic and the metadata
JSON has sorted keys and no timestamps).

Spin configurations are stored one row per configuration, bit-packed into a fixed-size binary
column (1 bit per spin; +1 -> 1, -1 -> 0), plus any per-row columns (temperature, chain, ...).
Real-valued lattices (e.g. block-averaged RG spins) go through :func:`write_lattices`, which
stores the raw little-endian bytes of each configuration.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

META_KEY = b"coarsegrain"
_UMASK = os.umask(0)
os.umask(_UMASK)
_COMPRESSION = "zstd"


class CoarsegrainIOError(RuntimeError):
    """A file is missing, unreadable, or not in the format this project writes."""


# ----------------------------------------------------------------------------- helpers


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in provenance metadata")


def dumps_meta(meta: Mapping[str, Any]) -> str:
    """Serialise metadata deterministically (sorted keys, compact separators)."""
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), default=_json_default)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _with_meta(table: pa.Table, meta: Mapping[str, Any] | None) -> pa.Table:
    existing = dict(table.schema.metadata or {})
    existing[META_KEY] = dumps_meta(meta or {}).encode()
    return table.replace_schema_metadata(existing)


def _write(table: pa.Table, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression=_COMPRESSION)


def _read_arrow(path: str | os.PathLike, columns: list[str] | None = None) -> pa.Table:
    path = Path(path)
    if not path.exists():
        raise CoarsegrainIOError(f"{path}: no such file")
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise CoarsegrainIOError(f"{path}: not a readable Parquet file ({exc})") from exc


def read_meta(path: str | os.PathLike) -> dict:
    """Provenance metadata of a file written by this module (``{}`` if it has none)."""
    path = Path(path)
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise CoarsegrainIOError(f"{path}: not a readable Parquet file ({exc})") from exc
    raw = (schema.metadata or {}).get(META_KEY)
    return json.loads(raw) if raw else {}


# ----------------------------------------------------------------------------- tables


def write_table(df: pd.DataFrame, path: str | os.PathLike, meta: Mapping | None = None) -> None:
    """Write a tidy DataFrame to Parquet with provenance ``meta``. The index is dropped."""
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    _write(_with_meta(table, meta), path)


def read_table(path: str | os.PathLike, columns: list[str] | None = None) -> tuple[pd.DataFrame, dict]:
    """Read a table written by :func:`write_table`.

    Returns
    -------
    df : pandas.DataFrame
    meta : dict
        The provenance metadata (params, seed, version, code fingerprint, ...).
    """
    table = _read_arrow(path, columns)
    raw = (table.schema.metadata or {}).get(META_KEY)
    return table.to_pandas(), (json.loads(raw) if raw else {})


# ----------------------------------------------------------------------------- spins


def _check_columns(columns: Mapping[str, Any] | None, n: int) -> dict[str, np.ndarray]:
    out = {}
    for name, values in (columns or {}).items():
        arr = np.asarray(values)
        if arr.ndim == 0:
            arr = np.full(n, arr.item())
        if arr.shape != (n,):
            raise ValueError(f"column {name!r} has shape {arr.shape}, expected ({n},)")
        out[name] = arr
    return out


def write_spins(
    spins: np.ndarray,
    path: str | os.PathLike,
    meta: Mapping[str, Any] | None = None,
    columns: Mapping[str, Any] | None = None,
) -> None:
    """Write ±1 spin configurations, bit-packed, one row per configuration.

    Parameters
    ----------
    spins : array of shape (n, *lattice_shape), values in {-1, +1}
        Any integer or float dtype holding exactly ±1.
    path : output ``.parquet`` path
    meta : provenance; should hold at least model, size, temperature(s), seed, sampler, tau_int.
        ``shape`` and ``encoding`` are added here.
    columns : optional per-configuration columns (e.g. ``temperature``, ``chain``), each of
        length n, or scalars broadcast to n.
    """
    spins = np.asarray(spins)
    if spins.ndim < 2:
        raise ValueError(f"spins must have shape (n, *lattice_shape); got {spins.shape}")
    n = spins.shape[0]
    flat = spins.reshape(n, -1)
    if not np.all(np.abs(flat) == 1):
        bad = np.unique(flat[np.abs(flat) != 1])[:5]
        raise ValueError(f"spins must be ±1; found values {bad.tolist()}")
    packed = np.packbits(flat > 0, axis=1)
    nbytes = packed.shape[1]
    col = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(nbytes), n, [None, pa.py_buffer(np.ascontiguousarray(packed).tobytes())]
    )
    arrays = {"spins": col}
    arrays.update({k: pa.array(v) for k, v in _check_columns(columns, n).items()})
    m = dict(meta or {})
    m.update(shape=list(spins.shape[1:]), encoding="bitpacked", n_configurations=int(n))
    _write(_with_meta(pa.table(arrays), m), path)


def read_spins(
    path: str | os.PathLike, with_columns: bool = False
) -> tuple[np.ndarray, dict] | tuple[np.ndarray, pd.DataFrame, dict]:
    """Read spins written by :func:`write_spins`.

    Returns
    -------
    spins : numpy.ndarray of int8, shape (n, *lattice_shape), values in {-1, +1}
    columns : pandas.DataFrame of the per-configuration columns (only if ``with_columns``)
    meta : dict with at least ``shape`` and the writer's provenance
    """
    table = _read_arrow(path)
    raw = (table.schema.metadata or {}).get(META_KEY)
    meta = json.loads(raw) if raw else {}
    if meta.get("encoding") != "bitpacked" or "spins" not in table.column_names:
        raise CoarsegrainIOError(f"{path}: not a spin file written by coarsegrain.io.write_spins")
    shape = tuple(meta["shape"])
    n_sites = int(np.prod(shape))
    n = table.num_rows
    col = table.column("spins").combine_chunks()
    buf = col.buffers()[1]
    nbytes = col.type.byte_width
    packed = np.frombuffer(buf, dtype=np.uint8, count=n * nbytes, offset=col.offset * nbytes)
    bits = np.unpackbits(packed.reshape(n, nbytes), axis=1, count=n_sites)
    spins = (bits.astype(np.int8) * 2 - 1).reshape((n, *shape))
    if not with_columns:
        return spins, meta
    others = table.drop_columns(["spins"]).to_pandas()
    return spins, others, meta


def write_lattices(
    values: np.ndarray,
    path: str | os.PathLike,
    meta: Mapping[str, Any] | None = None,
    columns: Mapping[str, Any] | None = None,
    dtype: str = "float32",
) -> None:
    """Write real-valued configurations (e.g. block-averaged spins), one row each.

    Parameters
    ----------
    values : array of shape (n, *lattice_shape)
    dtype : storage dtype (``float32``, ``float16``, ``int8`` ...); values are cast to it.
    """
    values = np.asarray(values)
    n = values.shape[0]
    arr = np.ascontiguousarray(values.astype(np.dtype(dtype).newbyteorder("<")))
    nbytes = arr[0].nbytes if n else int(np.prod(values.shape[1:])) * np.dtype(dtype).itemsize
    col = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(nbytes), n, [None, pa.py_buffer(arr.tobytes())]
    )
    arrays = {"values": col}
    arrays.update({k: pa.array(v) for k, v in _check_columns(columns, n).items()})
    m = dict(meta or {})
    m.update(shape=list(values.shape[1:]), encoding="raw", dtype=str(np.dtype(dtype)),
             n_configurations=int(n))
    _write(_with_meta(pa.table(arrays), m), path)


def read_lattices(
    path: str | os.PathLike, with_columns: bool = False
) -> tuple[np.ndarray, dict] | tuple[np.ndarray, pd.DataFrame, dict]:
    """Read configurations written by :func:`write_lattices` (or spins from :func:`write_spins`,
    returned as float32)."""
    meta = read_meta(path)
    if meta.get("encoding") == "bitpacked":
        out = read_spins(path, with_columns=with_columns)
        return (out[0].astype(np.float32), *out[1:])
    table = _read_arrow(path)
    if meta.get("encoding") != "raw" or "values" not in table.column_names:
        raise CoarsegrainIOError(f"{path}: not a lattice file written by coarsegrain.io")
    shape = tuple(meta["shape"])
    dt = np.dtype(meta["dtype"]).newbyteorder("<")
    col = table.column("values").combine_chunks()
    nbytes = col.type.byte_width
    raw = np.frombuffer(col.buffers()[1], dtype=np.uint8, count=table.num_rows * nbytes,
                        offset=col.offset * nbytes)
    values = raw.view(dt).reshape((table.num_rows, *shape)).astype(dt.newbyteorder("="))
    if not with_columns:
        return values, meta
    return values, table.drop_columns(["values"]).to_pandas(), meta


# ----------------------------------------------------------------------------- checkpoints


def save_checkpoint(state: Mapping[str, Any], path: str | os.PathLike,
                    meta: Mapping[str, Any] | None = None) -> None:
    """Save a dict of tensors (a model's ``state_dict`` or more) plus JSON metadata, atomically.

    The file loads with ``torch.load(weights_only=True)``: only tensors, numbers, strings and
    containers of them are stored.
    """
    import torch

    payload = {"state": dict(state), "meta": dumps_meta(meta or {})}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> tuple[dict, dict]:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Returns ``(state, meta)``. Raises :class:`CoarsegrainIOError` naming the file if it is
    missing, truncated, or not a checkpoint of this project.
    """
    import torch

    path = Path(path)
    if not path.exists():
        raise CoarsegrainIOError(f"{path}: no such checkpoint")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt files
        raise CoarsegrainIOError(f"{path}: corrupted or unreadable checkpoint ({exc})") from exc
    if not isinstance(payload, dict) or "state" not in payload or "meta" not in payload:
        raise CoarsegrainIOError(f"{path}: not a coarsegrain checkpoint (missing state/meta)")
    return payload["state"], json.loads(payload["meta"])
