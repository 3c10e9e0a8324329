"""Initialisation experiment (P3): does starting from the data set make training faster,
and what do the trained weights keep?

For one data set, shallow autoencoders (:class:`coarsegrain.rbm.Autoencoder`) are trained from
random N(0, σ²) weights and from data-derived initial conditions, with the same seeds, data
order, optimiser and number of updates. Schemes (:data:`SCHEMES`): ``random``; ``dataset``, the
data-set autoencoder of :func:`coarsegrain.rbm.init.dataset_autoencoder_init` (every parameter
from the training data; needs an untied autoencoder with a linear output, the architecture
:func:`p3_autoencoder_kwargs` gives); ``covariance``, eigenvector directions only (the column
norms of a random init, zero biases; kept for comparison). The loss is the reconstruction MSE
per unit on a fixed training subset, recorded at log-spaced updates together with the training
wall time (monitoring excluded). The covariance eigendecomposition is computed once
(:class:`coarsegrain.rbm.init.DataCovariance`) and shared by every run and analysis of a job.

Speedup to a fixed target (:func:`fixed_target`, :func:`time_to_target`,
:func:`target_speedups`): the target loss is ``(1 + margin) ×`` the lowest training loss any
run of the data set reaches (every scheme and seed). For each run, the updates (and training
seconds) at which its loss first falls to the target, interpolated linearly between monitored
points; a run that never gets there within its budget of N updates is *censored*: reported as
``≥ N`` (``updates_to_target = N`` with ``censored = True``), never as a plain number. The
per-seed speedup ``u_random / u_init`` is then an interval: exact when neither run is
censored; a lower bound ``N / u_init`` when only the random run is; an upper bound when only the
other is; unknown when both are. A run that starts at or below the target has
``updates_to_target = 0``; its speedup is a lower bound ``u_random / 1`` (it needs less than
one update). Training seconds start with the initialisation's cost (the eigendecomposition and
the parameter formulas for data-derived schemes), so a data-set run that starts at the target
still costs that much time. :func:`summarize_target_speedups` gives the geometric mean over seeds with the
interval ``[gm(lower), gm(upper)]`` (the geometric mean is monotone in each seed's value).

Convergence (:func:`convergence_table`): a run counts as converged when its training loss fell by
less than ``rel_tol`` (default 1 %) over the last doubling of updates (from N/2 to N).

The older per-seed ratio against the random run's final loss (:func:`speedups`) is kept for
comparison; its random run reaches its own target by construction.

Noise rejection (:func:`noise_rejection`): reconstruct inputs corrupted by Gaussian noise
(images in [0, 1], clipped) or by random spin flips (±1 data) and compare the distance to the
clean input before and after the model.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

SCHEMES = ("random", "covariance", "dataset")
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
    snapshots : ``{(scheme, seed, update): (n_visible, n_hidden) numpy}`` of
        :func:`output_weights`, including update 0 and the final update
    pca : the rank-``n_hidden`` PCA reconstruction (:class:`PCAReconstructor`)
    covariance : the :class:`~coarsegrain.rbm.init.DataCovariance` of the training data
    initial : ``{(scheme, seed): the untrained Autoencoder}`` (e.g. the data-set autoencoder,
        evaluated as it is)
    """

    curves: pd.DataFrame
    models: dict = field(default_factory=dict)
    snapshots: dict = field(default_factory=dict)
    pca: object = None
    covariance: object = None
    initial: dict = field(default_factory=dict)


