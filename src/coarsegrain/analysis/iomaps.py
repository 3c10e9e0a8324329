"""Input–output correlators ⟨v_i h_a⟩ and how local they are (P1).

For an RBM the output of hidden unit a is its mean-field value h_a = tanh(Σ_i W_ia v_i + b_a)
(``rbm.mean_h``); for block-spin RG it is the block spin. Averaging v_i h_a over data gives one
map per output unit on the visible lattice. RG maps are local by construction (supported on the
unit's block); P1's claim is that RBM maps are not.

Locality measures, per map (all on the periodic lattice):

``block_fraction``
    the largest share of the weight Σ_i m_i² (or Σ_i |m_i| with power=1) inside any b×b window
    (b-site window for chains), over all window positions. Exactly 1 for a map supported on one
    block; b^d/N for a uniform map.
``participation_ratio``
    (Σ m_i²)² / Σ m_i⁴: the number of sites the map is spread over (4 for a uniform 2×2 block).
``radius``
    the smallest root-mean-square distance of the weight m_i² from a centre, minimised over
    centres on sites, bond midpoints and plaquette centres, with minimum-image distances; 1/√2 for a
    uniform 2×2 block, 0 for a single site, ~L/√6 per axis for a map spread over the lattice.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from coarsegrain.runtime import make_rng

MEASURES = ("block_fraction", "participation_ratio", "radius")


# ----------------------------------------------------------------------------- maps


def io_correlator(inputs, outputs, connected: bool = False, return_error: bool = False):
    """⟨v_i h_a⟩ over samples.

    Parameters
    ----------
    inputs : array (n, *lattice_shape) or (n, N_v), the input spins v
    outputs : array (n, M), the outputs h (any real values)
    connected : subtract ⟨v_i⟩⟨h_a⟩
    return_error : also return the standard error of each entry (std of v_i h_a over samples
        / √n, treating samples as independent); pass it as ``noise`` to the locality measures

    Returns
    -------
    float64 array of shape (M, *lattice_shape): map a is ⟨v h_a⟩ on the input lattice
    (and the same-shaped standard errors if ``return_error``)
    """
    v = np.asarray(inputs, dtype=np.float64)
    h = np.asarray(outputs, dtype=np.float64).reshape(v.shape[0], -1)
    shape = v.shape[1:]
    v = v.reshape(v.shape[0], -1)
    n = v.shape[0]
    c = h.T @ v / n
    if return_error:
        second = (h**2).T @ (v**2) / n
        err = np.sqrt(np.clip(second - c**2, 0, None) / max(n - 1, 1))
    if connected:
        c -= np.outer(h.mean(axis=0), v.mean(axis=0))
    c = c.reshape((h.shape[1], *shape))
    return (c, err.reshape(c.shape)) if return_error else c


def linear_response(inputs, outputs, ridge: float = 1e-3) -> np.ndarray:
    """Linear receptive fields: the least-squares β with h_a ≈ Σ_i β_ia v_i.

    β = (⟨v vᵀ⟩ + λ I)⁻¹ ⟨v h⟩ with λ = ridge · mean(diag ⟨v vᵀ⟩). Unlike ⟨v h⟩, which mixes
    the unit's receptive field with the input correlations (broad near T_c), β isolates how the
    output depends on each input: for block averaging it is exactly the block kernel.

    Returns
    -------
    float64 array (M, *lattice_shape)
    """
    v = np.asarray(inputs, dtype=np.float64)
    shape = v.shape[1:]
    v = v.reshape(v.shape[0], -1)
    h = np.asarray(outputs, dtype=np.float64).reshape(v.shape[0], -1)
    n = v.shape[0]
    C = v.T @ v / n
    lam = float(ridge) * float(np.mean(np.diag(C)))
    beta = np.linalg.solve(C + lam * np.eye(C.shape[0]), v.T @ h / n)
    return beta.T.reshape((h.shape[1], *shape))


def _maps(configs, outputs, connected, response, ridge):
    """(map, standard error or None) for one layer's outputs."""
    if response:
        return linear_response(configs, outputs, ridge), None
    return io_correlator(configs, outputs, connected=connected, return_error=True)


