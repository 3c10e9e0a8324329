"""Workflow stages for RBMs and autoencoders (``python -m coarsegrain rbm.<name>``).

Every stage reads configurations, splits them into training and held-out sets
(``heldout_fraction``, default 0.2 as in the P1 authors' 80/20 split), trains, and writes the
model checkpoint (loadable with ``RBM.load`` / ``StackedRBM.load`` / ``Autoencoder.load``) and
the tidy training curve (update, epoch, metric, value, error [, layer]) with provenance.

Called as ``python -m coarsegrain rbm.<name>`` (``workflow/rules/rbm.smk``; ``flows.smk``
trains the chain RBMs with the same stages).
"""

from __future__ import annotations

import math

import numpy as np

from coarsegrain import io
from coarsegrain.cli import StageContext

# Params the trainer understands, with their stage-level names.
_TRAINER_KEYS = ("method", "k", "optimizer", "lr", "momentum", "beta1", "beta2", "eps",
                 "weight_decay", "batch_size", "n_updates", "n_epochs", "schedule", "lr_final",
                 "n_chains", "chain_init", "max_weight", "monitor_every", "monitor_per_octave",
                 "monitor_heavy_per_octave", "checkpoint_per_octave", "resume_every")
_MONITOR_KEYS = ("metrics", "n_samples", "max_exact", "ais", "ais_chains", "ais_betas",
                 "n_model_samples", "n_gibbs", "pl_max_units", "chain_sigma", "chain_images")


def load_configurations(paths: list[str], real: bool = False
                        ) -> tuple[np.ndarray, tuple[int, ...], list[float | None]]:
    """Concatenate the configurations of several files (e.g. one per temperature).

    Returns ``(x, lattice_shape, temperatures)`` with ``x`` of shape (n, *lattice_shape):
    int8 ±1 spins (``real=False``, :func:`coarsegrain.io.read_spins`) or float32 values
    (``real=True``, :func:`coarsegrain.io.read_lattices`, which also reads spin files).
    """
    arrays, shape, temps = [], None, []
    for p in paths:
        x, meta = io.read_lattices(p) if real else io.read_spins(p)
        if shape is not None and x.shape[1:] != shape:
            raise ValueError(f"{p}: configurations of shape {x.shape[1:]} differ from the "
                             f"first input's {shape}")
        shape = x.shape[1:]
        arrays.append(x)
        temps.append(meta.get("temperature"))
    if not arrays:
        raise ValueError("no input configurations given")
    return np.concatenate(arrays), tuple(int(s) for s in shape), temps


