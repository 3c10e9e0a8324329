"""Real-space block-spin renormalisation group on batches of configurations.

Configurations always come as a batch: shape ``(n, L, L)`` for the 2D lattice or ``(n, N)`` for
a 1D chain (the last one or two axes are the lattice, periodic). Every function accepts a
NumPy array or a torch tensor and returns the same kind (on the same device for tensors).

Rules
-----
``average``
    s'(X) = mean of the b^d spins in block X (the authors' choice). For b = 2 in 2D the values
    lie in {−1, −½, 0, ½, 1}; repeated steps average over 2^k × 2^k blocks of the original.
``majority``
    s'(X) = sign of the block sum, ties (possible for even b^d) broken by a fair coin drawn
    from a seeded generator; outputs are ±1 (int8 for integer input, input dtype otherwise).
``decimate``
    s'(X) = the spin at the first site of the block (sites 0, b, 2b, ... along each axis).
"""

from __future__ import annotations

import numpy as np

RULES = ("average", "majority", "decimate")


def _is_torch(x) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return isinstance(x, torch.Tensor)


def _lattice_ndim(configs, ndim: int | None) -> int:
    d = configs.ndim - 1 if ndim is None else int(ndim)
    if d not in (1, 2):
        raise ValueError(
            f"configs must have shape (n, N) for chains or (n, L, L) for 2D lattices; "
            f"got shape {tuple(configs.shape)}"
        )
    if configs.ndim != d + 1:
        raise ValueError(f"configs has shape {tuple(configs.shape)}, "
                         f"expected {d + 1} axes for ndim={d}")
    return d


def _check_b(configs, b: int, d: int) -> int:
    if not isinstance(b, (int, np.integer)) or b < 2:
        raise ValueError(f"block size b must be an integer >= 2; got {b!r}")
    for ax in range(1, d + 1):
        if configs.shape[ax] % b:
            raise ValueError(
                f"lattice axis {ax} has length {configs.shape[ax]}, "
                f"not divisible by block size b={b}"
            )
    return int(b)


