"""Spectral analyses of trained weights and data (P3, "Why unsupervised deep networks generalize").

Conventions
-----------
``W`` has shape (n_visible, n_hidden) and is factored as ``W = U diag(s) Vᵀ`` with singular
values ``s`` in descending order; column ``U[:, i]`` is the *visible* singular vector of mode
``i`` (it lives on the visible lattice/image grid, shape ``visible_shape``), column ``V[:, i]``
the *hidden* one. Singular vectors are defined up to a joint sign; :func:`svd_weights` fixes it
so that each visible vector's largest-magnitude entry is positive (deterministic output).
Every function takes numpy arrays or torch tensors and returns numpy float64 arrays.

Fourier power
-------------
A vector reshaped to ``shape`` (2D image/lattice grid, or 1D for a chain) is transformed with a
periodic DFT; the power ``|x̂(k)|²`` is normalised to sum to 1 (Parseval: fraction of the
vector's squared norm in each mode). Wavevectors are ``k_d = 2π m_d / L_d`` with integer
``m_d`` in ``(-L_d/2, L_d/2]`` (lattice spacing 1). The radial spectrum groups modes in shells
of width ``Δk = 2π / max(shape)`` centred on ``j·Δk`` and reports the mean power per mode and
the summed power of each shell.

Hidden vs low-pass-filtered visible vectors
-------------------------------------------
The thesis' statement is that, for large singular values, the hidden singular vector is the
visible one with its high Fourier modes discarded (momentum-space RG near the free-field
fixed point). A hidden vector has ``n_hidden`` entries, so this comparison needs the hidden
units placed on a coarse grid of the same dimension and aspect ratio as the visible one:
``hidden_shape`` (``(√n_h, √n_h)`` for a square ``n_h`` on a square image, ``(n_h,)`` for a
chain; see :func:`hidden_grid_shape`). With coarse grid ``(l_1, ...)`` on the visible grid
``(L_1, ...)`` (block size ``b_d = L_d / l_d``, not necessarily an integer) we define

    overlap_i = |⟨ V[:, i]∘π , D U[:, i] ⟩| / ‖D U[:, i]‖      (in [0, 1]),

where ``D`` is the low-pass-and-downsample operator and ``π`` the placement of hidden units
on the coarse grid. ``D`` is applied separably per axis, with coarse site ``j`` at fine position
``(j + ½) b_d − ½`` (the centre of its block, as in 2×2 block-spin RG):

- ``method="fourier"`` (default, momentum-space RG): keep the Fourier modes representable on
  the coarse grid (``|m_d| ≤ l_d/2``, the two Nyquist modes of an even ``l_d`` at half weight),
  discard the rest (an ideal box filter in k-space), and evaluate the band-limited signal at
  the coarse sites;
- ``method="block"``: area averaging over each block (real-space block-spin RG).

The absolute value removes the arbitrary relative sign a permutation or reflection of hidden
units could introduce. Hidden units of an RBM or autoencoder have no intrinsic position: any
permutation of them leaves the model unchanged. ``align="index"`` places unit ``a`` at the
``a``-th coarse site in row-major order (meaningful for weights built with a layout, e.g. RG or
strided-convolution weights); ``align="receptive_field"`` (what :func:`spectral_tables` uses by
default, the right choice for trained models) chooses the one permutation, shared by all
modes, that puts each hidden unit at the coarse site nearest to the centre of its receptive
field (periodic centre of mass of ``W[:, a]²``; optimal assignment by
:func:`scipy.optimize.linear_sum_assignment`). It also fixes the sign gauge of each hidden unit:
for ±1 RBM units, or autoencoders with an odd activation (tanh) and tied weights,
``W[:, a] → −W[:, a]`` (with its bias) leaves the model unchanged, so each unit is oriented to make
its largest-magnitude weight positive (:func:`receptive_field_signs`). The same holds up to a
shift of the biases for {0, 1} units and sigmoid autoencoders (σ(−x) = 1 − σ(x)). The gauge is
fixed from each unit's own weights, never by looking at the singular vectors. Two random unit vectors in
``R^{n_h}`` have ``E|cos| ≈ √(2/(π n_h))``: see :func:`random_overlap_baseline`. The same
comparison without any layout assumption is :func:`lowpass_fraction` of the visible vectors
(how much of their power lies in the band the coarse grid can represent).

Subspace agreement
------------------
Between the top-``k`` eigenvectors of the data covariance and the top-``k`` visible singular
vectors of ``W``: the principal angles ``θ_j`` (cosines = singular values of ``Q_Aᵀ Q_B`` for
orthonormal bases) and ``mean_j cos² θ_j = ‖Q_Aᵀ Q_B‖_F² / k`` (1 for equal subspaces, 0 for
orthogonal ones, ``k/n`` in expectation for a random ``k``-subspace of ``R^n``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

OVERLAP_METHODS = ("fourier", "block")
ALIGN_MODES = ("index", "receptive_field")


def as_numpy(x) -> np.ndarray:
    """float64 numpy copy of an array or torch tensor (any device)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.array(x, dtype=np.float64)


