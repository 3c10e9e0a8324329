"""Covariance initialisation experiment (P3): does starting from the data's principal
components make training faster, and what do the trained weights keep?

For one data set, shallow autoencoders (:class:`coarsegrain.rbm.Autoencoder`) are trained from
random N(0, σ²) weights and from covariance-initialised weights
(:func:`coarsegrain.rbm.init.covariance_init`: the top eigenvectors of the training data's
covariance, each column with the norm a random column would have), with the same seeds, data
order, optimiser and number of updates. The loss is the reconstruction MSE per unit on a fixed
training subset, recorded at log-spaced updates together with the training wall time
(monitoring excluded).

Speedup (per seed, :func:`speedups`): the target is the random-init run's final loss; ``u_r``
and ``u_c`` are the updates at which the random and covariance runs first reach it (linear
interpolation between monitored points), and the speedup is ``u_r / u_c``; likewise for the
seconds. When the covariance run starts at or below the target the crossing is at update 0 and
the ratio is reported against one update (a lower bound, flagged). When it never reaches the
target the speedup is NaN (flagged). Seeds are summarised by the geometric mean with the
standard error of the mean log (:func:`summarize_speedups`).

Noise rejection (:func:`noise_rejection`): reconstruct inputs corrupted by Gaussian noise
(images in [0, 1], clipped) or by random spin flips (±1 data) and compare the distance to the
clean input before and after the model.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

SCHEMES = ("random", "covariance")
NOISE_KINDS = ("gaussian", "flip")
LOSS_METRIC = "reconstruction_error"


@dataclass
class CovinitResult:
    """What :func:`run_covinit` returns.

    Attributes
    ----------
    curves : long table ``scheme, seed, update, epoch, metric, value`` with metrics
        ``reconstruction_error`` (training subset), ``reconstruction_error_heldout`` and
        ``wall_time`` (training seconds so far)
    models : ``{(scheme, seed): trained Autoencoder}``
    snapshots : ``{(scheme, seed, update): W (n_visible, n_hidden) numpy}``, including update 0
        and the final update
    pca : the "covariance autoencoder" (:class:`PCAReconstructor` with ``n_hidden``
        components of the training data)
    """

    curves: pd.DataFrame
    models: dict = field(default_factory=dict)
    snapshots: dict = field(default_factory=dict)
    pca: object = None


class PCAReconstructor:
    """The covariance autoencoder: the best rank-k linear reconstruction of the data.

    ``encode(x) = (x − μ) E_k`` and ``decode(z) = μ + z E_kᵀ``, where ``E_k`` (n_visible, k) holds
    the top-k eigenvectors of the training data's covariance and ``μ`` its mean. ``W`` is
    ``E_k``, so the spectral analyses apply to it like to a trained model.
    """

    def __init__(self, data, n_components: int, center: bool = True):
        from coarsegrain.analysis.spectral import covariance_spectrum

        x = _as_2d(data).astype(np.float64)
        _, vecs = covariance_spectrum(x, center=center)
        k = min(int(n_components), vecs.shape[1])
        self.W = torch.as_tensor(vecs[:, :k], dtype=torch.float32)
        self.mean = torch.as_tensor(x.mean(axis=0) if center else np.zeros(x.shape[1]),
                                    dtype=torch.float32)

    def encode(self, x) -> torch.Tensor:
        return (torch.as_tensor(np.asarray(x), dtype=torch.float32) - self.mean) @ self.W

    def decode(self, z) -> torch.Tensor:
        return self.mean + z @ self.W.T


def _as_2d(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x.reshape(x.shape[0], -1)


def run_covinit(train, heldout=None, *, n_hidden: int, seeds: Sequence[int] = (0, 1, 2),
                n_updates: int = 2000, activation: str = "sigmoid", tied: bool = True,
                optimizer: str = "adam", lr: float = 1e-3, batch_size: int = 100,
                init_std: float = 0.05, init_scale: float | None = None,
                weighting: str = "none",
                snapshot_updates: Sequence[int] = (), monitor_per_octave: int = 8,
                n_monitor: int = 1000, schemes: Sequence[str] = SCHEMES, device="cpu",
                progress: bool = False) -> CovinitResult:
    """Train autoencoders from random and covariance initialisations.

    Parameters
    ----------
    train, heldout : arrays (n, n_visible) or (n, *grid); images in [0, 1] or ±1 spins
    n_hidden : hidden units
    seeds : one run per scheme and seed; the seed sets the random weights and the data order
        (the covariance run with the same seed sees the same mini-batches)
    n_updates : mini-batch updates per run
    activation : ``sigmoid`` for [0, 1] data, ``tanh`` for ±1 spins, or ``linear``
    init_std, init_scale, weighting : random weights N(0, init_std²); covariance columns have
        the norm ``init_scale`` (default ``init_std·√n_visible``, the expected norm of a random
        column); ``weighting="sqrt"`` scales them by √(λ_i/λ_1)
    snapshot_updates : updates at which W is also stored (for agreement-vs-step analyses)
    monitor_per_octave : loss evaluations per doubling of the update count

    Returns
    -------
    CovinitResult
    """
    from coarsegrain.rbm.autoencoder import Autoencoder, AutoencoderTrainer
    from coarsegrain.rbm.init import init_weights

    for s in schemes:
        if s not in SCHEMES:
            raise ValueError(f"scheme {s!r} is not allowed; choose from {SCHEMES}")
    x = _as_2d(train)
    xh = None if heldout is None else _as_2d(heldout)
    n_visible = x.shape[1]
    stops = sorted({int(u) for u in snapshot_updates if 0 < int(u) < n_updates} | {int(n_updates)})
    frames, models, snaps = [], {}, {}
    for seed in seeds:
        for scheme in schemes:
            ae = Autoencoder(n_visible, n_hidden, tied=tied, activation=activation,
                             init_std=init_std, device=device, seed=int(seed))
            init_weights(ae, scheme, data=x if scheme == "covariance" else None, std=init_std,
                         scale=init_scale, weighting=weighting, seed=int(seed))
            snaps[(scheme, int(seed), 0)] = ae.W.detach().cpu().numpy().astype(np.float64)
            trainer = AutoencoderTrainer(ae, optimizer=optimizer, lr=lr, batch_size=batch_size,
                                         n_updates=stops[0], monitor_per_octave=monitor_per_octave,
                                         n_monitor=n_monitor, seed=int(seed), progress=progress,
                                         record_time=True)
            for stop in stops:
                trainer.n_updates = stop  # continuing: same trajectory as one uninterrupted run
                curve = trainer.fit(x, xh)
                snaps[(scheme, int(seed), stop)] = ae.W.detach().cpu().numpy().astype(np.float64)
            frames.append(curve.assign(scheme=scheme, seed=int(seed)))
            models[(scheme, int(seed))] = ae
    curves = pd.concat(frames, ignore_index=True)[["scheme", "seed", "update", "epoch", "metric",
                                                   "value"]]
    return CovinitResult(curves, models, snaps, PCAReconstructor(x, n_hidden))


# ----------------------------------------------------------------------------- speedups


def first_crossing(x, y, target: float) -> float:
    """First ``x`` at which ``y`` falls to ``target`` or below, linearly interpolated between
    samples (``x`` ascending); ``x[0]`` if already there; NaN if never."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    hit = np.flatnonzero(y <= target)
    if hit.size == 0:
        return math.nan
    i = int(hit[0])
    if i == 0:
        return float(x[0])
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    return float(x0 + (x1 - x0) * (y0 - target) / (y0 - y1)) if y0 != y1 else float(x1)