class PCAReconstructor:
    """The covariance autoencoder: the best rank-k linear reconstruction of the data.

    ``encode(x) = (x − μ) E_k`` and ``decode(z) = μ + z E_kᵀ``, where ``E_k`` (n_visible, k) holds
    the top-k eigenvectors of the training data's covariance and ``μ`` its mean. ``W`` is
    ``E_k``, so the spectral analyses apply to it like to a trained model. ``data`` is the
    training data (n, n_visible) or its :class:`~coarsegrain.rbm.init.DataCovariance`.
    """

    def __init__(self, data, n_components: int, center: bool = True):
        from coarsegrain.rbm.init import DataCovariance

        cov = (data if isinstance(data, DataCovariance)
               else DataCovariance.from_data(_as_2d(data), center=center))
        k = min(int(n_components), cov.n_visible)
        self.W = torch.as_tensor(cov.eigenvectors[:, :k], dtype=torch.float32)
        self.mean = torch.as_tensor(cov.mean, dtype=torch.float32)

    def encode(self, x) -> torch.Tensor:
        return (torch.as_tensor(np.asarray(x), dtype=torch.float32) - self.mean) @ self.W

    def decode(self, z) -> torch.Tensor:
        return self.mean + z @ self.W.T


def output_weights(model) -> np.ndarray:
    """The weights that write the reconstruction, oriented (n_visible, n_hidden), float64 numpy:
    ``W_decᵀ`` for an untied autoencoder, ``W`` otherwise (tied autoencoders, RBMs, PCA).

    The spectral analyses use these for untied models because the decoder's singular values
    rank hidden directions by what they contribute to the output; the encoder's need not (the
    data-set autoencoder's encoder whitens, so its singular values are ordered backwards).
    """
    W_dec = getattr(model, "W_dec", None)
    W = model.W if W_dec is None else W_dec.t()
    return W.detach().cpu().numpy().astype(np.float64)


