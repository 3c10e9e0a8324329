"""Weight initialisation: random N(0, σ²), covariance directions, and the data-set
autoencoder (P3).

``covariance`` sets the columns of W to the top eigenvectors of the training data's covariance
matrix (directions only; biases zero), for RBMs and autoencoders alike (anything with a ``W`` of
shape (n_visible, n_hidden)).

``dataset`` (autoencoders only; :func:`dataset_autoencoder_init`) sets *every* parameter of an
untied autoencoder with a linear output from the training data alone, so that the model *is* the
rank-k PCA reconstruction up to the hidden nonlinearity. P3 (arXiv:2012.03531) says such an
autoencoder "almost performs as well as" a trained one and, used as the initial condition, cuts
training time by 4×–100×; its exact formula is not public, and the one below is our reading.

The data-set autoencoder
------------------------
With μ the training mean, λ_i ≥ λ_{i+1} the covariance eigenvalues and e_i the eigenvectors,
z_i = (x − μ)·e_i the principal components (variance λ_i) and k = n_hidden:

- encoder column ``W[:, i] = c_i e_i`` with ``c_i = α / √λ_i`` and bias ``b_h,i = −c_i μ·e_i``,
  so hidden unit i receives ``c_i z_i``, a pre-activation of mean 0 and standard deviation α;
  α (default 0.5) keeps tanh/sigmoid units near their linear range (tanh(u) = u(1 − u²/3 + …)),
  where the autoencoder reduces to PCA, while leaving their slope, hence gradients, intact;
- decoder row ``W_dec[i, :] = g_i e_iᵀ`` with the least-squares gain
  ``g_i = Cov(z_i, h_i) / Var(h_i)`` (h_i the unit's output on the training data), and output
  bias ``b_v = μ − Σ_i g_i E[h_i] e_i``. The gain undoes the unit's scale and slope (1/c_i for a
  linear unit, ≈ 4/c_i for a sigmoid one, whose output is ≈ ½ + c_i z_i/4), and b_v absorbs
  the sigmoid's ½ offset, so that the reconstruction is ``μ + Σ_i g_i (h_i − E h_i) e_i``.

With a linear hidden layer this *is* the PCA reconstruction ``μ + Σ_{i≤k} z_i e_i``, exactly; with
tanh or sigmoid units it differs from it by the units' curvature, O(α²) relatively. A tied
autoencoder cannot reach it (the encoder's scale c and the decoder's gain would both be c), nor
can a nonlinear output unit (its slope varies from pixel to pixel), so the scheme requires
``tied=False`` and ``output_activation="linear"``.

The eigendecomposition costs O(n·n_v² + n_v³); :class:`DataCovariance` holds it, so a job
computes it once and passes it to every initialisation and analysis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from coarsegrain.rbm.model import as_matrix

SCHEMES = ("random", "covariance", "dataset")
WEIGHTINGS = ("none", "sqrt", "mean_field")


@dataclass(frozen=True)
class DataCovariance:
    """Mean and eigendecomposition of a training set's covariance, computed once per job.

    Attributes
    ----------
    mean : numpy float64 (n_visible,), the training mean (zeros when not centred)
    eigenvalues : numpy float64 (n_visible,), descending, clipped at 0 (units: data units²)
    eigenvectors : numpy float64 (n_visible, n_visible), column j belongs to eigenvalue j, sign
        fixed so that its largest-magnitude entry is positive
    n_samples : number of training samples it was computed from
    centered : whether the mean was subtracted (False: second-moment matrix)
    """

    mean: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    n_samples: int
    centered: bool = True

    @classmethod
    def from_data(cls, data, center: bool = True) -> DataCovariance:
        """Compute it from ``data`` (n, n_visible) or (n, *lattice), in float64."""
        x = data if isinstance(data, torch.Tensor) else torch.as_tensor(np.asarray(data))
        n_features = math.prod(x.shape[1:]) if x.ndim >= 2 else -1
        x = as_matrix(x, n_features, dtype=torch.float64, device=x.device, name="data")
        evals, evecs = covariance_eigh(x, center=center)
        mean = x.mean(dim=0) if center else torch.zeros(x.shape[1], dtype=torch.float64)
        return cls(mean.cpu().numpy(), evals.cpu().numpy(), evecs.cpu().numpy(), int(x.shape[0]),
                   bool(center))

    @property
    def n_visible(self) -> int:
        return int(self.eigenvalues.size)

    def project(self, data, k: int) -> np.ndarray:
        """Principal components ``z = (x − μ) E_k``, numpy float64 (n, k)."""
        x = np.asarray(data, dtype=np.float64).reshape(len(data), -1)
        if x.shape[1] != self.n_visible:
            raise ValueError(f"data has {x.shape[1]} features per sample; the covariance has "
                             f"{self.n_visible}")
        return (x - self.mean) @ self.eigenvectors[:, :k]

    def pca_reconstruction(self, data, k: int) -> np.ndarray:
        """Rank-k PCA reconstruction ``μ + (x − μ) E_k E_kᵀ``, numpy float64 (n, n_visible)."""
        return self.mean + self.project(data, k) @ self.eigenvectors[:, :k].T


def _as_covariance(data, center: bool = True) -> DataCovariance:
    return data if isinstance(data, DataCovariance) else DataCovariance.from_data(data, center)


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
    data : training data, (n, n_visible) or (n, *lattice), or its :class:`DataCovariance`
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
    torch.Tensor (n_visible, n_hidden) on the CPU
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting={weighting!r} is not allowed; choose one of {WEIGHTINGS}")
    if not isinstance(n_hidden, int) or n_hidden < 1:
        raise ValueError(f"n_hidden must be a positive integer; got {n_hidden!r}")
    cov = _as_covariance(data, center)
    evals = torch.as_tensor(cov.eigenvalues, dtype=torch.float64)
    evecs = torch.as_tensor(cov.eigenvectors, dtype=torch.float64)
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


def dataset_autoencoder_init(ae, data, covariance: DataCovariance | None = None, *,
                             alpha: float = 0.25, std: float = 0.05,
                             seed: int | None = None) -> None:
    """Set every parameter of ``ae`` from the training data (the data-set autoencoder).

    The formula and why it is chosen are in the module docstring.

    Parameters
    ----------
    ae : :class:`~coarsegrain.rbm.autoencoder.Autoencoder` with ``tied=False`` and
        ``output_activation="linear"``
    data : training data (n, n_visible) or (n, *lattice); used for the gains ``g_i`` and, unless
        ``covariance`` is given, for the eigendecomposition
    covariance : precomputed :class:`DataCovariance` of ``data`` (avoids recomputing it)
    alpha : standard deviation of each hidden pre-activation on the training data (> 0)
    std, seed : hidden units beyond the number of eigenvectors with non-zero variance get encoder
        columns N(0, std²) from ``seed`` and zero decoder rows

    Raises
    ------
    ValueError
        a tied autoencoder, a nonlinear output, alpha ≤ 0, or data of the wrong width
    """
    if getattr(ae, "tied", True) or getattr(ae, "W_dec", None) is None:
        raise ValueError("the data-set initialisation needs an untied autoencoder (tied=False); "
                         f"got tied={getattr(ae, 'tied', None)!r}")
    if getattr(ae, "output_activation", None) != "linear":
        raise ValueError("the data-set initialisation needs output_activation='linear'; got "
                         f"{getattr(ae, 'output_activation', None)!r}")
    if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a positive number; got {alpha!r}")
    nv, nh = ae.W.shape
    cov = covariance if covariance is not None else DataCovariance.from_data(data)
    if cov.n_visible != nv:
        raise ValueError(f"data has {cov.n_visible} features per sample; the model has "
                         f"n_visible={nv}")
    lam = cov.eigenvalues
    # Directions with (numerically) no variance carry nothing to reconstruct and would need an
    # infinite c_i; they are left to the random columns below.
    k = int(min(nh, np.count_nonzero(lam > 1e-12 * max(lam[0], 1e-300))))
    z = cov.project(data, k)                                   # (n, k) principal components
    c = alpha / np.sqrt(lam[:k])
    E = cov.eigenvectors[:, :k]
    pre = torch.as_tensor(z * c, dtype=torch.float64)
    h = ae._act(pre).numpy()                                   # (n, k) hidden outputs
    h_mean = h.mean(axis=0)
    hc = h - h_mean
    var_h = (hc ** 2).mean(axis=0)
    gain = np.divide((hc * (z - z.mean(axis=0))).mean(axis=0), var_h, out=np.zeros(k),
                     where=var_h > 0)
    W = np.zeros((nv, nh))
    W[:, :k] = E * c
    b_h = np.zeros(nh)
    b_h[:k] = -c * (cov.mean @ E)
    W_dec = np.zeros((nh, nv))
    W_dec[:k] = gain[:, None] * E.T
    b_v = cov.mean - (gain * h_mean) @ E.T
    if nh > k:
        from coarsegrain.runtime import torch_generator

        g = torch_generator(0 if seed is None else seed, "dataset-init-extra")
        W[:, k:] = (torch.randn(nv, nh - k, generator=g, dtype=torch.float64) * std).numpy()
    with torch.no_grad():
        for name, value in (("W", W), ("b_h", b_h), ("W_dec", W_dec), ("b_v", b_v)):
            t = getattr(ae, name)
            t.copy_(torch.as_tensor(value, dtype=t.dtype, device=t.device))


def init_weights(model, scheme: str = "random", data=None, *, std: float = 0.05,
                 scale: float | None = None, weighting: str = "none",
                 seed: int | None = None, covariance: DataCovariance | None = None,
                 alpha: float = 0.25) -> None:
    """Set ``model.W`` (and an untied autoencoder's decoder to ``W.T``) in place.

    ``scheme="random"``: N(0, std²) from ``seed``; ``"covariance"``: :func:`covariance_init`
    on ``data`` (or on ``covariance`` when given); biases are set to zero for both.
    ``"dataset"``: :func:`dataset_autoencoder_init` (every parameter, autoencoders only).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme={scheme!r} is not allowed; choose one of {SCHEMES}")
    W = model.W
    nv, nh = W.shape
    if scheme in ("covariance", "dataset") and data is None and (
            scheme == "dataset" or covariance is None):
        raise ValueError(f"{scheme} initialisation needs the training data (data=...)")
    if scheme == "dataset":
        dataset_autoencoder_init(model, data, covariance, alpha=alpha, std=std, seed=seed)
        return
    if scheme == "covariance":
        new = covariance_init(covariance if covariance is not None else data, nh, scale,
                              weighting=weighting, std=std, seed=seed)
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