def _series(curves: pd.DataFrame, scheme: str, seed: int, metric: str) -> pd.DataFrame:
    d = curves[(curves["scheme"] == scheme) & (curves["seed"] == seed) & (curves["metric"] == metric)]
    return d.sort_values("update")


def speedups(curves: pd.DataFrame, metric: str = LOSS_METRIC) -> pd.DataFrame:
    """Per-seed speedup of the covariance run over the random run (see the module docstring).

    Returns
    -------
    DataFrame with columns ``seed, target_loss, random_initial_loss, covariance_initial_loss,
    updates_random, updates_covariance, seconds_random, seconds_covariance, speedup_updates,
    speedup_seconds, flag`` (``flag``: ``""``, ``"lower bound"`` or ``"not reached"``).
    """
    rows = []
    for seed in sorted(curves["seed"].unique()):
        r = _series(curves, "random", seed, metric)
        c = _series(curves, "covariance", seed, metric)
        tr = _series(curves, "random", seed, "wall_time")
        tc = _series(curves, "covariance", seed, "wall_time")
        target = float(r["value"].iloc[-1])
        u_r = first_crossing(r["update"], r["value"], target)
        u_c = first_crossing(c["update"], c["value"], target)
        s_r = float(np.interp(u_r, tr["update"], tr["value"]))
        flag = ""
        if math.isnan(u_c):
            flag, s_c, su, ss = "not reached", math.nan, math.nan, math.nan
        else:
            if u_c < 1:
                flag, u_c = "lower bound", 1.0
            s_c = float(np.interp(u_c, tc["update"], tc["value"]))
            su = u_r / u_c
            ss = s_r / s_c if s_c > 0 else math.nan
        rows.append({"seed": int(seed), "target_loss": target,
                     "random_initial_loss": float(r["value"].iloc[0]),
                     "covariance_initial_loss": float(c["value"].iloc[0]),
                     "updates_random": u_r, "updates_covariance": u_c, "seconds_random": s_r,
                     "seconds_covariance": s_c, "speedup_updates": su, "speedup_seconds": ss,
                     "flag": flag})
    return pd.DataFrame(rows)