def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if not 1 <= len(shape) <= 3 or min(shape) < 1:
        raise ValueError(f"shape must be 1 to 3 positive ints; got {shape!r}")
    return shape


def _weights(W) -> np.ndarray:
    W = as_numpy(W)
    if W.ndim != 2:
        raise ValueError(f"W must have shape (n_visible, n_hidden); got {W.shape}")
    return W


# ----------------------------------------------------------------------------- SVD


def svd_weights(W) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD ``W = U diag(s) Vᵀ`` with a deterministic sign convention.

    Parameters
    ----------
    W : array (n_visible, n_hidden)

    Returns
    -------
    U : (n_visible, r) visible singular vectors (columns), r = min(n_visible, n_hidden)
    s : (r,) singular values, descending
    V : (n_hidden, r) hidden singular vectors (columns); note: V, not Vᵀ
    """
    W = _weights(W)
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    idx = np.argmax(np.abs(U), axis=0)
    signs = np.sign(U[idx, np.arange(U.shape[1])])
    signs[signs == 0] = 1.0
    return U * signs, s, Vt.T * signs


def singular_spectrum(W) -> np.ndarray:
    """Singular values of ``W`` (n_visible, n_hidden), descending, shape (min(n_v, n_h),)."""
    return np.linalg.svd(_weights(W), compute_uv=False)


def prune_weights(W, n_modes: int) -> np.ndarray:
    """``W`` restricted to its top ``n_modes`` singular modes (the rest set to zero).

    Returns an array of the same shape as ``W`` with rank ``min(n_modes, rank W)``; ``n_modes=0``
    gives zeros. The number of parameters describing it is ``n_modes·(n_v + n_h + 1)``.
    """
    U, s, V = svd_weights(W)
    if n_modes < 0:
        raise ValueError(f"n_modes must be >= 0; got {n_modes}")
    m = min(int(n_modes), s.size)
    return (U[:, :m] * s[:m]) @ V[:, :m].T


def pruning_curve(W, n_modes: Sequence[int], evaluate: Callable[[np.ndarray], float] | None = None
                  ) -> pd.DataFrame:
    """Prune ``W`` to each number of modes and evaluate it.

    Parameters
    ----------
    n_modes : the numbers of kept modes m to try
    evaluate : optional ``f(W_m) -> float`` (e.g. the model's reconstruction error with the
        pruned weights); its result goes to column ``value``

    Returns
    -------
    DataFrame with columns ``n_modes``, ``n_parameters`` (m·(n_v+n_h+1)), ``weight_fraction``
    (‖W_m‖_F² / ‖W‖_F², the share of the squared singular values kept), ``relative_error``
    (‖W − W_m‖_F / ‖W‖_F) and ``value``.
    """
    W = _weights(W)
    s2 = singular_spectrum(W) ** 2
    total = s2.sum() if s2.sum() > 0 else 1.0
    rows = []
    for m in n_modes:
        Wm = prune_weights(W, m)
        kept = s2[:min(int(m), s2.size)].sum() / total
        rows.append({"n_modes": int(m), "n_parameters": int(m) * (W.shape[0] + W.shape[1] + 1),
                     "weight_fraction": float(kept),
                     "relative_error": float(np.sqrt(max(1.0 - kept, 0.0))),
                     "value": float(evaluate(Wm)) if evaluate is not None else np.nan})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- Fourier


def wavenumbers(shape: int | Sequence[int]) -> np.ndarray:
    """|k| of every DFT mode of a periodic grid ``shape`` (lattice spacing 1), shape ``shape``."""
    shape = _shape(shape)
    axes = np.meshgrid(*(2 * np.pi * np.fft.fftfreq(L) for L in shape), indexing="ij")
    return np.sqrt(sum(a ** 2 for a in axes))


def fourier_power(vectors, shape: int | Sequence[int]) -> np.ndarray:
    """Normalised Fourier power of vectors on a periodic grid.

    Parameters
    ----------
    vectors : array (n_vectors, prod(shape)) — rows are vectors (pass ``U.T`` for columns)
    shape : grid shape, e.g. (28, 28) for images or (N,) for a chain

    Returns
    -------
    numpy.ndarray (n_vectors, *shape): ``|x̂(k)|² / Σ_k |x̂(k)|²`` in numpy's FFT order
    (zero mode first; ``np.fft.fftshift`` centres it). A zero vector gives zeros.
    """
    shape = _shape(shape)
    x = as_numpy(vectors)
    x = x.reshape(-1, *shape) if x.ndim == 1 or x.shape[-1] == int(np.prod(shape)) else x
    if x.shape[1:] != shape:
        raise ValueError(f"vectors of shape {as_numpy(vectors).shape} do not fit grid {shape}")
    axes = tuple(range(1, len(shape) + 1))
    p = np.abs(np.fft.fftn(x, axes=axes)) ** 2
    tot = p.sum(axis=axes, keepdims=True)
    return np.divide(p, tot, out=np.zeros_like(p), where=tot > 0)


def radial_power(vectors, shape: int | Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Radially averaged Fourier power (shells of width ``2π/max(shape)`` in |k|).

    Returns
    -------
    k : (n_shells,) shell centres (only non-empty shells), rad/site
    mean_power : (n_vectors, n_shells) mean normalised power per mode in each shell
    shell_power : (n_vectors, n_shells) summed power in each shell (rows sum to 1)
    """
    shape = _shape(shape)
    p = fourier_power(vectors, shape).reshape(-1, int(np.prod(shape)))
    dk = 2 * np.pi / max(shape)
    shell = np.rint(wavenumbers(shape).ravel() / dk).astype(int)
    n_shells = shell.max() + 1
    counts = np.bincount(shell, minlength=n_shells)
    sums = np.stack([np.bincount(shell, weights=row, minlength=n_shells) for row in p])
    keep = counts > 0
    return np.arange(n_shells)[keep] * dk, sums[:, keep] / counts[keep], sums[:, keep]