def _blocks(configs, b: int, d: int):
    """View as (n, N/b, b) or (n, L/b, b, L/b, b)."""
    n = configs.shape[0]
    if d == 1:
        return configs.reshape(n, configs.shape[1] // b, b)
    L0, L1 = configs.shape[1], configs.shape[2]
    return configs.reshape(n, L0 // b, b, L1 // b, b)


def block_sum(configs, b: int = 2, ndim: int | None = None):
    """Sum of spins in each non-overlapping block; shape (n, N/b) or (n, L/b, L/b)."""
    d = _lattice_ndim(configs, ndim)
    b = _check_b(configs, b, d)
    blk = _blocks(configs, b, d)
    axes = (2,) if d == 1 else (2, 4)
    if _is_torch(configs):
        return blk.sum(dim=axes)
    return blk.sum(axis=axes)


def block_average(configs, b: int = 2, ndim: int | None = None):
    """Block-average RG step: the mean of each b (chain) or b×b (2D) block.

    Parameters
    ----------
    configs : array or tensor, shape (n, N) or (n, L, L), real values (±1 spins or the output of
        a previous averaging step)
    b : block size per axis

    Returns
    -------
    float array/tensor of shape (n, N/b) or (n, L/b, L/b) (float32 unless the input is float64)
    """
    d = _lattice_ndim(configs, ndim)
    b = _check_b(configs, b, d)
    if _is_torch(configs):
        import torch

        x = configs if configs.is_floating_point() else configs.to(torch.float32)
        return _blocks(x, b, d).mean(dim=(2,) if d == 1 else (2, 4))
    x = np.asarray(configs)
    x = x if x.dtype in (np.float32, np.float64) else x.astype(np.float32)
    return _blocks(x, b, d).mean(axis=(2,) if d == 1 else (2, 4))


def majority_rule(configs, b: int = 2, ndim: int | None = None, rng=None, seed: int | None = None):
    """Majority-rule RG step: the sign of each block sum, ties broken at random.

    Parameters
    ----------
    configs : array or tensor, shape (n, N) or (n, L, L)
    b : block size per axis
    rng : numpy.random.Generator (NumPy input) or torch.Generator (tensor input) for tie-breaks
    seed : used to build a generator when ``rng`` is None (default 0, so calls are reproducible)

    Returns
    -------
    ±1 array/tensor of shape (n, N/b) or (n, L/b, L/b): int8 for integer input, the input's
    float dtype otherwise.
    """
    s = block_sum(configs, b, ndim)
    if _is_torch(configs):
        import torch

        gen = rng
        if gen is None:
            from coarsegrain.runtime import torch_generator

            gen = torch_generator(0 if seed is None else seed, "majority", device=s.device)
        coin = torch.randint(0, 2, s.shape, generator=gen, device=s.device).to(s.dtype) * 2 - 1
        out = torch.where(s > 0, torch.ones_like(s), -torch.ones_like(s))
        out = torch.where(s == 0, coin, out)
        return out if configs.is_floating_point() else out.to(torch.int8)
    gen = rng if rng is not None else np.random.default_rng(0 if seed is None else seed)
    coin = gen.integers(0, 2, size=s.shape).astype(np.int8) * 2 - 1
    out = np.where(s > 0, 1, -1).astype(np.int8)
    out = np.where(s == 0, coin, out).astype(np.int8)
    x = np.asarray(configs)
    return out.astype(x.dtype) if np.issubdtype(x.dtype, np.floating) else out


def decimate(configs, b: int = 2, ndim: int | None = None, offset: int = 0):
    """Decimation RG step: keep the spin at position ``offset`` of each block along every axis.

    Returns an array/tensor of shape (n, N/b) or (n, L/b, L/b) with the input's dtype.
    """
    d = _lattice_ndim(configs, ndim)
    b = _check_b(configs, b, d)
    if not 0 <= offset < b:
        raise ValueError(f"offset must be in [0, b={b}); got {offset}")
    if d == 1:
        return configs[:, offset::b]
    return configs[:, offset::b, offset::b]


def rg_step(configs, rule: str = "average", b: int = 2, ndim: int | None = None, rng=None,
            seed: int | None = None):
    """One block-spin step with ``rule`` in {"average", "majority", "decimate"}."""
    if rule == "average":
        return block_average(configs, b, ndim)
    if rule == "majority":
        return majority_rule(configs, b, ndim, rng=rng, seed=seed)
    if rule == "decimate":
        return decimate(configs, b, ndim)
    raise ValueError(f"unknown RG rule {rule!r}; allowed: {', '.join(RULES)}")


def rg_flow(configs, n_steps: int, rule: str = "average", b: int = 2, ndim: int | None = None,
            seed: int = 0, include_input: bool = True) -> list:
    """Apply ``n_steps`` block-spin steps in a row (e.g. 64 → 32 → 16 → 8 for n_steps=3).

    Parameters
    ----------
    configs : array or tensor, shape (n, N) or (n, L, L)
    n_steps : number of RG steps (each divides every lattice axis by b)
    rule, b : see :func:`rg_step`
    seed : seeds the majority-rule tie-breaks (one stream for the whole flow)
    include_input : put the input itself first in the returned list

    Returns
    -------
    list of arrays/tensors, index k = configurations after k steps (if ``include_input``;
    otherwise index k holds step k + 1)
    """
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 0:
        raise ValueError(f"n_steps must be an integer >= 0; got {n_steps!r}")
    d = _lattice_ndim(configs, ndim)
    side = configs.shape[1]
    if side % (b**n_steps):
        raise ValueError(f"lattice side {side} is not divisible by b**n_steps = {b}**{n_steps}")
    if _is_torch(configs):
        from coarsegrain.runtime import torch_generator

        rng = torch_generator(seed, "rg", rule, device=configs.device)
    else:
        from coarsegrain.runtime import make_rng

        rng = make_rng(seed, "rg", rule)
    out = [configs] if include_input else []
    x = configs
    for _ in range(n_steps):
        x = rg_step(x, rule=rule, b=b, ndim=d, rng=rng)
        out.append(x)
    return out


def block_kernel(shape: tuple[int, ...], b: int = 2) -> np.ndarray:
    """The linear map of one block-averaging step as a matrix.

    Returns
    -------
    float64 array of shape (n_blocks, *shape): entry [X, i] = 1/b^d if site i lies in block X.
    Blocks are numbered in row-major order of the coarse lattice, matching
    ``block_average(...).reshape(n, -1)``.
    """
    d = len(shape)
    eye = np.eye(int(np.prod(shape))).reshape((-1, *shape))
    avg = block_average(eye, b, ndim=d).reshape(eye.shape[0], -1)
    return avg.T.reshape((-1, *shape)).astype(np.float64)
