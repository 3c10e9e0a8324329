"""P3 measurements built on :mod:`coarsegrain.analysis.spectral`: the RBM's discarded modes
against a null model, and the covariance-spectrum "solvability" measures.

RBM against a null
------------------
P3 says the trained RBM discards high-momentum modes: for large singular values the hidden
singular vector is the visible one with its high Fourier modes removed. A trained weight
matrix's overlaps (:func:`coarsegrain.analysis.spectral.hidden_visible_overlap`) are compared
with those of a null of the same shape: an untrained RBM, ``W ~ N(0, std²)`` with P1's
``std = 0.05`` (``null="gaussian"``), or the trained entries shuffled with a seeded permutation
(``null="shuffle"``, same weight distribution, no structure). Both nulls are drawn from a seed.

Solvability (our reading of P3)
-------------------------------
P3's abstract says "we are able to suggest a simple criterion to decide if a given problem can
or can not be solved using a deep network"; the criterion itself is not public. Our reading, in
the spirit of its data-set autoencoder: a problem is solvable by an autoencoder with ``n_h``
hidden units when the top ``n_h`` covariance modes carry most of the data's variance. We report,
from the covariance eigenvalues λ_1 ≥ … ≥ λ_n:

- ``variance_fraction_nh`` = Σ_{i≤n_h} λ_i / Σ_i λ_i;
- ``n_modes_<q>``: the fewest modes holding a fraction q (default 0.9) of the variance;
- ``participation_ratio`` = (Σλ)² / Σλ², the effective number of modes, and its ratio to n;
- ``solvable`` = ``n_modes_<q> ≤ n_h`` (equivalently ``variance_fraction_nh ≥ q``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from coarsegrain.analysis import spectral as sp

NULLS = ("gaussian", "shuffle")


def null_weights(W, null: str = "gaussian", std: float = 0.05, seed: int = 0,
                 stream: tuple = ()) -> np.ndarray:
    """A structureless weight matrix of the shape of ``W`` (n_visible, n_hidden).

    ``gaussian``: N(0, std²) entries (an untrained P1 RBM); ``shuffle``: the entries of ``W``
    in a random order. Drawn from ``seed`` (stream "p3-null", ``null``, ``*stream``).
    """
    from coarsegrain.runtime import make_rng

    W = sp.as_numpy(W)
    if W.ndim != 2:
        raise ValueError(f"W must have shape (n_visible, n_hidden); got {W.shape}")
    if null not in NULLS:
        raise ValueError(f"null={null!r} is not allowed; choose one of {NULLS}")
    rng = make_rng(seed, "p3-null", null, *stream)
    if null == "gaussian":
        if not std > 0:
            raise ValueError(f"std must be > 0; got {std!r}")
        return rng.normal(0.0, std, size=W.shape)
    return rng.permutation(W.ravel()).reshape(W.shape)


def weight_tables_with_null(W, visible_shape: int | Sequence[int],
                            hidden_shape: int | Sequence[int] | None = None, n_modes: int = 16,
                            method: str = "fourier", align: str = "receptive_field",
                            null: str = "gaussian", null_std: float = 0.05, seed: int = 0,
                            stream: tuple = ()) -> dict[str, pd.DataFrame]:
    """:func:`coarsegrain.analysis.spectral.spectral_tables` of ``W`` and of its null, stacked
    with a ``model`` column (``trained`` | ``null``). Same keys and columns otherwise."""
    out: dict[str, list] = {}
    for label, M in (("trained", sp.as_numpy(W)),
                     ("null", null_weights(W, null, null_std, seed, stream))):
        t = sp.spectral_tables(M, visible_shape, hidden_shape, n_modes=n_modes, method=method,
                               align=align)
        for key, df in t.items():
            out.setdefault(key, []).append(df.assign(model=label))
    return {k: pd.concat(v, ignore_index=True) for k, v in out.items()}


def stack_weight_tables(layers, visible_shape: Sequence[int], n_modes: int = 16,
                        method: str = "fourier", null: str = "gaussian", null_std: float = 0.05,
                        seed: int = 0) -> dict[str, pd.DataFrame]:
    """:func:`weight_tables_with_null` for every layer of a stacked RBM, with a ``layer`` column.

    Layer ``k > 0`` has no lattice of its own: its visible units are layer ``k−1``'s hidden
    units. They are put on the coarse lattice the stack readout gives them
    (:func:`coarsegrain.flow.readout.stack_readouts`: each unit sign-fixed and placed at its
    receptive-field centre), so layer ``k``'s weight rows are reordered and sign-corrected by
    layer ``k−1``'s readout before the SVD, and its hidden units go on layer ``k``'s readout
    lattice. The analysis is therefore invariant under the hidden-unit symmetries of every
    layer. Each layer's null has that layer's shape, drawn from ``(seed, layer)``.

    Parameters
    ----------
    layers : a StackedRBM, or a list of RBMs or (n_visible, n_hidden) arrays, bottom first
    visible_shape : lattice of the stack's input, e.g. (L, L)

    Returns
    -------
    dict ``singular``, ``fourier``, ``overlap`` as :func:`weight_tables_with_null`, plus
    ``layer`` (0 = bottom) and ``visible_shape``/``hidden_shape`` strings (e.g. ``"8x8"``)
    """
    from coarsegrain.flow.readout import _as_weights, _layers, stack_readouts

    ws = [_as_weights(layer) for layer in _layers(layers)]
    readouts = stack_readouts(ws, visible_shape)
    out: dict[str, list] = {}
    vshape = tuple(int(n) for n in visible_shape)
    for k, (W, ro) in enumerate(zip(ws, readouts, strict=True)):
        if k > 0:
            prev = readouts[k - 1]
            W = (W * prev.signs[:, None])[prev.order]
        t = weight_tables_with_null(W, vshape, ro.shape, n_modes=n_modes, method=method,
                                    null=null, null_std=null_std, seed=seed, stream=("layer", k))
        label = {"visible_shape": "x".join(map(str, vshape)),
                 "hidden_shape": "x".join(map(str, ro.shape))}
        for key, df in t.items():
            out.setdefault(key, []).append(df.assign(layer=k, **label))
        vshape = ro.shape
    return {k: pd.concat(v, ignore_index=True) for k, v in out.items()}


def overlap_summary(overlap: pd.DataFrame, n_top: int = 4) -> dict:
    """Mean hidden / low-pass-visible overlap of the ``n_top`` leading modes, trained vs null.

    Parameters
    ----------
    overlap : the ``overlap`` table of :func:`weight_tables_with_null` (columns ``model, mode,
        overlap, random_baseline``)

    Returns
    -------
    dict ``trained``, ``null`` (mean |cos| over modes 0..n_top-1), ``chance``
    (E|cos| of random unit vectors), ``trained_top`` (mode 0 alone), ``null_top``
    """
    top = overlap[overlap["mode"] < n_top]
    res = {}
    for label in ("trained", "null"):
        d = top[top["model"] == label]
        res[label] = float(d["overlap"].mean()) if len(d) else np.nan
        d0 = d[d["mode"] == 0]
        res[f"{label}_top"] = float(d0["overlap"].mean()) if len(d0) else np.nan
    res["chance"] = float(overlap["random_baseline"].iloc[0]) if len(overlap) else np.nan
    return res


def solvability(eigenvalues, n_hidden: int, fraction: float = 0.9) -> dict:
    """Covariance-spectrum measures of how many modes a data set needs (see the module docstring).

    Parameters
    ----------
    eigenvalues : (n_visible,) covariance eigenvalues, descending (data units²)
    n_hidden : hidden units of the model asked to solve it
    fraction : variance fraction q defining ``n_modes_q``

    Returns
    -------
    dict ``n_visible, n_hidden, variance_fraction_nh, n_modes_q, q, participation_ratio,
    participation_ratio_fraction, solvable``
    """
    lam = np.clip(sp.as_numpy(eigenvalues).ravel(), 0.0, None)
    if lam.size == 0 or lam.sum() <= 0:
        raise ValueError("eigenvalues must hold at least one positive value")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1]; got {fraction!r}")
    if int(n_hidden) < 1:
        raise ValueError(f"n_hidden must be >= 1; got {n_hidden!r}")
    total = lam.sum()
    cum = np.cumsum(lam) / total
    n_q = int(np.searchsorted(cum, fraction - 1e-12) + 1)
    pr = float(total ** 2 / (lam ** 2).sum())
    return {"n_visible": int(lam.size), "n_hidden": int(n_hidden),
            "variance_fraction_nh": float(cum[min(int(n_hidden), lam.size) - 1]),
            "n_modes_q": min(n_q, lam.size), "q": float(fraction), "participation_ratio": pr,
            "participation_ratio_fraction": pr / lam.size, "solvable": bool(n_q <= int(n_hidden))}