def band_mask(shape: int | Sequence[int], coarse_shape: int | Sequence[int]) -> np.ndarray:
    """Weights (FFT order, shape ``shape``) of the modes a coarse grid can represent:
    1 for ``|m_d| < l_d/2`` on every axis, ½ per axis at an even ``l_d``'s Nyquist
    ``|m_d| = l_d/2``, 0 beyond."""
    shape, coarse = _shape(shape), _shape(coarse_shape)
    if len(shape) != len(coarse) or any(c > L for c, L in zip(coarse, shape, strict=True)):
        raise ValueError(f"coarse grid {coarse} must have the dimension of {shape} and fit in it")
    per_axis = []
    for L, c in zip(shape, coarse, strict=True):
        m = np.abs(np.rint(np.fft.fftfreq(L) * L))
        w = (m < c / 2).astype(float) + 0.5 * (m == c / 2)
        if c == L:
            w[:] = 1.0
        per_axis.append(w)
    out = per_axis[0]
    for w in per_axis[1:]:
        out = np.multiply.outer(out, w)
    return out


def lowpass_fraction(vectors, shape: int | Sequence[int], coarse_shape: int | Sequence[int]
                     ) -> np.ndarray:
    """Fraction of each vector's Fourier power inside the band of a coarse grid
    (:func:`band_mask`); shape (n_vectors,). No hidden-unit layout is involved."""
    p = fourier_power(vectors, shape)
    mask = band_mask(shape, coarse_shape)
    return (p * mask).reshape(p.shape[0], -1).sum(axis=1)


# ----------------------------------------------------------------------------- coarse grids