def geometric_mean(values) -> tuple[float, float]:
    """Geometric mean of positive ``values`` and its standard error (delta method on the mean
    log: ``g · sd(log)/√n``; NaN error for a single value). NaNs propagate."""
    v = np.asarray(values, dtype=float)
    if v.size == 0 or not np.all(np.isfinite(v)) or np.any(v <= 0):
        return math.nan, math.nan
    logs = np.log(v)
    g = float(np.exp(logs.mean()))
    err = g * float(logs.std(ddof=1)) / math.sqrt(v.size) if v.size > 1 else math.nan
    return g, err


def summarize_speedups(table: pd.DataFrame) -> dict:
    """Geometric-mean speedups over seeds: ``{"updates": (g, err), "seconds": (g, err),
    "n_seeds": n, "flags": [...]}``."""
    seconds = table["speedup_seconds"] if "speedup_seconds" in table else pd.Series([], dtype=float)
    return {"updates": geometric_mean(table["speedup_updates"]),
            "seconds": geometric_mean(seconds),
            "n_seeds": len(table), "flags": sorted(set(table["flag"]) - {""})}


# ----------------------------------------------------------------------------- models


def reconstruct(model, x) -> np.ndarray:
    """Mean-field reconstruction of ``x`` (n, n_visible): ``decode(encode(x))`` for an
    autoencoder, ``E[v | E[h | v]]`` for an RBM. Returns float64 numpy (n, n_visible)."""
    with torch.no_grad():
        if hasattr(model, "decode"):
            out = model.decode(model.encode(x))
        elif hasattr(model, "mean_v"):
            out = model.mean_v(model.mean_h(x))
        else:
            raise TypeError(f"cannot reconstruct with a {type(model).__name__}")
    return out.detach().cpu().numpy().astype(np.float64)


def add_noise(x, level: float, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Corrupt ``x``: ``gaussian`` adds N(0, level²) and clips to [0, 1]; ``flip`` flips each ±1
    entry with probability ``level``."""
    x = np.asarray(x, dtype=np.float64)
    if kind == "gaussian":
        return np.clip(x + level * rng.standard_normal(x.shape), 0.0, 1.0)
    if kind == "flip":
        return np.where(rng.random(x.shape) < level, -x, x)
    raise ValueError(f"noise kind {kind!r} is not allowed; choose one of {NOISE_KINDS}")


def noise_rejection(models: Mapping[str, object], clean, levels: Sequence[float],
                    kind: str = "gaussian", seed: int = 0) -> pd.DataFrame:
    """Distance to the clean data before and after reconstruction, per model and noise level.

    Returns
    -------
    DataFrame ``model, noise, mse_input, mse_output, ratio`` (MSE per unit; ratio =
    output/input, < 1 means the model removes part of the noise). The same noisy inputs are used
    for every model.
    """
    from coarsegrain.runtime import make_rng

    x = _as_2d(clean).astype(np.float64)
    rows = []
    for level in levels:
        noisy = add_noise(x, float(level), kind, make_rng(seed, "noise", float(level)))
        mse_in = float(np.mean((noisy - x) ** 2))
        for name, model in models.items():
            rec = reconstruct(model, noisy.astype(np.float32))
            mse_out = float(np.mean((rec - x) ** 2))
            rows.append({"model": name, "noise": float(level), "mse_input": mse_in,
                         "mse_output": mse_out,
                         "ratio": mse_out / mse_in if mse_in > 0 else math.nan})
    return pd.DataFrame(rows)


def pruned_loss_curve(model, data, n_modes: Sequence[int],
                      loss: Callable[[object, np.ndarray], float] | None = None) -> pd.DataFrame:
    """Loss of ``model`` with ``W`` replaced by its top-m singular modes, for each m.

    ``loss(model, data)`` defaults to the reconstruction MSE per unit. The model is copied;
    the original is untouched. Columns as :func:`coarsegrain.analysis.spectral.pruning_curve`
    with ``value`` the loss.
    """
    from coarsegrain.analysis.spectral import pruning_curve

    x = _as_2d(data)
    work = copy.deepcopy(model)

    def default_loss(m, d):
        return float(np.mean((reconstruct(m, d) - d) ** 2))

    loss = loss or default_loss

    def evaluate(Wm):
        with torch.no_grad():
            work.W.copy_(torch.as_tensor(Wm, dtype=work.W.dtype, device=work.W.device))
        return loss(work, x)

    return pruning_curve(model.W.detach().cpu().numpy(), n_modes, evaluate)