def rbm_io_maps(rbm, configs, connected: bool = False, return_error: bool = False,
                response: bool = False, ridge: float = 1e-3):
    """⟨v_i h_a⟩ of one RBM with mean-field outputs h = rbm.mean_h(v).

    Parameters
    ----------
    rbm : RBM with ``n_visible = prod(lattice_shape)``
    configs : ±1 configurations (n, *lattice_shape); {0, 1} RBMs see (v + 1)/2 but the map is
        reported against the ±1 spins
    response, ridge : return :func:`linear_response` maps instead of ⟨v h⟩

    Returns
    -------
    array (n_hidden, *lattice_shape) (and its standard errors if ``return_error``; None for
    response maps)
    """
    out = stack_io_maps([rbm], configs, connected=connected, return_error=return_error,
                        response=response, ridge=ridge)
    return (out[0][0], out[1][0]) if return_error else out[0]


def stack_io_maps(layers: Sequence, configs, connected: bool = False,
                  return_error: bool = False, response: bool = False, ridge: float = 1e-3):
    """⟨v_i h^(k)_a⟩ for every layer k of a stack, against the original input spins.

    Layer k's output is obtained by propagating mean-field outputs up the stack
    (``StackedRBM.up(v, sample=False)``: h^(1) = mean_h^(1)(v), h^(k) = mean_h^(k)(h^(k−1))).

    Parameters
    ----------
    layers : a :class:`coarsegrain.rbm.StackedRBM` or a list of RBMs (same units)
    configs : ±1 input configurations (n, *lattice_shape)
    response, ridge : :func:`linear_response` maps instead of ⟨v h⟩

    Returns
    -------
    list of arrays, entry k of shape (n_hidden_k, *lattice_shape); with ``return_error`` a pair
    (maps, standard errors) of such lists (errors are None for response maps)
    """
    import torch

    from coarsegrain.flow.rbmflow import as_stack

    stack = as_stack(layers)
    configs = np.asarray(configs)
    n = configs.shape[0]
    first = stack.layers[0]
    if int(np.prod(configs.shape[1:])) != first.W.shape[0]:
        raise ValueError(f"configurations of shape {configs.shape[1:]} do not fit an RBM with "
                         f"{first.W.shape[0]} visible units")
    x = torch.as_tensor(configs.reshape(n, -1), dtype=first.W.dtype, device=first.W.device)
    units = getattr(first, "units", "pm1")
    maps, errors = [], []
    for out in stack.up((x + 1) / 2 if units == "01" else x, sample=False):
        # {0,1} layers give probabilities; report them as ±1 magnetisations
        h = 2 * out - 1 if units == "01" else out
        c = _maps(configs, h.cpu().numpy(), connected, response, ridge)
        maps.append(c[0])
        errors.append(c[1])
    return (maps, errors) if return_error else maps


def rg_io_maps(configs, n_steps: int = 1, rule: str = "average", b: int = 2,
               connected: bool = False, seed: int = 0, return_error: bool = False,
               response: bool = False, ridge: float = 1e-3):
    """⟨v_i s'_X⟩ of block-spin RG outputs against the input spins, per RG step.

    Returns a list of arrays; entry k (k = 0 for the first step) has shape
    (n_blocks_k, *lattice_shape), blocks in row-major order of the coarse lattice; with
    ``return_error`` a pair (maps, standard errors) of such lists. ``response`` gives
    :func:`linear_response` maps (exactly the block kernel for averaging).
    """
    from coarsegrain.rg.blockspin import rg_flow

    configs = np.asarray(configs)
    n = configs.shape[0]
    outs = rg_flow(configs.astype(np.float32), n_steps, rule=rule, b=b, seed=seed,
                   include_input=False)
    res = [_maps(configs, o.reshape(n, -1), connected, response, ridge) for o in outs]
    maps, errors = [r[0] for r in res], [r[1] for r in res]
    return (maps, errors) if return_error else maps


# ----------------------------------------------------------------------------- locality