def hidden_grid_shape(visible_shape: int | Sequence[int], n_hidden: int) -> tuple[int, ...] | None:
    """The coarse grid for ``n_hidden`` units: same dimension and aspect ratio as the visible grid
    and no finer (``(√n_h, √n_h)`` on a square image, ``(n_h,)`` for a chain), or None."""
    shape = _shape(visible_shape)
    if len(shape) == 1:
        return (n_hidden,) if n_hidden <= shape[0] else None
    if len(shape) == 2:
        H, W = shape
        for h in range(1, H + 1):
            w, rem = divmod(n_hidden, h)
            if not rem and w <= W and h * W == w * H:
                return (h, w)
        return None
    c = round(n_hidden ** (1 / 3))
    ok = c ** 3 == n_hidden and len(set(shape)) == 1 and c <= shape[0]
    return (c, c, c) if ok else None


def _fourier_axis(L: int, l: int) -> np.ndarray:
    """(l, L) matrix: ideal low-pass to the modes of an l-site grid, then evaluation of the
    band-limited signal at the coarse sites (block centres)."""
    if l == L:
        return np.eye(L)
    pos = (np.arange(l) + 0.5) * (L / l) - 0.5
    m = np.rint(np.fft.fftfreq(L) * L)
    w = (np.abs(m) < l / 2) + 0.5 * (np.abs(m) == l / 2)
    m, w = m[w > 0], w[w > 0]  # symmetric in ±m (|m| <= l/2 < L/2), so the sum is real
    ap, ax = np.outer(pos, 2 * np.pi * m / L), np.outer(np.arange(L), 2 * np.pi * m / L)
    # cos(a(p - x)) = cos(ap)cos(ax) + sin(ap)sin(ax): O((l + L)·l) memory instead of O(l·L·l)
    return ((np.cos(ap) * w) @ np.cos(ax).T + (np.sin(ap) * w) @ np.sin(ax).T) / L


def _block_axis(L: int, l: int) -> np.ndarray:
    """(l, L) area-averaging matrix (block means, fractional at non-integer block edges)."""
    edges = np.linspace(0.0, L, l + 1)
    cells = np.arange(L)[None, :]
    overlap = np.clip(np.minimum(edges[1:, None], cells + 1) - np.maximum(edges[:-1, None], cells),
                      0.0, None)
    return overlap / (L / l)


def coarse_grain_vectors(vectors, shape: int | Sequence[int], coarse_shape: int | Sequence[int],
                         method: str = "fourier") -> np.ndarray:
    """Low-pass filter and downsample vectors from grid ``shape`` to ``coarse_shape``.

    Parameters
    ----------
    vectors : (n_vectors, prod(shape))
    method : ``fourier`` (ideal k-space box filter, evaluated at block centres) or ``block``
        (area averaging); see the module docstring.

    Returns
    -------
    numpy.ndarray (n_vectors, prod(coarse_shape))
    """
    if method not in OVERLAP_METHODS:
        raise ValueError(f"method {method!r} is not allowed; choose one of {OVERLAP_METHODS}")
    shape, coarse = _shape(shape), _shape(coarse_shape)
    band_mask(shape, coarse)  # validates the pair
    x = as_numpy(vectors).reshape(-1, *shape)
    make = _fourier_axis if method == "fourier" else _block_axis
    for ax, (L, l) in enumerate(zip(shape, coarse, strict=True)):
        x = np.moveaxis(np.tensordot(make(L, l), x, axes=([1], [ax + 1])), 0, ax + 1)
    return x.reshape(x.shape[0], -1)