def split(n: int, heldout_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random train/held-out index split, reproducible from ``seed``."""
    from coarsegrain.runtime import make_rng

    if not 0 <= heldout_fraction < 1:
        raise ValueError(f"heldout_fraction must be in [0, 1); got {heldout_fraction}")
    perm = make_rng(seed, "rbm-split").permutation(n)
    n_ho = int(round(n * heldout_fraction))
    if n - n_ho < 1:
        raise ValueError(f"only {n} configurations: nothing left to train on")
    return np.sort(perm[n_ho:]), np.sort(perm[:n_ho])


def trainer_kwargs(p: dict, lattice_shape=None) -> dict:
    """:class:`~coarsegrain.rbm.RBMTrainer` keyword arguments from stage params."""
    from coarsegrain.rbm.monitors import RBMMonitor

    kw = {k: p[k] for k in _TRAINER_KEYS if p.get(k) is not None}
    mon = p.get("monitor", {})
    if mon is False:
        kw["monitor"] = False
    else:
        mkw = {k: mon[k] for k in _MONITOR_KEYS if mon.get(k) is not None}
        if "metrics" in mkw:
            mkw["metrics"] = tuple(mkw["metrics"])
        if lattice_shape is not None and len(lattice_shape) == 2:
            mkw["lattice_shape"] = lattice_shape
        kw["monitor"] = RBMMonitor(**mkw)
        for k in ("every", "per_octave", "heavy_per_octave"):
            if mon.get(k) is not None:
                kw[f"monitor_{k}"] = mon[k]
    kw["seed"] = int(p["seed"])
    kw["progress"] = True
    return kw


def _data(ctx: StageContext, real: bool = False):
    p = ctx.params
    x, shape, temps = load_configurations(ctx.inputs["spins"], real=real)
    tr, ho = split(len(x), float(p.get("heldout_fraction", 0.2)), int(p["seed"]))
    info = {"lattice_shape": list(shape), "temperatures": temps, "n_train": int(len(tr)),
            "n_heldout": int(len(ho))}
    ctx.log.info("%d configurations of shape %s from %d file(s): %d train, %d held out",
                 len(x), shape, len(temps), len(tr), len(ho))
    return x[tr], (x[ho] if len(ho) else None), shape, info


def _initialise(model, p: dict, data) -> None:
    from coarsegrain.rbm.init import init_weights

    scheme = p.get("init", "random")
    if scheme != "random":  # random weights were drawn from the seed by the constructor
        init_weights(model, scheme, data=data, std=float(p.get("init_std", 0.05)),
                     scale=p.get("init_scale"), weighting=p.get("init_weighting", "none"),
                     seed=int(p["seed"]))


def _log_last(ctx: StageContext, curve) -> None:
    last = curve[curve["update"] == curve["update"].max()]
    for row in last.itertuples():
        ctx.log.info("update %d: %s = %.5g ± %.2g", row.update, row.metric, row.value, row.error)


def train(ctx: StageContext) -> None:
    """Train one RBM on the configurations of all ``spins`` inputs.

    Params: n_hidden, units ("pm1"), bias, init ("random" | "covariance"), init_std,
    init_scale, init_weighting, heldout_fraction, trainer settings (method, k, optimizer, lr,
    eps, beta1, beta2, momentum, weight_decay, batch_size, n_updates | n_epochs, schedule,
    lr_final, n_chains, chain_init, checkpoint_per_octave), monitor {metrics, every,
    per_octave, n_samples, ais, ais_chains, ais_betas, n_model_samples, n_gibbs}, select
    {enabled, snapshot_at, metric, tolerance, n_sigma, prefer, gap_max} (the checkpoint saved as
    ``model``: see :func:`coarsegrain.rbm.selection.select_checkpoint`), seed, device.
    Outputs: model (checkpoint), curve (Parquet); optional checkpoints (a folder for
    log-spaced model checkpoints).
    """
    from coarsegrain.rbm.model import RBM
    from coarsegrain.rbm.train import RBMTrainer

    p = ctx.params
    x, xh, shape, info = _data(ctx)
    n_visible = math.prod(shape)
    rbm = RBM(n_visible, int(p["n_hidden"]), units=p.get("units", "pm1"),
              bias=bool(p.get("bias", True)), init_std=float(p.get("init_std", 0.05)),
              device=ctx.device, seed=int(p["seed"]))
    if p.get("units", "pm1") == "01":
        x, xh = (x + 1) // 2, (None if xh is None else (xh + 1) // 2)
    _initialise(rbm, p, x)
    kw = trainer_kwargs(p, shape)
    if ctx.outputs.get("checkpoints"):
        kw["checkpoint_dir"] = ctx.output("checkpoints")
    select = p.get("select") or {}
    if select.get("enabled", False) and xh is not None:
        kw["snapshot_at"] = select.get("snapshot_at", "heavy")
    trainer = RBMTrainer(rbm, **kw)
    curve = trainer.fit(x, xh)
    _log_last(ctx, curve)
    meta = ctx.provenance(model="rbm", **info)
    if kw.get("snapshot_at"):
        # The model the flows use: the checkpoint chosen on held-out data by a stated rule
        # (coarsegrain.rbm.selection), not whichever update came last.
        from coarsegrain.rbm.selection import select_rbm

        rule = {k: v for k, v in select.items() if k not in ("enabled", "snapshot_at")}
        rbm, choice = select_rbm(trainer, curve, **rule)
        meta["checkpoint"] = choice.as_dict()
        ctx.log.info("selected checkpoint: update %d (%s)", choice.update, choice.rule)
        curve = curve.assign(selected_update=int(choice.update))
    rbm.save(ctx.output("model"), meta={**meta, "trainer": vars(trainer.cfg)})
    io.write_table(curve, ctx.output("curve"), meta)


def train_stack_stage(ctx: StageContext) -> None:
    """Greedy layer-wise stacked RBM on the ``spins`` inputs.

    Params: sizes (hidden sizes after the visible layer, e.g. [1024, 256, 64]) or n_layers
    with reduction (default 4: each layer has 4× fewer units, a 2×2 block step), propagate
    ("sample" | "mean"), plus everything :func:`train` takes (applied to every layer; with
    ``select.enabled`` each layer is set to its held-out checkpoint before the next trains).
    Outputs: model (StackedRBM checkpoint), curve (with a ``layer`` column).
    """
    from coarsegrain.rbm.stack import StackedRBM, train_stack

    p = ctx.params
    x, xh, shape, info = _data(ctx)
    n_visible = math.prod(shape)
    if p.get("sizes"):
        hidden = [int(s) for s in p["sizes"]]
    else:
        red, n_layers = int(p.get("reduction", 4)), int(p["n_layers"])
        hidden = [n_visible // red ** (i + 1) for i in range(n_layers)]
        if min(hidden) < 1:
            raise ValueError(f"n_layers={n_layers} with reduction={red} leaves no units "
                             f"from {n_visible} visible units")
    stack = StackedRBM([n_visible, *hidden], units=p.get("units", "pm1"),
                       bias=bool(p.get("bias", True)), init_std=float(p.get("init_std", 0.05)),
                       device=ctx.device, seed=int(p["seed"]))
    kw = trainer_kwargs(p, shape)
    monitor = kw.pop("monitor")
    mkw = {} if monitor is False else {
        k: getattr(monitor, k) for k in _MONITOR_KEYS}
    if monitor is False:
        kw["monitor"] = False
    kw.pop("seed")
    select = p.get("select") or {}
    curve = train_stack(stack, x, xh, propagate=p.get("propagate", "sample"),
                        seed=int(p["seed"]), lattice_shape=shape if len(shape) == 2 else None,
                        monitor_kwargs=mkw, select=select if select.get("enabled") else None,
                        **kw)
    _log_last(ctx, curve)
    meta = ctx.provenance(model="stacked_rbm", sizes=stack.sizes, **info)
    if "selected_update" in curve:
        # each layer holds the checkpoint its rule picked on held-out data (rbm.select)
        chosen = curve.groupby("layer")[["selected_update", "rule"]].first()
        meta["checkpoint"] = [{"layer": int(k), "update": int(r.selected_update),
                               "rule": str(r.rule)} for k, r in chosen.iterrows()]
        for c in meta["checkpoint"]:
            ctx.log.info("layer %d: selected update %d (%s)", c["layer"], c["update"], c["rule"])
    stack.save(ctx.output("model"), meta=meta)
    io.write_table(curve, ctx.output("curve"), meta)


def train_autoencoder_stage(ctx: StageContext) -> None:
    """Shallow autoencoder on the ``spins`` inputs (spin or real-valued lattice files).

    Params: n_hidden, tied, activation, output_activation, bias, init ("random" |
    "covariance"), init_std, init_scale, init_weighting, heldout_fraction, optimizer, lr,
    momentum, weight_decay, batch_size, n_updates | n_epochs, monitor {every, per_octave,
    n_samples}, seed, device. Outputs: model, curve.
    """
    from coarsegrain.rbm.autoencoder import Autoencoder, AutoencoderTrainer

    p = ctx.params
    x, xh, shape, info = _data(ctx, real=True)
    ae = Autoencoder(math.prod(shape), int(p["n_hidden"]), tied=bool(p.get("tied", True)),
                     activation=p.get("activation", "tanh"),
                     output_activation=p.get("output_activation"), bias=bool(p.get("bias", True)),
                     init_std=float(p.get("init_std", 0.05)), device=ctx.device,
                     seed=int(p["seed"]))
    _initialise(ae, p, x)
    mon = p.get("monitor") or {}
    kw = {k: p[k] for k in ("optimizer", "lr", "momentum", "weight_decay", "batch_size",
                            "n_updates", "n_epochs") if p.get(k) is not None}
    trainer = AutoencoderTrainer(ae, monitor_every=mon.get("every"),
                                 monitor_per_octave=mon.get("per_octave", 4),
                                 n_monitor=mon.get("n_samples", 1000), seed=int(p["seed"]), **kw)
    curve = trainer.fit(x, xh)
    _log_last(ctx, curve)
    meta = ctx.provenance(model="autoencoder", **info)
    ae.save(ctx.output("model"), meta=meta)
    io.write_table(curve, ctx.output("curve"), meta)


def figure_curves(ctx: StageContext) -> None:
    """Training-curve figure of the ``curves`` inputs (one RBM each, or one stack).

    Params: labels (one per input, the legend entries; default the file stems), title, pdf.
    Stack curves (with a ``layer`` column) are drawn per layer.
    """
    import pandas as pd

    from coarsegrain.plots.rbm import training_curves_figure
    from coarsegrain.plots.style import save_figure

    p = ctx.params
    paths = ctx.inputs["curves"]
    labels = p.get("labels") or [str(x).rsplit("/", 1)[-1].removesuffix(".parquet")
                                 for x in paths]
    if len(labels) != len(paths):
        raise ValueError(f"{len(labels)} labels for {len(paths)} curve files")
    frames = []
    for path, label in zip(paths, labels, strict=True):
        df, _ = io.read_table(path)
        df["model"] = label
        frames.append(df)
    curves = pd.concat(frames, ignore_index=True)
    hue = "layer" if "layer" in curves.columns and len(paths) == 1 else "model"
    fig = training_curves_figure(curves, hue=hue, title=p.get("title", ""))
    save_figure(fig, ctx.output("figure"), pdf=p.get("pdf", True))

STAGES = {
    "figure-curves": figure_curves,
    "train": train,
    "train-stack": train_stack_stage,
    "train-autoencoder": train_autoencoder_stage,
}