def _window_sums(w: np.ndarray, b: int) -> np.ndarray:
    """Sum of w over every periodic b-window (b×b in 2D), anchored at each site."""
    out = np.zeros_like(w)
    axes = tuple(range(1, w.ndim))
    if len(axes) == 1:
        for i in range(b):
            out += np.roll(w, -i, axis=1)
        return out
    for i in range(b):
        for j in range(b):
            out += np.roll(w, (-i, -j), axis=axes)
    return out


def _weights(maps, noise=None, clip: bool = True) -> np.ndarray:
    """m², minus the noise bias se² (E[m̂²] = m² + se²) when ``noise`` is given, clipped at 0
    unless ``clip`` is False (unclipped weights keep sums over many noisy sites unbiased)."""
    w = np.asarray(maps, dtype=np.float64) ** 2
    if noise is not None:
        w = w - np.asarray(noise, dtype=np.float64) ** 2
        if clip:
            w = np.clip(w, 0.0, None)
    return w


def block_fraction(maps, b: int = 2, aligned: bool = False, power: float = 2.0,
                   noise=None) -> np.ndarray:
    """Largest share of the map's weight Σ|m|^power inside one b-window, per map.

    Parameters
    ----------
    maps : array (M, *lattice_shape) with 1 or 2 lattice axes
    b : window side
    aligned : only consider the non-overlapping blocks of an RG step (origin at multiples of b)
        instead of every periodic window position
    power : weight |m|^power; 2 (default) keeps sampling noise on the many far sites from
        swamping the measure, 1 is the plain |⟨v h⟩| share
    noise : optional standard errors of the map entries (same shape); the weights are then
        debiased: m² → m² − se² for power 2 (unbiased sums; the ratio is clipped to [0, 1]),
        |m|^power → max(m² − se², 0)^(power/2) otherwise

    Returns
    -------
    float array (M,) in [0, 1] (NaN for an all-zero map). b^d/N for a uniform map.
    """
    if power == 2.0:
        w = _weights(maps, noise, clip=False)
    else:
        w = _weights(maps, noise) ** (power / 2.0)
    if w.ndim not in (2, 3):
        raise ValueError(f"maps must have shape (M, N) or (M, L, L); got {w.shape}")
    if any(s < b for s in w.shape[1:]):
        raise ValueError(f"window b={b} larger than the lattice {w.shape[1:]}")
    sums = _window_sums(w, b)
    if aligned:
        sums = sums[(slice(None),) + (slice(None, None, b),) * (w.ndim - 1)]
    total = w.reshape(w.shape[0], -1).sum(axis=1)
    best = sums.reshape(w.shape[0], -1).max(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.clip(best / total, 0.0, 1.0), np.nan)


def participation_ratio(maps, noise=None) -> np.ndarray:
    """(Σ m²)² / Σ m⁴ per map: the effective number of sites, shape (M,).

    With ``noise`` (standard errors of the entries) m² is debiased as in :func:`block_fraction`.
    """
    w = _weights(maps, noise)
    w = w.reshape(w.shape[0], -1)
    s1 = w.sum(axis=1)
    s2 = (w**2).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s2 > 0, s1**2 / s2, np.nan)


def _d2_kernel(shape: tuple[int, ...], offsets: tuple[float, ...]) -> np.ndarray:
    """Squared minimum-image distance from a centre at ``offsets`` to every site."""
    total = np.zeros(shape)
    for ax, (L, offset) in enumerate(zip(shape, offsets, strict=True)):
        x = np.arange(L) - offset
        d = np.minimum(np.abs(x) % L, L - np.abs(x) % L)
        total = total + (d**2).reshape([-1 if a == ax else 1 for a in range(len(shape))])
    return total