def _periodic_centres(weights: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Circular centre of mass per column of ``weights`` (prod(shape), n) → (n, len(shape))."""
    w = weights.reshape(*shape, -1)
    out = []
    for ax, L in enumerate(shape):
        theta = 2 * np.pi * np.arange(L) / L
        phasor = np.exp(1j * theta).reshape([-1 if i == ax else 1 for i in range(len(shape))] + [1])
        z = (w * phasor).sum(axis=tuple(range(len(shape))))
        out.append(np.mod(np.angle(z) * L / (2 * np.pi), L))
    return np.stack(out, axis=1)


def receptive_field_order(W, visible_shape: int | Sequence[int], hidden_shape: int | Sequence[int]
                          ) -> np.ndarray:
    """Permutation placing hidden units on the coarse grid by receptive-field centre.

    Each unit's centre is the periodic centre of mass of ``W[:, a]²`` on the visible grid; coarse
    site ``j`` sits at the block centre ``(j + ½) b − ½``; the assignment minimising the summed
    squared periodic distance is found with the Hungarian algorithm.

    Returns
    -------
    order : int array (n_hidden,), ``order[site] = hidden unit placed at that coarse site``
        (row-major sites), so ``V[order, i]`` is hidden vector ``i`` laid out on the grid.
    """
    from scipy.optimize import linear_sum_assignment

    W = _weights(W)
    vshape, hshape = _shape(visible_shape), _shape(hidden_shape)
    if int(np.prod(hshape)) != W.shape[1] or int(np.prod(vshape)) != W.shape[0]:
        raise ValueError(f"W of shape {W.shape} does not match grids {vshape} and {hshape}")
    centres = _periodic_centres(W ** 2, vshape)
    sites = np.stack(np.meshgrid(*((np.arange(l) + 0.5) * (L / l) - 0.5
                                   for L, l in zip(vshape, hshape, strict=True)), indexing="ij"),
                     axis=-1).reshape(-1, len(vshape))
    d2 = np.zeros((W.shape[1], sites.shape[0]))
    for ax, L in enumerate(vshape):
        d = np.abs(centres[:, None, ax] - sites[None, :, ax])
        d2 += np.minimum(d, L - d) ** 2
    units, cells = linear_sum_assignment(d2)
    order = np.empty(W.shape[1], dtype=int)
    order[cells] = units
    return order


def receptive_field_signs(W) -> np.ndarray:
    """Sign (±1) per hidden unit that makes the unit's largest-magnitude weight positive."""
    W = _weights(W)
    signs = np.sign(W[np.argmax(np.abs(W), axis=0), np.arange(W.shape[1])])
    signs[signs == 0] = 1.0
    return signs


def hidden_visible_overlap(W, visible_shape: int | Sequence[int],
                           hidden_shape: int | Sequence[int] | None = None,
                           n_modes: int | None = None, method: str = "fourier",
                           align: str = "index") -> np.ndarray:
    """Overlap of each hidden singular vector with its low-pass-filtered visible vector.

    Parameters
    ----------
    W : (n_visible, n_hidden) weights
    visible_shape : grid of the visible units (e.g. (28, 28), (N,) for a chain)
    hidden_shape : coarse grid of the hidden units; default :func:`hidden_grid_shape`
    n_modes : number of leading modes (default all)
    method : ``fourier`` | ``block`` (the filter D; see the module docstring)
    align : ``index`` | ``receptive_field`` (placement, and for ``receptive_field`` the sign
        gauge, of the hidden units on the coarse grid)

    Returns
    -------
    numpy.ndarray (n_modes,), values in [0, 1], ordered by descending singular value.

    Raises
    ------
    ValueError
        no coarse grid fits ``n_hidden`` and none was given, or unknown ``method``/``align``.
    """
    if align not in ALIGN_MODES:
        raise ValueError(f"align {align!r} is not allowed; choose one of {ALIGN_MODES}")
    W = _weights(W)
    vshape = _shape(visible_shape)
    if hidden_shape is None:
        hidden_shape = hidden_grid_shape(vshape, W.shape[1])
        if hidden_shape is None:
            raise ValueError(f"n_hidden={W.shape[1]} has no coarse grid matching the visible grid "
                             f"{vshape} (same dimension and aspect ratio); pass hidden_shape")
    hshape = _shape(hidden_shape)
    if int(np.prod(hshape)) != W.shape[1]:
        raise ValueError(f"hidden_shape {hshape} does not hold n_hidden={W.shape[1]} units")
    U, _, V = svd_weights(W)
    k = U.shape[1] if n_modes is None else min(int(n_modes), U.shape[1])
    hidden = _laid_out(W, V[:, :k], vshape, hshape, align).T
    target = coarse_grain_vectors(U[:, :k].T, vshape, hshape, method)
    norms = np.linalg.norm(target, axis=1)
    dots = np.abs(np.einsum("ij,ij->i", hidden, target))
    return np.divide(dots, norms, out=np.zeros(k), where=norms > 1e-12)


def _laid_out(W: np.ndarray, V: np.ndarray, vshape, hshape, align: str) -> np.ndarray:
    """Rows of hidden vectors ``V`` (n_hidden, k) reordered (and sign-fixed) onto the coarse grid."""
    if align == "index":
        return V
    signs = receptive_field_signs(W)
    return (V * signs[:, None])[receptive_field_order(W, vshape, hshape)]


def random_overlap_baseline(n: int) -> float:
    """E|cos| between two independent uniformly random unit vectors of R^n (≈ √(2/(π n)))."""
    from scipy.special import gammaln

    return float(np.exp(gammaln(n / 2) - gammaln((n + 1) / 2)) / np.sqrt(np.pi))


# ----------------------------------------------------------------------------- covariance


def covariance_spectrum(X, center: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition of the data covariance.

    Parameters
    ----------
    X : (n_samples, n_features) or (n_samples, *grid) data
    center : subtract the mean (covariance); False gives the second-moment matrix ``XᵀX/N``

    Returns
    -------
    eigenvalues : (n_features,) descending, clipped at 0
    eigenvectors : (n_features, n_features), column j belongs to eigenvalue j; sign fixed so
        each column's largest-magnitude entry is positive
    """
    X = as_numpy(X)
    X = X.reshape(X.shape[0], -1)
    if X.shape[0] < 2:
        raise ValueError(f"need at least 2 samples; got {X.shape[0]}")
    if center:
        X = X - X.mean(axis=0)
    C = X.T @ X / (X.shape[0] - (1 if center else 0))
    vals, vecs = np.linalg.eigh(C)
    vals, vecs = np.clip(vals[::-1], 0.0, None), vecs[:, ::-1]
    idx = np.argmax(np.abs(vecs), axis=0)
    signs = np.sign(vecs[idx, np.arange(vecs.shape[1])])
    signs[signs == 0] = 1.0
    return vals, vecs * signs


def principal_cosines(A, B) -> np.ndarray:
    """Cosines of the principal angles between span(A) and span(B).

    Parameters
    ----------
    A : (n, k_a), B : (n, k_b) — columns span the subspaces (need not be orthonormal)

    Returns
    -------
    numpy.ndarray (min(k_a, k_b),), descending, in [0, 1]
    """
    A, B = as_numpy(A), as_numpy(B)
    if A.ndim != 2 or B.ndim != 2 or A.shape[0] != B.shape[0]:
        raise ValueError(f"A and B must be (n, k) with the same n; got {A.shape} and {B.shape}")
    qa, _ = np.linalg.qr(A)
    qb, _ = np.linalg.qr(B)
    return np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), 0.0, 1.0)


def subspace_agreement(A, B) -> float:
    """Mean cos² of the principal angles between span(A) and span(B) (1 equal, 0 orthogonal)."""
    return float(np.mean(principal_cosines(A, B) ** 2))


def subspace_agreement_curve(cov_vectors, W, ks: Sequence[int]) -> pd.DataFrame:
    """Agreement between the top-k covariance eigenvectors and W's top-k visible singular
    vectors, for each k.

    Parameters
    ----------
    cov_vectors : (n_visible, ≥ max k) eigenvectors, descending eigenvalue (from
        :func:`covariance_spectrum`)
    W : (n_visible, n_hidden) weights
    ks : subspace dimensions; values above min(n_visible, n_hidden) are dropped

    Returns
    -------
    DataFrame with columns ``k``, ``mean_cos2``, ``min_cos2`` (the largest principal angle),
    ``random_baseline`` (k / n_visible, the expectation for a random subspace).
    """
    E = as_numpy(cov_vectors)
    U, s, _ = svd_weights(W)
    n = U.shape[0]
    if E.shape[0] != n:
        raise ValueError(f"covariance vectors have {E.shape[0]} rows, W has {n} visible units")
    rows = []
    for k in ks:
        k = int(k)
        if k < 1 or k > min(U.shape[1], E.shape[1]):
            continue
        c2 = principal_cosines(E[:, :k], U[:, :k]) ** 2
        rows.append({"k": k, "mean_cos2": float(c2.mean()), "min_cos2": float(c2.min()),
                     "random_baseline": k / n})
    return pd.DataFrame(rows, columns=["k", "mean_cos2", "min_cos2", "random_baseline"])


def eigengap_ks(eigenvalues, n_gaps: int = 3, k_max: int | None = None,
                rel_floor: float = 1e-10) -> list[int]:
    """Subspace dimensions k that sit at the largest gaps of a spectrum.

    A top-k subspace is only well defined when ``λ_k > λ_{k+1}`` clearly (a near-degenerate
    pair split at k makes the subspace, and its agreement with anything, unstable). The gap at k
    is ``log(λ_k / λ_{k+1})`` (relative, so that the steep head of a spectrum does not hide the
    gaps further down); the ``n_gaps`` largest for ``1 ≤ k ≤ k_max`` are returned.

    Parameters
    ----------
    eigenvalues : (n,) descending, ≥ 0
    n_gaps : how many ks to return (fewer if the spectrum is shorter)
    k_max : largest k considered (default n − 1)
    rel_floor : eigenvalues below ``rel_floor · λ_1`` count as zero and are not split from one
        another

    Returns
    -------
    list of int, ascending
    """
    lam = np.asarray(as_numpy(eigenvalues), dtype=float).ravel()
    if lam.size < 2 or np.any(np.diff(lam) > 1e-12 * max(abs(lam[0]), 1e-300)):
        raise ValueError(f"eigenvalues must be a descending array of length >= 2; got {lam[:5]}...")
    if int(n_gaps) < 1:
        raise ValueError(f"n_gaps must be >= 1; got {n_gaps!r}")
    k_max = lam.size - 1 if k_max is None else min(int(k_max), lam.size - 1)
    if k_max < 1:
        raise ValueError(f"k_max must be >= 1; got {k_max!r}")
    floor = rel_floor * max(lam[0], 1e-300)
    lam = np.maximum(lam, floor)
    gaps = np.log(lam[:k_max] / lam[1:k_max + 1])   # gaps[k-1] is the gap after k modes
    order = np.argsort(-gaps, kind="stable")[: int(n_gaps)]
    return sorted(int(i) + 1 for i in order if gaps[i] > 0)


# ----------------------------------------------------------------------------- tables


def spectral_tables(W, visible_shape: int | Sequence[int],
                    hidden_shape: int | Sequence[int] | None = None, n_modes: int = 16,
                    method: str = "fourier", align: str = "receptive_field"
                    ) -> dict[str, pd.DataFrame]:
    """Long-format tables for one weight matrix (what the spectral stage writes).

    Returns
    -------
    dict with
    ``singular`` : ``mode, singular_value, variance_fraction``
    ``fourier`` : ``mode, side (visible|hidden), k, mean_power, shell_power`` for the leading
        ``n_modes`` (hidden side only when a coarse grid exists)
    ``overlap`` : ``mode, singular_value, overlap, lowpass_fraction, random_baseline``
        (overlap NaN when no coarse grid exists)
    """
    W = _weights(W)
    vshape = _shape(visible_shape)
    if int(np.prod(vshape)) != W.shape[0]:
        raise ValueError(f"visible_shape {vshape} does not hold n_visible={W.shape[0]} units")
    U, s, V = svd_weights(W)
    k = min(n_modes, s.size)
    hshape = (_shape(hidden_shape) if hidden_shape is not None
              else hidden_grid_shape(vshape, W.shape[1]))
    singular = pd.DataFrame({"mode": np.arange(s.size), "singular_value": s,
                             "variance_fraction": s ** 2 / max((s ** 2).sum(), 1e-300)})
    parts = []
    sides = [("visible", U[:, :k].T, vshape)]
    if hshape is not None:
        sides.append(("hidden", _laid_out(W, V[:, :k], vshape, hshape, align).T, hshape))
    for side, vecs, shp in sides:
        kk, mean_p, shell_p = radial_power(vecs, shp)
        for i in range(k):
            parts.append(pd.DataFrame({"mode": i, "side": side, "k": kk, "mean_power": mean_p[i],
                                       "shell_power": shell_p[i]}))
    fourier = pd.concat(parts, ignore_index=True)
    if hshape is not None:
        ov = hidden_visible_overlap(W, vshape, hshape, k, method, align)
        lp = lowpass_fraction(U[:, :k].T, vshape, hshape)
    else:
        ov = lp = np.full(k, np.nan)
    overlap = pd.DataFrame({"mode": np.arange(k), "singular_value": s[:k], "overlap": ov,
                            "lowpass_fraction": lp,
                            "random_baseline": random_overlap_baseline(W.shape[1])})
    return {"singular": singular, "fourier": fourier, "overlap": overlap}
