"""Devices, seeds and code fingerprints shared by every stage."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import numpy as np

_PKG_ROOT = Path(__file__).resolve().parent


class DeviceUnavailableError(ValueError, RuntimeError):
    """A CUDA device was asked for where torch sees none (a ValueError, since the setting is
    what must change; also a RuntimeError, which this used to be)."""


def _no_gpu(spec: str, reason: str) -> DeviceUnavailableError:
    import torch

    return DeviceUnavailableError(
        f"device={spec!r} was requested but {reason} (torch {torch.__version__}). Set "
        "`device: auto` (CUDA when a GPU is visible, else the CPU) or `device: cpu` in the "
        "config, or pass device='auto' or 'cpu' in Python; check CUDA_VISIBLE_DEVICES and "
        "that torch was built with CUDA if a GPU should be there")


def resolve_device(spec="auto"):
    """Return a :class:`torch.device` for ``spec``.

    Parameters
    ----------
    spec : "auto", "cpu", "cuda", "cuda:N", a :class:`torch.device`, or None (the CPU)

    ``auto`` picks CUDA when a GPU is visible and the CPU otherwise. Asking for CUDA on a
    machine without one raises :class:`DeviceUnavailableError` saying what to set, rather than
    falling back silently (a run the config says is on a GPU must not quietly take 100× longer)
    or failing deep inside torch with a bare assertion.
    """
    import torch

    if spec is None:
        return torch.device("cpu")
    if isinstance(spec, torch.device):
        spec = str(spec)
    if not isinstance(spec, str):
        raise ValueError(f"device={spec!r} is not allowed; use 'auto', 'cpu', 'cuda', 'cuda:N' "
                         "or a torch.device")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or (spec.startswith("cuda:") and spec[5:].isdigit()):
        if not torch.cuda.is_available():
            reason = ("no CUDA GPU is visible: this torch was built without CUDA"
                      if torch.version.cuda is None else "no CUDA GPU is visible")
            raise _no_gpu(spec, reason)
        n = torch.cuda.device_count()
        if spec != "cuda" and int(spec[5:]) >= n:
            raise _no_gpu(spec, f"only {n} CUDA GPU(s) are visible (cuda:0 to cuda:{n - 1})")
        return torch.device(spec)
    raise ValueError(f"device={spec!r} is not allowed; choose 'auto', 'cpu', 'cuda' or 'cuda:N'")


def _key_to_int(key) -> int:
    if isinstance(key, (int, np.integer)):
        return int(key)
    # crc32 is stable across processes (unlike hash()), which keeps seeds reproducible.
    return zlib.crc32(repr(key).encode())


def seed_sequence(seed: int, *keys) -> np.random.SeedSequence:
    """A SeedSequence derived from the config ``seed`` and stream keys (e.g. ``"ising2d", L, T``).

    Independent keys give statistically independent streams; the same keys give the same stream.
    """
    return np.random.SeedSequence([int(seed), *(_key_to_int(k) for k in keys)])


def make_rng(seed: int, *keys) -> np.random.Generator:
    """NumPy Generator for ``(seed, *keys)``; see :func:`seed_sequence`."""
    return np.random.default_rng(seed_sequence(seed, *keys))


def torch_generator(seed: int, *keys, device=None):
    """torch.Generator on ``device`` seeded from ``(seed, *keys)``."""
    import torch

    g = torch.Generator(device=device if device is not None else "cpu")
    g.manual_seed(int(seed_sequence(seed, *keys).generate_state(1, dtype=np.uint64)[0] >> 1))
    return g


def code_fingerprint(*parts: str, root: str | Path | None = None) -> str:
    """sha256 (16 hex digits) of the library source that a stage runs.

    Parameters
    ----------
    parts : subpackage or module names relative to the package, e.g. ``"lattice"``, ``"io"``.
    root : the ``coarsegrain`` package folder to hash (defaults to this installed package).

    Snakemake does not see edits to imported code, so each rule carries this as a param:
    editing ``lattice/`` changes the fingerprint of sampling rules and reruns them.
    """
    root = Path(root) if root is not None else _PKG_ROOT
    h = hashlib.sha256()
    for part in sorted(set(parts)):
        p = root / part
        files = sorted(p.rglob("*.py")) if p.is_dir() else [root / f"{part}.py"]
        for f in files:
            if not f.exists():
                raise FileNotFoundError(f"code_fingerprint: {f} does not exist")
            h.update(str(f.relative_to(root)).encode())
            h.update(b"\0")
            h.update(f.read_bytes())
            h.update(b"\0")
    return h.hexdigest()[:16]