def radius(maps, noise=None) -> np.ndarray:
    """Smallest rms distance of the weight m² from any site, bond or plaquette centre.

    Returns a float array of shape (M,) (NaN for an all-zero map). ``noise`` debiases the
    weights m² as in :func:`block_fraction`.
    """
    w = _weights(maps, noise)
    shape = w.shape[1:]
    axes = tuple(range(1, w.ndim))
    W = np.fft.rfftn(w, axes=axes)
    best = np.full(w.shape[0], np.inf)
    for offsets in itertools.product((0.0, 0.5), repeat=len(shape)):
        # Σ_x w(x) d²(x − c) for every centre c is a circular convolution of w with d²
        K = np.fft.rfftn(_d2_kernel(shape, offsets)[None], axes=axes)
        conv = np.fft.irfftn(W * np.conj(K), s=shape, axes=axes)
        best = np.minimum(best, conv.reshape(w.shape[0], -1).min(axis=1))
    total = w.reshape(w.shape[0], -1).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.sqrt(np.clip(best, 0, None) / total), np.nan)


def locality_table(maps, b: int = 2, aligned: bool = False, noise=None, power: float = 2.0,
                   **labels) -> pd.DataFrame:
    """All locality measures of a set of maps as a tidy table (see the module docstring).

    Returns
    -------
    DataFrame with columns unit, block_fraction, participation_ratio, radius, block (= b),
    uniform_fraction (b^d / N, the block fraction of a uniform map) + one column per label
    (e.g. kind="rbm", layer=1)
    """
    maps = np.asarray(maps)
    n_sites = int(np.prod(maps.shape[1:]))
    df = pd.DataFrame({
        "unit": np.arange(maps.shape[0]),
        "block_fraction": block_fraction(maps, b, aligned=aligned, power=power, noise=noise),
        "participation_ratio": participation_ratio(maps, noise),
        "radius": radius(maps, noise),
        "block": b,
        "uniform_fraction": b ** (maps.ndim - 1) / n_sites,
    })
    for k, v in labels.items():
        df[k] = v
    return df


def locality_contrast(a, b, statistic: str = "median", n_boot: int = 1000,
                      seed: int = 0) -> dict:
    """Difference of a locality statistic between two sets of units, with a bootstrap error.

    Parameters
    ----------
    a, b : per-unit values (e.g. RG and RBM block fractions), any shape (flattened); NaNs are
        ignored by the statistic
    statistic : "median" or "mean"
    n_boot : bootstrap resamples (each set resampled on its own, with replacement)
    seed : seeds the resampling

    Returns
    -------
    dict with a, b (the statistic of each set), diff (a − b), error (bootstrap standard error
    of diff), ci_low, ci_high (95 % percentile interval of diff), p_greater (bootstrap share of
    resamples with diff ≤ 0, i.e. a one-sided p-value for a > b). With fewer than two values
    in a set, its spread is unknown: error, interval and p_greater are NaN.
    """
    from scipy.stats import bootstrap

    f = {"median": np.nanmedian, "mean": np.nanmean}.get(statistic)
    if f is None:
        raise ValueError(f"statistic must be 'median' or 'mean'; got {statistic!r}")
    if int(n_boot) < 2:
        raise ValueError(f"n_boot must be an integer >= 2; got {n_boot!r}")
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("both sets of values must be non-empty")
    out = dict(a=float(f(a)), b=float(f(b)), diff=float(f(a) - f(b)), error=np.nan,
               ci_low=np.nan, ci_high=np.nan, p_greater=np.nan)
    if a.size < 2 or b.size < 2:
        return out
    # scipy's two-sample bootstrap: each set resampled independently (paired=False).
    res = bootstrap((a, b), lambda x, y, axis: f(x, axis=axis) - f(y, axis=axis),
                    paired=False, vectorized=True, n_resamples=int(n_boot),
                    method="percentile", confidence_level=0.95,
                    random_state=make_rng(seed, "locality-contrast"))
    out.update(error=float(res.standard_error), ci_low=float(res.confidence_interval.low),
               ci_high=float(res.confidence_interval.high),
               p_greater=float(np.mean(res.bootstrap_distribution <= 0)))
    return out


def maps_on_lattice(maps: np.ndarray, lattice_shape: tuple[int, ...]) -> np.ndarray:
    """Reshape flat maps (M, N) to (M, *lattice_shape)."""
    maps = np.asarray(maps)
    return maps.reshape((maps.shape[0], *lattice_shape))