def _as_2d(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x.reshape(x.shape[0], -1)


def p3_autoencoder_kwargs(units: str) -> dict:
    """Architecture of the P3 autoencoders for ``units`` ("pm1" spins or "01" images): untied,
    a linear output (what the data-set initialisation needs, see
    :mod:`coarsegrain.rbm.init`), tanh hidden units for ±1 spins and sigmoid ones for images."""
    if units not in ("pm1", "01"):
        raise ValueError(f"units={units!r} is not allowed; choose 'pm1' or '01'")
    return {"activation": "tanh" if units == "pm1" else "sigmoid", "tied": False,
            "output_activation": "linear"}


def run_covinit(train, heldout=None, *, n_hidden: int, seeds: Sequence[int] = (0, 1, 2),
                n_updates: int = 2000, activation: str = "sigmoid", tied: bool = True,
                output_activation: str | None = None,
                optimizer: str = "adam", lr: float = 1e-3, batch_size: int = 100,
                init_std: float = 0.05, init_scale: float | None = None,
                weighting: str = "none", alpha: float = 0.25,
                snapshot_updates: Sequence[int] = (), monitor_per_octave: int = 8,
                n_monitor: int = 1000, schemes: Sequence[str] = ("random", "covariance"),
                covariance=None, covariance_seconds: float | None = None, device="cpu",
                progress: bool = False) -> CovinitResult:
    """Train autoencoders from random and data-derived initialisations.

    Parameters
    ----------
    train, heldout : arrays (n, n_visible) or (n, *grid); images in [0, 1] or ±1 spins
    n_hidden : hidden units
    seeds : one run per scheme and seed; the seed sets the random weights and the data order
        (the covariance run with the same seed sees the same mini-batches)
    n_updates : mini-batch updates per run
    activation : ``sigmoid`` for [0, 1] data, ``tanh`` for ±1 spins, or ``linear``
    tied, output_activation : architecture (``dataset`` needs ``tied=False`` and
        ``output_activation="linear"``; :func:`p3_autoencoder_kwargs`)
    init_std, init_scale, weighting : random weights N(0, init_std²); covariance columns have
        the norm ``init_scale`` (default ``init_std·√n_visible``, the expected norm of a random
        column); ``weighting="sqrt"`` scales them by √(λ_i/λ_1)
    alpha : hidden pre-activation standard deviation of the data-set autoencoder
    snapshot_updates : updates at which W is also stored (for agreement-vs-step analyses)
    monitor_per_octave : loss evaluations per doubling of the update count
    schemes : initialisations to run, from :data:`SCHEMES`
    covariance : the training data's :class:`~coarsegrain.rbm.init.DataCovariance` if already
        computed (else computed here, once)
    covariance_seconds : what computing ``covariance`` cost, if it was given (else measured
        here); charged to every data-derived run

    The ``wall_time`` metric of a run starts at its initialisation cost (0 for random weights,
    the eigendecomposition plus the initialisation itself for data-derived schemes), so that
    times to a target include what the data-set initial condition costs to compute.

    Returns
    -------
    CovinitResult
    """
    from coarsegrain.rbm.autoencoder import Autoencoder, AutoencoderTrainer
    from coarsegrain.rbm.init import DataCovariance, init_weights

    for s in schemes:
        if s not in SCHEMES:
            raise ValueError(f"scheme {s!r} is not allowed; choose from {SCHEMES}")
    x = _as_2d(train)
    xh = None if heldout is None else _as_2d(heldout)
    n_visible = x.shape[1]
    t_cov = time.perf_counter()
    cov = covariance if covariance is not None else DataCovariance.from_data(x)
    t_cov = (time.perf_counter() - t_cov if covariance is None
             else float(covariance_seconds or 0.0))
    if cov.n_visible != n_visible:
        raise ValueError(f"covariance has {cov.n_visible} features; train has {n_visible}")
    stops = sorted({int(u) for u in snapshot_updates if 0 < int(u) < n_updates} | {int(n_updates)})
    frames, models, snaps, initial = [], {}, {}, {}
    for seed in seeds:
        for scheme in schemes:
            ae = Autoencoder(n_visible, n_hidden, tied=tied, activation=activation,
                             output_activation=output_activation, init_std=init_std,
                             device=device, seed=int(seed))
            t0 = time.perf_counter()
            init_weights(ae, scheme, data=x if scheme != "random" else None, std=init_std,
                         scale=init_scale, weighting=weighting, seed=int(seed), covariance=cov,
                         alpha=alpha)
            init_seconds = time.perf_counter() - t0 + (t_cov if scheme != "random" else 0.0)
            initial[(scheme, int(seed))] = copy.deepcopy(ae)
            snaps[(scheme, int(seed), 0)] = output_weights(ae)
            trainer = AutoencoderTrainer(ae, optimizer=optimizer, lr=lr, batch_size=batch_size,
                                         n_updates=stops[0], monitor_per_octave=monitor_per_octave,
                                         n_monitor=n_monitor, seed=int(seed), progress=progress,
                                         record_time=True)
            trainer.train_seconds = init_seconds  # the clock starts with the initialisation
            for stop in stops:
                trainer.n_updates = stop  # continuing: same trajectory as one uninterrupted run
                curve = trainer.fit(x, xh)
                snaps[(scheme, int(seed), stop)] = output_weights(ae)
            frames.append(curve.assign(scheme=scheme, seed=int(seed)))
            models[(scheme, int(seed))] = ae
    curves = pd.concat(frames, ignore_index=True)[["scheme", "seed", "update", "epoch", "metric",
                                                   "value"]]
    return CovinitResult(curves, models, snaps, PCAReconstructor(cov, n_hidden), cov, initial)


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


# ----------------------------------------------------------------------------- fixed target

BOUNDS = ("exact", "lower", "upper", "unknown")


def fixed_target(curves: pd.DataFrame, margin: float = 0.05, metric: str = LOSS_METRIC) -> float:
    """The target loss: ``(1 + margin) ×`` the lowest ``metric`` any run in ``curves`` reaches.

    Parameters
    ----------
    curves : long table with columns ``scheme, seed, update, metric, value``
    margin : relative margin above the best loss (≥ 0; 0.05 = within 5 %)
    """
    if not (isinstance(margin, (int, float)) and margin >= 0 and math.isfinite(margin)):
        raise ValueError(f"margin must be a finite number >= 0; got {margin!r}")
    values = curves.loc[curves["metric"] == metric, "value"].to_numpy(dtype=float)
    if values.size == 0 or not np.isfinite(values).any():
        raise ValueError(f"curves hold no finite {metric!r} values")
    return (1.0 + float(margin)) * float(np.nanmin(values))


def time_to_target(curves: pd.DataFrame, target: float, metric: str = LOSS_METRIC
                   ) -> pd.DataFrame:
    """Updates and training seconds each run needs to reach ``target``, with censoring.

    Returns
    -------
    DataFrame, one row per ``(scheme, seed)``: ``scheme, seed, target_loss, initial_loss,
    final_loss, best_loss, budget_updates, total_seconds, start_seconds, updates_to_target,
    seconds_to_target, censored, at_start`` (``start_seconds``: the clock at update 0, i.e. the
    initialisation's cost). A run that never reaches the target has ``censored = True`` and
    ``updates_to_target = budget_updates`` (read: ≥ that), ``seconds_to_target`` its total
    training seconds (≥ that; NaN without a ``wall_time`` metric); ``at_start`` is True when the
    loss before the first update is already at or below the target.
    """
    rows = []
    for (scheme, seed), d in curves.groupby(["scheme", "seed"], sort=True):
        loss = d[d["metric"] == metric].sort_values("update")
        if loss.empty:
            continue
        wall = d[d["metric"] == "wall_time"].sort_values("update")
        u = loss["update"].to_numpy(dtype=float)
        y = loss["value"].to_numpy(dtype=float)
        budget = float(u[-1])
        hit = first_crossing(u, y, target)
        censored = math.isnan(hit)
        upd = budget if censored else hit
        secs = (float(np.interp(upd, wall["update"], wall["value"])) if len(wall) else math.nan)
        total = float(wall["value"].iloc[-1]) if len(wall) else math.nan
        start = float(wall["value"].iloc[0]) if len(wall) else math.nan
        rows.append({"scheme": scheme, "seed": int(seed), "target_loss": float(target),
                     "initial_loss": float(y[0]), "final_loss": float(y[-1]),
                     "best_loss": float(np.nanmin(y)), "budget_updates": int(budget),
                     "total_seconds": total, "start_seconds": start,
                     "updates_to_target": float(upd), "seconds_to_target": secs,
                     "censored": bool(censored), "at_start": bool(not censored and hit <= u[0])})
    return pd.DataFrame(rows)


def _ratio_interval(a: float, a_cens: bool, b: float, b_cens: bool, b_early: bool,
                    b_floor: float) -> tuple[float, float, str]:
    """Interval ``(lower, upper, kind)`` for the ratio a/b of two times to target, where a
    censored time means "≥ it" and ``b_early`` means b reached the target within less than one
    update (then b < ``b_floor``, the cost of one update)."""
    if a_cens and b_cens:
        return 0.0, math.inf, "unknown"
    if b_cens:
        return 0.0, a / b if b > 0 else math.inf, "upper"
    if b_early:
        return (a / b_floor, math.inf, "lower") if a > 0 and b_floor > 0 else (
            0.0, math.inf, "unknown")
    if a_cens:
        return a / b, math.inf, "lower"
    return a / b, a / b, "exact"


def target_speedups(times: pd.DataFrame, scheme: str = "dataset", baseline: str = "random"
                    ) -> pd.DataFrame:
    """Per-seed speedup of ``scheme`` over ``baseline`` from :func:`time_to_target` rows.

    Returns
    -------
    DataFrame, one row per seed present for both: ``seed, scheme, target_loss,
    updates_<baseline>, updates_<scheme>, censored_<baseline>, censored_<scheme>``, and for
    ``unit`` in (updates, seconds): ``speedup_<unit>``, ``speedup_<unit>_lower``,
    ``speedup_<unit>_upper``, ``bound_<unit>``. ``bound_*`` is one of :data:`BOUNDS`;
    ``speedup_*`` is the interval's finite end (the bound itself for a one-sided interval, NaN
    when ``unknown``). A run reaching the target within its first update counts as taking < 1
    update (< its mean seconds per update).
    """
    out = []
    a_tab = times[times["scheme"] == baseline].set_index("seed")
    b_tab = times[times["scheme"] == scheme].set_index("seed")
    for seed in sorted(set(a_tab.index) & set(b_tab.index)):
        a, b = a_tab.loc[seed], b_tab.loc[seed]
        a_c, b_c = bool(a["censored"]), bool(b["censored"])
        b_early = not b_c and float(b["updates_to_target"]) < 1.0
        row = {"seed": int(seed), "scheme": scheme, "target_loss": float(a["target_loss"]),
               f"updates_{baseline}": float(a["updates_to_target"]),
               f"updates_{scheme}": float(b["updates_to_target"]),
               f"censored_{baseline}": a_c, f"censored_{scheme}": b_c}
        # b's mean seconds per update; "< 1 update" in seconds is its initialisation cost (the
        # clock's value at update 0) plus less than one update
        start = float(b["start_seconds"]) if "start_seconds" in b else 0.0
        per_update = (float(b["total_seconds"]) - start) / max(float(b["budget_updates"]), 1.0)
        for unit, col, floor in (("updates", "updates_to_target", 1.0),
                                 ("seconds", "seconds_to_target", start + per_update)):
            av, bv = float(a[col]), float(b[col])
            if math.isnan(av) or math.isnan(bv):
                lo, hi, kind = math.nan, math.nan, "unknown"
            else:
                lo, hi, kind = _ratio_interval(av, a_c, bv, b_c, b_early, floor)
            point = {"exact": lo, "lower": lo, "upper": hi, "unknown": math.nan}[kind]
            row.update({f"speedup_{unit}": point, f"speedup_{unit}_lower": lo,
                        f"speedup_{unit}_upper": hi, f"bound_{unit}": kind})
        out.append(row)
    return pd.DataFrame(out)


def _gm(values) -> float:
    v = np.asarray(values, dtype=float)
    if v.size == 0 or np.isnan(v).any():
        return math.nan
    if (v == 0).any():
        return 0.0
    if np.isinf(v).any():
        return math.inf
    return float(np.exp(np.log(v).mean()))


def summarize_target_speedups(table: pd.DataFrame, unit: str = "updates") -> dict:
    """Geometric mean over seeds of the per-seed speedup intervals of :func:`target_speedups`.

    Returns
    -------
    dict: ``lower``, ``upper`` (geometric means of the per-seed ends; 0 / inf when a seed's end
    is), ``value`` (geometric mean of the point values when every seed is ``exact``, else NaN),
    ``log_sd`` (standard deviation over seeds of log speedup when every seed is exact, else NaN),
    ``n_seeds``, ``n_censored`` (seeds with any censored run), ``bounds`` (count per kind).
    """
    if unit not in ("updates", "seconds"):
        raise ValueError(f"unit={unit!r} is not allowed; choose 'updates' or 'seconds'")
    if table.empty:
        return {"lower": math.nan, "upper": math.nan, "value": math.nan, "log_sd": math.nan,
                "n_seeds": 0, "n_censored": 0, "bounds": {}}
    kinds = table[f"bound_{unit}"]
    cens = table[[c for c in table.columns if c.startswith("censored_")]].any(axis=1)
    exact = bool((kinds == "exact").all())
    vals = table[f"speedup_{unit}"].to_numpy(dtype=float)
    return {"lower": _gm(table[f"speedup_{unit}_lower"]),
            "upper": _gm(table[f"speedup_{unit}_upper"]),
            "value": _gm(vals) if exact else math.nan,
            "log_sd": float(np.log(vals).std(ddof=1)) if exact and vals.size > 1 else math.nan,
            "n_seeds": int(len(table)), "n_censored": int(cens.sum()),
            "bounds": {k: int(v) for k, v in kinds.value_counts().sort_index().items()}}


def convergence_table(curves: pd.DataFrame, rel_tol: float = 0.01, metric: str = LOSS_METRIC
                      ) -> pd.DataFrame:
    """Whether each run converged: relative loss drop over the last doubling of updates.

    Returns
    -------
    DataFrame ``scheme, seed, updates, loss_half, loss_final, relative_drop, converged`` with
    ``relative_drop = (L(N/2) − L(N)) / L(N/2)`` (``L(N/2)`` interpolated between monitored
    points) and ``converged = relative_drop < rel_tol``.
    """
    if not rel_tol > 0:
        raise ValueError(f"rel_tol must be > 0; got {rel_tol!r}")
    rows = []
    for (scheme, seed), d in curves[curves["metric"] == metric].groupby(["scheme", "seed"]):
        d = d.sort_values("update")
        n = float(d["update"].iloc[-1])
        half = float(np.interp(n / 2, d["update"], d["value"]))
        final = float(d["value"].iloc[-1])
        drop = (half - final) / half if half > 0 else math.nan
        rows.append({"scheme": scheme, "seed": int(seed), "updates": int(n), "loss_half": half,
                     "loss_final": final, "relative_drop": drop,
                     "converged": bool(drop < rel_tol)})
    return pd.DataFrame(rows)


def loss_of(model, x) -> float:
    """Reconstruction MSE per unit of ``model`` on ``x`` (n, n_visible)."""
    x = _as_2d(x).astype(np.float64)
    return float(np.mean((reconstruct(model, x.astype(np.float32)) - x) ** 2))


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
    """Loss of ``model`` with its weights cut to their top-m singular modes, the rest set to
    zero, for each m.

    Tied weights (and RBMs): ``W`` → its rank-m truncation ``U_m S_m V_mᵀ``. Untied
    autoencoders: the modes are the decoder's, ``W_dec = P S Qᵀ`` (P in hidden space), because
    the decoder's singular values measure how much each hidden direction contributes to the
    output, while the encoder's may not (the data-set autoencoder's encoder whitens, giving its
    *least* important components the largest singular values); the decoder becomes
    ``P_m S_m Q_mᵀ`` and the encoder ``W P_m P_mᵀ`` (its outputs restricted to the same hidden
    subspace). For a tied model both rules coincide. For an autoencoder the removed modes' mean
    contribution to the output, ``h̄ (W_dec − W_dec,m)`` with h̄ the unpruned hidden units' mean
    on ``data``, moves into the output bias: sigmoid units have mean ≈ ½, and cutting a mode
    should remove the structure it carries, not shift every reconstruction by its average (PCA
    truncation likewise keeps the mean).

    ``loss(model, data)`` defaults to the reconstruction MSE per unit. The model is copied;
    the original is untouched.

    Returns
    -------
    DataFrame ``n_modes, n_parameters, weight_fraction, relative_error, value``:
    ``n_parameters`` counts every parameter of the pruned model, ``min(m·(n_v + n_h + 1),
    n_v·n_h)`` per weight matrix (factored or dense, whichever is smaller) plus the biases
    (n_v + n_h); ``weight_fraction`` is the share of the squared
    singular values kept (of the decoder when untied), ``relative_error`` the Frobenius error
    of that matrix, ``value`` the loss.
    """
    from coarsegrain.analysis.spectral import prune_weights, svd_weights

    x = _as_2d(data)
    work = copy.deepcopy(model)
    W = model.W.detach().cpu().numpy().astype(np.float64)
    W_dec = getattr(model, "W_dec", None)
    W_dec = None if W_dec is None else W_dec.detach().cpu().numpy().astype(np.float64)
    ref = W if W_dec is None else W_dec
    P, s, _ = svd_weights(ref)
    s2 = s ** 2
    total = s2.sum() if s2.sum() > 0 else 1.0

    def default_loss(m, d):
        return float(np.mean((reconstruct(m, d) - d) ** 2))

    loss = loss or default_loss
    nv, nh = W.shape
    n_matrices = 1 if W_dec is None else 2
    n_bias = (nv + nh) if hasattr(model, "b_v") else 0
    full_dec = W.T if W_dec is None else W_dec
    h_mean = None
    if hasattr(model, "encode") and hasattr(model, "b_v"):
        with torch.no_grad():
            h_mean = model.encode(torch.as_tensor(x, dtype=model.W.dtype, device=model.W.device))
        h_mean = h_mean.mean(dim=0).cpu().numpy().astype(np.float64)
        b_v = model.b_v.detach().cpu().numpy().astype(np.float64)
    rows = []
    for m in n_modes:
        if int(m) < 0:
            raise ValueError(f"n_modes must be >= 0; got {m}")
        mm = min(int(m), s.size)
        with torch.no_grad():
            if W_dec is None:
                Wm = prune_weights(W, mm)
                dec_m = Wm.T
            else:
                Wm = W @ (P[:, :mm] @ P[:, :mm].T)
                dec_m = prune_weights(W_dec, mm)
                work.W_dec.copy_(torch.as_tensor(dec_m, dtype=work.W_dec.dtype,
                                                 device=work.W_dec.device))
            work.W.copy_(torch.as_tensor(Wm, dtype=work.W.dtype, device=work.W.device))
            if h_mean is not None:
                work.b_v.copy_(torch.as_tensor(b_v + h_mean @ (full_dec - dec_m),
                                               dtype=work.b_v.dtype, device=work.b_v.device))
        kept = s2[:mm].sum() / total
        # a rank-m matrix stored as m (singular value, two vectors) triples, or densely when that
        # is smaller
        per_matrix = min(mm * (nv + nh + 1), nv * nh)
        rows.append({"n_modes": int(m), "n_parameters": per_matrix * n_matrices + n_bias,
                     "weight_fraction": float(kept),
                     "relative_error": float(np.sqrt(max(1.0 - kept, 0.0))),
                     "value": float(loss(work, x))})
    return pd.DataFrame(rows)


def full_parameter_count(model) -> int:
    """Number of parameters of an autoencoder or RBM as trained (weights and biases)."""
    return int(sum(int(p.numel()) for p in model.parameters() if p.requires_grad))


def pruning_summary(curve: pd.DataFrame, full_loss: float, margin: float = 0.1,
                    n_full_parameters: int | None = None) -> dict:
    """The fewest modes (and parameters) keeping the loss within ``margin`` of ``full_loss``.

    Parameters
    ----------
    curve : :func:`pruned_loss_curve` output
    full_loss : the unpruned model's loss on the same data
    margin : relative tolerance (0.1: loss ≤ 1.1 × full_loss)

    Returns
    -------
    dict ``n_modes``, ``n_parameters`` (None when no m in the curve qualifies), ``loss``,
    ``threshold``, ``n_full_parameters``, ``parameter_fraction``.
    """
    if not margin >= 0:
        raise ValueError(f"margin must be >= 0; got {margin!r}")
    threshold = (1.0 + margin) * float(full_loss)
    ok = curve[curve["value"] <= threshold].sort_values("n_modes")
    if ok.empty:
        return {"n_modes": None, "n_parameters": None, "loss": math.nan, "threshold": threshold,
                "n_full_parameters": n_full_parameters, "parameter_fraction": math.nan}
    best = ok.iloc[0]
    frac = (float(best["n_parameters"]) / n_full_parameters if n_full_parameters else math.nan)
    return {"n_modes": int(best["n_modes"]), "n_parameters": int(best["n_parameters"]),
            "loss": float(best["value"]), "threshold": threshold,
            "n_full_parameters": n_full_parameters, "parameter_fraction": frac}

