"""Weight initialisation: random N(0, σ²) and covariance initialisation (P3).

Covariance initialisation sets the columns of W to the top eigenvectors of the training data's
covariance matrix, so that training starts inside the subspace the trained weights are known to
end up in (P3 reports 4×–100× fewer epochs to the same loss). Both schemes work for RBMs and
autoencoders (anything with a ``W`` of shape (n_visible, n_hidden)).
"""

from __future__ import annotations

import math

import torch

from coarsegrain.rbm.model import as_matrix

SCHEMES = ("random", "covariance")
WEIGHTINGS = ("none", "sqrt", "mean_field")


def covariance_eigh(data, center: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (descending) and eigenvectors (columns, same order) of the data covariance.

    ``data``: (n, n_visible) or (n, *lattice). Computed in float64 on the data's device; each
    eigenvector's sign is fixed so that its largest-magnitude component is positive.
    """
    x = data if isinstance(data, torch.Tensor) else torch.as_tensor(data)
    n_features = math.prod(x.shape[1:]) if x.ndim >= 2 else -1
    x = as_matrix(x, n_features, dtype=torch.float64, device=x.device, name="data")
    if x.shape[0] < 2:
        raise ValueError(f"covariance needs at least 2 samples; got {x.shape[0]}")
    if center:
        x = x - x.mean(dim=0)
    cov = x.t() @ x / (x.shape[0] - 1)
    evals, evecs = torch.linalg.eigh(cov)
    evals, evecs = evals.flip(0), evecs.flip(1)
    idx = evecs.abs().argmax(dim=0)
    signs = torch.sign(evecs[idx, torch.arange(evecs.shape[1], device=evecs.device)])
    return evals.clamp(min=0), evecs * torch.where(signs == 0, 1.0, signs)


def covariance_init(data, n_hidden: int, scale: float | None = None, *,
                    weighting: str = "none", center: bool = True, std: float = 0.05,
                    seed: int | None = None, dtype=torch.float32) -> torch.Tensor:
    """Weights from the top ``n_hidden`` eigenvectors of the data covariance.

    Parameters
    ----------
    data : training data, (n, n_visible) or (n, *lattice)
    n_hidden : number of columns
    scale : norm of each column; default ``std * sqrt(n_visible)``, the expected column norm of
        a random N(0, std²) initialisation, so that the two schemes differ only in direction
        (default 1 for ``weighting="mean_field"``)
    weighting : "none" (all columns have norm ``scale``), "sqrt" (column i has norm
        ``scale * sqrt(λ_i / λ_1)``, following the data's variance spectrum) or "mean_field"
        (column i has norm ``sqrt(max(0, 1 − 1/λ_i))``, times ``scale`` if given: for ±1 data
        and small weights an RBM's covariance is ≈ (1 − W Wᵀ)⁻¹, so these weights give the
        model the data's covariance along the top eigenvectors)
    center : subtract the mean before forming the covariance
    std, seed : columns beyond n_visible (when n_hidden > n_visible) are drawn N(0, std²)
        from ``seed``
    dtype : dtype of the result

    Returns
    -------
    torch.Tensor (n_visible, n_hidden) on the data's device (CPU for arrays)
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting={weighting!r} is not allowed; choose one of {WEIGHTINGS}")
    if not isinstance(n_hidden, int) or n_hidden < 1:
        raise ValueError(f"n_hidden must be a positive integer; got {n_hidden!r}")
    evals, evecs = covariance_eigh(data, center=center)
    nv = evecs.shape[0]
    if scale is None:
        scale = 1.0 if weighting == "mean_field" else std * math.sqrt(nv)
    k = min(n_hidden, nv)
    cols = evecs[:, :k] * float(scale)
    if weighting == "mean_field":
        cols = cols * torch.sqrt((1.0 - 1.0 / evals[:k].clamp(min=1e-12)).clamp(min=0.0))
    elif weighting == "sqrt":
        top = float(evals[0]) if float(evals[0]) > 0 else 1.0
        cols = cols * torch.sqrt(evals[:k] / top)
    if n_hidden > nv:
        from coarsegrain.runtime import torch_generator

        g = torch_generator(0 if seed is None else seed, "covariance-init-extra")
        extra = torch.randn(nv, n_hidden - nv, generator=g, dtype=torch.float64) * std
        cols = torch.cat([cols, extra.to(cols.device)], dim=1)
    return cols.to(dtype)


def init_weights(model, scheme: str = "random", data=None, *, std: float = 0.05,
                 scale: float | None = None, weighting: str = "none",
                 seed: int | None = None) -> None:
    """Set ``model.W`` (and an untied autoencoder's decoder to ``W.T``) in place.

    ``scheme="random"``: N(0, std²) from ``seed``; ``"covariance"``: :func:`covariance_init`
    on ``data``. Biases are set to zero.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme={scheme!r} is not allowed; choose one of {SCHEMES}")
    W = model.W
    nv, nh = W.shape
    if scheme == "covariance":
        if data is None:
            raise ValueError("covariance initialisation needs the training data (data=...)")
        new = covariance_init(data, nh, scale, weighting=weighting, std=std, seed=seed)
        if new.shape[0] != nv:
            raise ValueError(f"data has {new.shape[0]} features per sample; the model has "
                             f"n_visible={nv}")
    else:
        from coarsegrain.runtime import torch_generator

        g = torch_generator(0 if seed is None else seed, "rbm-init")  # as RBM(seed=...)
        new = torch.randn(nv, nh, generator=g, dtype=torch.float64) * std
    with torch.no_grad():
        W.copy_(new.to(device=W.device, dtype=W.dtype))
        for name in ("a", "b", "b_h", "b_v"):
            if getattr(model, name, None) is not None:
                getattr(model, name).zero_()
        if getattr(model, "W_dec", None) is not None:
            model.W_dec.copy_(W.t())
