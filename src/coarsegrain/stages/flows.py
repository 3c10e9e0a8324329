"""Workflow stages for RBM flows, thermometers, temperature flows, correlators and ⟨v h⟩ maps.

Called as ``python -m coarsegrain flows.<name>`` (``workflow/rules/flows.smk``). Every stage reads its
inputs, calls the library
(:mod:`coarsegrain.flow`, :mod:`coarsegrain.rg`, :mod:`coarsegrain.analysis`) and writes tidy
tables with provenance.

Common params: ``model`` ("ising2d" or "longrange"), ``sigma`` and ``images`` for the chain,
``seed``, ``device``.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pandas as pd

from coarsegrain import io
from coarsegrain.cli import StageContext

# ----------------------------------------------------------------------------- helpers


def _plots():
    """coarsegrain.plots.flows, imported only by figure stages (matplotlib and seaborn cost
    seconds of start-up in every other job)."""
    from coarsegrain.plots import flows

    return flows


def load_layers(paths, device=None) -> list:
    """RBM layers from checkpoint paths: one RBM per path, or a stack file holding all layers."""
    from coarsegrain.rbm import RBM, StackedRBM

    layers = []
    for p in paths:
        meta = io.load_checkpoint(p)[1]
        if "rbm" in meta:
            layers.append(RBM.load(p, device=device))
            continue
        layers.extend(StackedRBM.load(p, device=device).layers)
    return layers


def read_configs(path) -> tuple[np.ndarray, pd.DataFrame, dict]:
    """Spins (int8) or real-valued lattices (float32) with their columns and metadata."""
    meta = io.read_meta(path)
    if meta.get("encoding") == "bitpacked":
        return io.read_spins(path, with_columns=True)
    return io.read_lattices(path, with_columns=True)


def observable_fn(params: dict):
    """Per-configuration observables function for the params' model."""
    from coarsegrain.flow.estimators import observables_chain, observables_ising2d

    model = params.get("model", "ising2d")
    if model == "ising2d":
        return observables_ising2d
    if model == "longrange":
        return partial(observables_chain, sigma=float(params["sigma"]),
                       images=params.get("images", "ewald"))
    raise ValueError(f"params.model must be 'ising2d' or 'longrange'; got {model!r}")


def _model_labels(params: dict) -> dict:
    labels = {"model": params.get("model", "ising2d")}
    if labels["model"] == "longrange":
        labels["sigma"] = float(params["sigma"])
    return labels


def _subsample(x: np.ndarray, n: int | None, seed: int, *keys) -> np.ndarray:
    """The first ``n`` of a seeded permutation (all, permuted, if n is None or larger)."""
    from coarsegrain.runtime import make_rng

    idx = make_rng(seed, "subsample", *keys).permutation(x.shape[0])
    return idx if n is None else np.sort(idx[: int(n)])


def _read_table_list(paths) -> pd.DataFrame:
    return pd.concat([io.read_table(p)[0] for p in paths], ignore_index=True)


def _tables_by_size(df: pd.DataFrame, params: dict) -> dict:
    """Observables tables keyed by lattice side (the 'L' column; N for chains), restricted to
    the params' σ for the long-range chain."""
    if params.get("model") == "longrange" and "sigma" in df.columns:
        df = df[np.isclose(df["sigma"], float(params["sigma"]))]
    return {int(L): d for L, d in df.groupby("L")}


# ----------------------------------------------------------------------------- thermometer


def train_thermometer(ctx: StageContext) -> None:
    """Train a thermometer on Monte Carlo spin files (one temperature each) and calibrate it.

    Inputs: ``spins`` (list). Outputs: ``model`` (checkpoint), ``confusion`` (tidy confusion
    matrix on the held-out test split), ``calibration`` (per true T: mean/std of the predicted
    T, accuracy; plus overall accuracy and chance level), ``history`` (loss per epoch).
    Params: arch, hidden, activation, channels, kernel_size, max_epochs, patience, batch_size,
    lr, weight_decay, val_fraction, test_fraction, augment_flip, augment_shift,
    max_per_temperature, seed, device.
    """
    from coarsegrain.flow.thermometer import (
        calibration,
        calibration_curve,
        calibration_table,
        split_indices,
        train_thermometer,
    )
    from coarsegrain.runtime import make_rng

    p = ctx.params
    seed = int(p.get("seed", 0))
    xs, ts = [], []
    for path in ctx.inputs["spins"]:
        spins, meta = io.read_spins(path)
        idx = _subsample(spins, p.get("max_per_temperature"), seed, "thermometer", meta["temperature"])
        xs.append(spins[idx])
        ts.append(np.full(idx.size, float(meta["temperature"])))
    x, t = np.concatenate(xs), np.concatenate(ts)
    grid = np.unique(t)
    labels = np.searchsorted(grid, t)
    train, test = split_indices(labels, float(p.get("test_fraction", 0.2)),
                                make_rng(seed, "thermometer-test", *x.shape[1:]))
    kw = {k: p[k] for k in ("arch", "hidden", "activation", "channels", "kernel_size", "max_epochs",
                            "patience", "batch_size", "lr", "weight_decay", "val_fraction",
                            "augment_flip", "augment_shift") if k in p}
    th, history = train_thermometer(x[train], t[train], grid=grid, seed=seed, device=ctx.device,
                                    **kw)
    summary, confusion = calibration(th, x[test], t[test])
    curve = calibration_curve(th, x[test], t[test])
    response = calibration_table(th, x[test], t[test])
    for k, v in summary.items():
        curve[f"overall_{k}"] = v
    size = list(x.shape[1:])
    labels_meta = dict(size=size, n_train=int(train.size), n_test=int(test.size), **summary)
    th.save(ctx.output("model"), meta=ctx.provenance(**labels_meta, best_epoch=th.best_epoch))
    io.write_table(confusion.assign(lattice_size=size[0]), ctx.output("confusion"),
                   ctx.provenance(**labels_meta))
    io.write_table(curve.assign(lattice_size=size[0]), ctx.output("calibration"),
                   ctx.provenance(**labels_meta))
    io.write_table(history, ctx.output("history"), ctx.provenance(**labels_meta))
    if "response" in ctx.outputs:
        io.write_table(response.assign(lattice_size=size[0]), ctx.output("response"),
                       ctx.provenance(**labels_meta))
    ctx.log.info("thermometer %s on %d temperatures: test accuracy %.3f (chance %.3f), "
                 "adjacent %.3f", size, grid.size, summary["accuracy"], summary["chance"],
                 summary["adjacent_accuracy"])


# ----------------------------------------------------------------------------- RBM flow


def rbm_flow(ctx: StageContext) -> None:
    """RBM flow from Monte Carlo configurations and from T=0 / T=∞ starts.

    Inputs: ``rbm`` (checkpoint; of a stacked RBM, its bottom layer is flowed), ``spins``
    (Monte Carlo configurations, for the "mc" start).
    Outputs: ``flow`` (spin file with columns step, source; step 0 is the start).
    Params: steps (list, default 1…29), n_configs, starts (subset of mc, T0, Tinf), mean_field,
    seed, device.
    """
    from coarsegrain.flow.rbmflow import DEFAULT_STEPS, flow_from_starts

    p = ctx.params
    seed = int(p.get("seed", 0))
    # a stack checkpoint ("stack_L{L}" flows) is flowed through its bottom layer
    rbm = load_layers([ctx.input("rbm")], device=ctx.device)[0]
    spins, meta = io.read_spins(ctx.input("spins"))
    n = min(int(p.get("n_configs", spins.shape[0])), spins.shape[0])
    mc = spins[_subsample(spins, n, seed, "flow-mc")]
    results = flow_from_starts(rbm, spins.shape[1:], n, starts=p.get("starts", ["mc", "T0", "Tinf"]),
                               mc_configs=mc, steps=p.get("steps", list(DEFAULT_STEPS)), seed=seed)
    parts = [r.stacked() for r in results]
    configs = np.concatenate([s for s, _ in parts])
    cols = {k: np.concatenate([c[k] for _, c in parts]) for k in ("step", "source")}
    prov = ctx.provenance(**{k: meta[k] for k in ("model", "temperature", "sigma") if k in meta},
                          size=list(spins.shape[1:]), rbm=rbm.meta.get("rbm", {}))
    if p.get("mean_field", False):
        io.write_lattices(configs, ctx.output("flow"), prov, columns=cols)
    else:
        io.write_spins(configs, ctx.output("flow"), prov, columns=cols)
    ctx.log.info("flowed %d configurations from %s over %d steps", n,
                 [r.source for r in results], int(results[0].steps.max()))


def temperature_flow(ctx: StageContext) -> None:
    """Temperature (thermometer and physics estimator) and observables vs flow step.

    Inputs: ``flow`` (from :func:`rbm_flow`), ``thermometer`` (checkpoint at the flow's size),
    ``observables`` (Monte Carlo observables table(s), optional).
    Outputs: ``temperatures`` (tidy: source, step, method, temperature, error, ...),
    ``predictions`` (per configuration: source, step, expected/argmax temperature),
    ``observables`` (source, step, observable, value, error: mean E and |m| per step).
    Params: model, sigma, images, n_boot, seed, device.
    """
    from coarsegrain.flow.estimators import group_by, temperature_predictions, temperature_table
    from coarsegrain.flow.thermometer import Thermometer

    p = ctx.params
    x, cols, meta = read_configs(ctx.input("flow"))
    th = Thermometer.load(ctx.input("thermometer"), device=ctx.device)
    table = None
    if "observables" in ctx.inputs:
        table = _tables_by_size(_read_table_list(ctx.inputs["observables"]), p)
    obs_fn = observable_fn(p)
    labels = _model_labels(p)
    temps, preds, obs_rows = [], [], []
    for source in pd.unique(cols["source"]):
        sel = (cols["source"] == source).to_numpy()
        groups = group_by(x[sel], cols["step"].to_numpy()[sel])
        temps.append(temperature_table(groups, key="step", thermometer=th, table=table,
                                       observable_fn=obs_fn, n_boot=int(p.get("n_boot", 200)),
                                       seed=int(p.get("seed", 0)), source=source, **labels))
        preds.append(temperature_predictions(groups, th, key="step", source=source, **labels))
        for step, g in groups.items():
            o = obs_fn(g)
            for name in o.columns:
                v = o[name].to_numpy()
                obs_rows.append({"source": source, "step": step, "observable": name,
                                 "value": float(v.mean()),
                                 "error": float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1
                                 else math.nan, "n": int(v.size), **labels})
    prov = ctx.provenance(**labels, temperature=meta.get("temperature"))
    io.write_table(pd.concat(temps, ignore_index=True), ctx.output("temperatures"), prov)
    io.write_table(pd.concat(preds, ignore_index=True), ctx.output("predictions"), prov)
    io.write_table(pd.DataFrame(obs_rows), ctx.output("observables"), prov)


def layer_temperatures(ctx: StageContext) -> None:
    """Temperature of each layer's output: stacked RBM vs block-spin RG, from one MC data set.

    Inputs: ``stack`` (RBM checkpoints, bottom layer first, or one stack checkpoint),
    ``spins`` (Monte Carlo configurations at the input temperature), ``thermometers`` (one per
    lattice size met along the way), ``observables`` (Monte Carlo tables of those sizes).
    Outputs: ``table`` (layer, kind rbm|rg, readout placed|reconstruction|majority (2D RG read
    through majority-rule blocks, when rg_rule is "average"), method, temperature, error,
    lattice_size, in_distribution (False for block-averaged RG configurations, which the ±1
    thermometers never saw), ...; see :func:`coarsegrain.flow.readout.layer_readout`),
    ``examples`` (optional: a few configurations per layer, see :func:`layer_examples`).
    Params: rg_rule, b, n_configs, sample (stack outputs sampled or mean-field), n_examples,
    model, sigma, images, n_boot, seed, device. Layer 0 is the input itself.
    """
    from coarsegrain.flow.estimators import layer_temperatures as layer_table
    from coarsegrain.flow.rbmflow import stack_outputs
    from coarsegrain.flow.thermometer import Thermometer
    from coarsegrain.rg.blockspin import rg_flow

    p = ctx.params
    seed = int(p.get("seed", 0))
    layers = load_layers(ctx.inputs["stack"], device=ctx.device)
    spins, meta = io.read_spins(ctx.input("spins"))
    spins = spins[_subsample(spins, p.get("n_configs"), seed, "layers")]
    # Hidden units read as a lattice only after fixing each unit's sign and placing it by its
    # receptive field ("placed"); "reconstruction" reads each layer back on the input lattice.
    rbm_out = stack_outputs(layers, spins, sample=bool(p.get("sample", True)), seed=seed,
                            include_input=True, readout="placed")
    recon_out = stack_outputs(layers, spins, sample=bool(p.get("sample", True)), seed=seed,
                              include_input=True, readout="reconstruction")
    rg_out = dict(enumerate(rg_flow(spins, len(layers), rule=p.get("rg_rule", "average"),
                                    b=int(p.get("b", 2)), seed=seed)))
    ths = {th.lattice_shape: th for th in
           (Thermometer.load(f, device=ctx.device) for f in ctx.inputs["thermometers"])}
    labels = _model_labels(p)
    table = None
    if "observables" in ctx.inputs:
        table = _tables_by_size(_read_table_list(ctx.inputs["observables"]), p)
    common = dict(thermometer=ths, table=table, observable_fn=observable_fn(p),
                  n_boot=int(p.get("n_boot", 200)), seed=seed,
                  input_temperature=float(meta["temperature"]), **labels)
    frames = [layer_table(rbm_out, rg_out, readout="placed", **common),
              layer_table(recon_out, None, readout="reconstruction", **common)]
    averaged = p.get("rg_rule", "average") == "average"
    if p.get("model") == "ising2d" and averaged:
        # Block averages ({0, ±1/2, ±1}) lie outside what a thermometer trained on ±1 spins has
        # seen; majority-rule blocks are spins, so their reading is in distribution. The claims
        # compare the stack with these rows (and check that RG at T_c stays critical).
        majority = dict(enumerate(rg_flow(spins, len(layers), rule="majority",
                                          b=int(p.get("b", 2)), seed=seed)))
        frames.append(layer_table(None, majority, readout="majority", **common))
    df = pd.concat(frames, ignore_index=True)
    # Which readings the ±1-trained thermometers saw the like of in training: all but
    # block-averaged RG configurations (kept in the table and figure, marked, used by no claim).
    df["in_distribution"] = ~((df["kind"] == "rg") & (df["readout"] == "placed")
                              & (df["layer"] > 0) & averaged)
    prov = ctx.provenance(**labels, temperature=meta["temperature"])
    io.write_table(df, ctx.output("table"), prov)
    if "examples" in ctx.outputs:
        io.write_table(layer_examples(rbm_out, rg_out, int(p.get("n_examples", 3)), **labels),
                       ctx.output("examples"), prov)


def layer_examples(rbm_out: dict, rg_out: dict, n_examples: int = 3, **labels) -> pd.DataFrame:
    """A few configurations per layer, for figures: columns kind, layer, example, shape (list),
    values (flattened list) + labels. Example i is the same input configuration in every row."""
    rows = []
    for kind, out in (("rbm", rbm_out), ("rg", rg_out)):
        for layer, x in out.items():
            for i in range(min(n_examples, x.shape[0])):
                rows.append({"kind": kind, "layer": int(layer), "example": i,
                             "shape": list(x.shape[1:]),
                             "values": np.asarray(x[i], dtype=np.float32).ravel().tolist(),
                             **labels})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- correlators


def correlators(ctx: StageContext) -> None:
    """Spin and energy-operator correlators and Δ_σ, Δ_ε per flow step (and for MC data).

    Inputs: ``flow`` (flow file), ``reference`` (Monte Carlo configurations at the same T,
    optional; reported as source "monte_carlo", step 0), ``grid`` and ``temperatures``
    (optional, together: Monte Carlo spin files of the flow's lattice at several temperatures,
    and the flow's temperature table; give rows of source "mc_at_flow_temperature", see
    :func:`_mc_at_flow_temperature`).
    Outputs: ``deltas`` (source, step, operator, delta, delta_err, chi2_dof, rmin, rmax, ...),
    ``correlators`` (source, step, operator, r, value, error).
    Params: sources (default all), steps (default all), rmin, rmax, form (default "torus"),
    kappa, n_groups, n_boot, model, sigma, seed (see
    :func:`coarsegrain.analysis.correlators.scaling_dimension`).
    """
    from coarsegrain.analysis.correlators import scaling_dimension

    p = ctx.params
    x, cols, meta = read_configs(ctx.input("flow"))
    groups = []
    if "reference" in ctx.inputs:
        ref, _ = io.read_spins(ctx.input("reference"))
        groups.append(("monte_carlo", 0, ref))
    sources = p.get("sources") or list(pd.unique(cols["source"]))
    steps = p.get("steps")
    for source in sources:
        for step in np.unique(cols["step"]):
            if steps is not None and int(step) not in steps:
                continue
            sel = ((cols["source"] == source) & (cols["step"] == step)).to_numpy()
            if sel.any():
                groups.append((source, int(step), x[sel]))
    labels = _model_labels(p)
    rows, tables = [], []
    for source, step, configs in groups:
        for op in ("spin", "energy"):
            res = scaling_dimension(configs, op, rmin=int(p.get("rmin", 1)), rmax=p.get("rmax"),
                                    form=p.get("form", "torus"), kappa=float(p.get("kappa", 1.0)),
                                    n_groups=min(int(p.get("n_groups", 10)), configs.shape[0]),
                                    n_boot=int(p.get("n_boot", 100)), seed=int(p.get("seed", 0)))
            table = res.pop("table")
            rows.append({"source": source, "step": step, "operator": op, **res, **labels})
            tables.append(table.assign(source=source, step=step, operator=op, **labels))
    if ctx.inputs.get("grid") and ctx.inputs.get("temperatures"):
        rows += _mc_at_flow_temperature(ctx, x.shape[1:], labels)
    prov = ctx.provenance(**labels, temperature=meta.get("temperature"))
    io.write_table(pd.DataFrame(rows), ctx.output("deltas"), prov)
    io.write_table(pd.concat(tables, ignore_index=True), ctx.output("correlators"), prov)


def _mc_at_flow_temperature(ctx: StageContext, shape, labels: dict) -> list[dict]:
    """Rows (source "mc_at_flow_temperature") with the Monte Carlo Δ_σ, Δ_ε measured with the
    flow's own fit on the flow's lattice, at each start's end temperature.

    The end temperature is the physics estimator's (``end_method``, default "energy": matching
    ⟨E⟩ to the Monte Carlo curve, which a thermometer's saturation cannot bias), averaged over the
    last ``tail_steps`` flow steps. Only the ``n_nearest`` grid temperatures around it are fitted.
    """
    from coarsegrain.flow.estimators import mc_delta_reference

    p = ctx.params
    temps = _read_table_list(ctx.inputs["temperatures"])
    method, n_tail = p.get("end_method", "energy"), int(p.get("tail_steps", 5))
    files = {}
    for f in ctx.inputs["grid"]:
        files[float(io.read_meta(f)["temperature"])] = f
    fit = dict(rmin=int(p.get("rmin", 1)), rmax=p.get("rmax"), form=p.get("form", "torus"),
               kappa=float(p.get("kappa", 1.0)), n_groups=int(p.get("n_groups", 10)),
               n_boot=int(p.get("n_boot", 100)), seed=int(p.get("seed", 0)))
    rows = []
    for source in p.get("sources") or sorted(temps["source"].unique()):
        d = temps[(temps["source"] == source) & (temps["method"] == method)]
        if d.empty:
            continue
        t_end, t_err = _tail_mean(d, n_tail, "temperature")
        if not math.isfinite(t_end) or t_end <= 0:
            continue
        near = sorted(files, key=lambda T: abs(T - t_end))[:int(p.get("n_nearest", 4))]
        mc = {T: io.read_spins(files[T])[0] for T in sorted(near)}
        for op in ("spin", "energy"):
            ref = mc_delta_reference(mc, t_end, t_err if math.isfinite(t_err) else 0.0,
                                     operator=op, lattice_shape=tuple(shape), **fit)
            chi2 = ref["table"]["chi2_dof"].mean()
            rows.append({"source": "mc_at_flow_temperature", "flow_source": source, "step": -1,
                         "operator": op, "delta": ref["delta"], "delta_err": ref["error"],
                         "chi2_dof": float(chi2), "temperature": t_end,
                         "temperature_error": t_err, "temperature_method": method,
                         "extrapolated": bool(ref["extrapolated"]), **labels})
    return rows


# ----------------------------------------------------------------------------- ⟨v h⟩ maps


def io_maps(ctx: StageContext) -> None:
    """⟨v_i h_a⟩ maps and their locality for every layer of an RBM stack and for RG.

    Inputs: ``stack`` (RBM checkpoints, bottom first, or one stack checkpoint), ``spins``
    (Monte Carlo configurations the maps average over).
    Outputs: ``maps`` (lattice file, one row per (map_type, kind, layer, unit) on the input lattice;
    map_type is "correlation" for ⟨v h⟩ or "response" for the linear receptive field, see
    :func:`coarsegrain.analysis.iomaps.linear_response`), ``locality`` (map_type, kind, layer, unit,
    block_fraction, participation_ratio, radius, ...).
    Params: rg_rule, b, n_configs, connected, power, debias (use the maps' standard errors),
    ridge, model, sigma, seed, device. Layer k is compared with b^k blocks.
    """
    from coarsegrain.analysis.iomaps import locality_table, rg_io_maps, stack_io_maps

    p = ctx.params
    seed = int(p.get("seed", 0))
    layers = load_layers(ctx.inputs["stack"], device=ctx.device)
    spins, meta = io.read_spins(ctx.input("spins"))
    spins = spins[_subsample(spins, p.get("n_configs"), seed, "iomaps")]
    b = int(p.get("b", 2))
    connected = bool(p.get("connected", False))
    ridge = float(p.get("ridge", 1e-3))
    rule = p.get("rg_rule", "average")
    labels = _model_labels(p)
    frames, maps, cols = [], [], {"map_type": [], "kind": [], "layer": [], "unit": []}
    for map_kind, response in (("correlation", False), ("response", True)):
        rbm = stack_io_maps(layers, spins, connected=connected, return_error=True,
                            response=response, ridge=ridge)
        rg = rg_io_maps(spins, n_steps=len(layers), rule=rule, b=b, connected=connected,
                        seed=seed, return_error=True, response=response, ridge=ridge)
        for kind, (mlist, elist) in (("rbm", rbm), ("rg", rg)):
            for k, (m, e) in enumerate(zip(mlist, elist, strict=True), start=1):
                noise = e if p.get("debias", True) else None
                frames.append(locality_table(m, b=b**k, noise=noise,
                                             power=float(p.get("power", 2.0)), map_type=map_kind,
                                             kind=kind, layer=k, **labels))
                maps.append(m)
                cols["map_type"] += [map_kind] * m.shape[0]
                cols["kind"] += [kind] * m.shape[0]
                cols["layer"] += [k] * m.shape[0]
                cols["unit"] += list(range(m.shape[0]))
    prov = ctx.provenance(**labels, temperature=meta.get("temperature"),
                          n_configs=int(spins.shape[0]))
    io.write_lattices(np.concatenate(maps), ctx.output("maps"), prov,
                      columns={k: np.asarray(v) for k, v in cols.items()})
    df = pd.concat(frames, ignore_index=True)
    io.write_table(df, ctx.output("locality"), prov)
    med = df.groupby(["map_type", "kind", "layer"])["block_fraction"].median()
    ctx.log.info("median block fraction per kind/layer: %s", med.to_dict())


# ----------------------------------------------------------------------------- claims


def _tail_mean(d: pd.DataFrame, n_tail: int, value: str | None = None) -> tuple[float, float]:
    """Mean of the last ``n_tail`` steps' estimates and an error for it.

    The steps come from the same chains, so their errors are not independent: the error is the
    root-mean-square of the steps' own errors (not divided by √n_tail), combined with the
    scatter between steps (their standard deviation, also not divided).
    """
    value = value or ("delta" if "delta" in d else "temperature")
    err = {"delta": "delta_err", "temperature": "error"}[value]
    d = d.sort_values("step").tail(n_tail)
    v, e = d[value].to_numpy(float), d[err].to_numpy(float)
    if v.size == 0:
        return math.nan, math.nan
    stat = math.sqrt(np.nanmean(e**2))
    scatter = float(np.std(v, ddof=1)) if v.size > 1 else 0.0
    return float(np.mean(v)), math.hypot(stat, scatter)


def _named(ctx: StageContext, name: str, tag: str, p: dict) -> list[tuple[str, str]]:
    """(claim-id prefix, path) for every path of input ``name``: the model tag, followed by
    the flowed RBM's name when the ``flows`` param names them."""
    paths = ctx.inputs.get(name, [])
    names = p.get("flows")
    if not names:
        if len(paths) > 1:
            raise ValueError(f"{len(paths)} {name} inputs need a 'flows' param naming each")
        return [(tag, path) for path in paths]
    if len(names) != len(paths):
        raise ValueError(f"params.flows names {len(names)} RBMs for {len(paths)} {name} inputs")
    return [(f"{tag}/{n}", path) for n, path in zip(names, paths, strict=True)]


def claims(ctx: StageContext) -> None:
    """Measurements for the flow claims of one model and one training seed.

    Inputs (each optional): ``temperatures`` (from :func:`temperature_flow`), ``deltas`` (from
    :func:`correlators`), ``locality`` (from :func:`io_maps`), ``layers`` (from
    :func:`layer_temperatures`), ``tc`` (table with tc_estimate, tc_error; the exact Onsager
    value is used for ising2d when absent), ``reference_deltas`` (Monte Carlo Δ at T_c for the
    chain, as written by :func:`correlators`), ``response`` (the flowed lattice's thermometer
    calibration, whose resolution at T_c is the "near T_c" tolerance: one path for every flow,
    or one per flowed RBM in ``flows`` order), ``layer_response`` (2D:
    the same for the top layer's lattice, the tolerance of the majority-rule RG check).
    ``temperatures`` and ``deltas`` may hold one path per flowed RBM,
    named (same order) by the ``flows`` param; claim ids then carry the RBM's
    name after the model tag. Verdicts are made from :mod:`coarsegrain.claims.registry`.
    Outputs: ``claims`` (measurements).
    Params: model, sigma, flows (names of the flowed RBMs), tail_steps, method (temperature
    method, default "thermometer"), replicate (training-seed index of every input).
    """
    from coarsegrain.analysis.iomaps import locality_contrast
    from coarsegrain.claims.measure import measurement, measurements_frame

    p = ctx.params
    model = p.get("model", "ising2d")
    tag = "flows/" + (model if model == "ising2d" else f"longrange_s{float(p['sigma']):g}")
    n_tail = int(p.get("tail_steps", 5))
    method = p.get("method", "thermometer")
    rep = int(p.get("replicate", 0))
    rows = []
    if ctx.inputs.get("tc"):  # an empty list (no path) means none given
        tcdf, _ = io.read_table(ctx.input("tc"))
        if "sigma" in tcdf.columns and model == "longrange":
            tcdf = tcdf[np.isclose(tcdf["sigma"], float(p["sigma"]))]
        tc, tc_err = float(tcdf["tc_estimate"].iloc[0]), float(tcdf["tc_error"].iloc[0])
    elif model == "ising2d":
        from coarsegrain.lattice.ising2d import T_CRITICAL

        tc, tc_err = T_CRITICAL, 0.0
    else:
        tc, tc_err = math.nan, math.nan

    # flow tag (None: every flow) -> (resolution at T_c of the flowed lattice's thermometer, why)
    tolerances: dict[str | None, tuple[float, str]] = {}
    resp = ctx.inputs.get("response", []) if math.isfinite(tc) else []
    for flow_tag, path in (_named(ctx, "response", tag, p) if len(resp) > 1
                           else [(None, x) for x in resp]):
        res = _resolution_at(path, tc)
        if math.isfinite(res):
            tolerances[flow_tag] = (res, f"thermometer resolution at T_c, {res:.3g}, from its "
                                         "held-out calibration (this seed, the flow's lattice)")
    if model == "ising2d":
        for flow_tag, path in _named(ctx, "temperatures", tag, p):
            tol, tol_src = tolerances.get(flow_tag, tolerances.get(None, (math.nan, "")))
            temps, _ = io.read_table(path)
            for source, d in temps[temps["method"] == method].groupby("source", sort=True):
                v, e = _tail_mean(d, n_tail, "temperature")
                rows.append(measurement(
                    f"{flow_tag}/end_temperature/{source}", v, e, seed=rep, reference=tc,
                    reference_error=tc_err, n=len(d), tolerance=tol, tolerance_source=tol_src,
                    detail=f"{method} temperature, mean of the last {n_tail} flow steps"))

    for i, (flow_tag, path) in enumerate(_named(ctx, "deltas", tag, p)):
        deltas, _ = io.read_table(path)
        spin = deltas[deltas["operator"] == "spin"]
        flow = spin[spin["source"] == p.get("delta_source", "mc")]
        v, e = _tail_mean(flow, n_tail, "delta")
        chi2 = float(flow["chi2_dof"].mean()) if "chi2_dof" in flow else math.nan
        mc = spin[spin["source"] == "monte_carlo"]
        if model != "ising2d" and "reference_deltas" in ctx.inputs:
            ref, _ = io.read_table(ctx.input("reference_deltas"))
            mc = ref[(ref["operator"] == "spin") & (ref["source"] == "monte_carlo")]
        mc_chi2 = float(mc["chi2_dof"].iloc[0]) if len(mc) and "chi2_dof" in mc else math.nan
        same_t = spin[spin["source"] == "mc_at_flow_temperature"]
        if "flow_source" in same_t.columns:
            same_t = same_t[same_t["flow_source"] == p.get("delta_source", "mc")]
        if len(same_t):
            s = same_t.iloc[0]
            kind = "delta_sigma_vs_mc_at_flow_t" if model == "ising2d" else \
                "delta_sigma_differs_from_mc_at_flow_t"
            rows.append(measurement(
                f"{flow_tag}/{kind}", v, e, seed=rep, reference=float(s["delta"]),
                reference_error=float(s["delta_err"]), chi2_dof=chi2, n=len(flow),
                detail=f"flow Δ_σ (last {n_tail} steps) vs Monte Carlo Δ_σ at the flow's end "
                       f"temperature {float(s['temperature']):.3f} ({s['temperature_method']}), "
                       "same lattice and fit"
                       + ("; extrapolated beyond the grid" if bool(s["extrapolated"]) else "")))
        if model == "ising2d":
            rows.append(measurement(
                f"{flow_tag}/delta_sigma", v, e, seed=rep, chi2_dof=chi2, n=len(flow),
                detail=f"spin-correlator fit, mean of the last {n_tail} flow steps"))
            if len(mc) and i == 0 and rep == 0:  # one Monte Carlo reference for all flows
                rows.append(measurement(
                    f"{tag}/mc_delta_sigma", mc["delta"].iloc[0], mc["delta_err"].iloc[0],
                    chi2_dof=mc_chi2, detail="Monte Carlo configurations at the flow's input T"))
        else:
            sigma = float(p["sigma"])
            if len(mc):
                rv, re_ = float(mc["delta"].iloc[0]), float(mc["delta_err"].iloc[0])
                rows.append(measurement(
                    f"{flow_tag}/delta_sigma_differs_from_mc", v, e, seed=rep, reference=rv,
                    reference_error=re_, chi2_dof=chi2, n=len(flow),
                    detail=f"flow Δ_σ (last {n_tail} steps) vs Monte Carlo Δ_σ at T_c"))
                if i == 0 and rep == 0:
                    rows.append(measurement(
                        f"{tag}/mc_delta_sigma", rv, re_, reference=(1 - sigma) / 2,
                        chi2_dof=mc_chi2, detail="Monte Carlo Δ_σ at the measured T_c"))

    if "locality" in ctx.inputs:
        loc, _ = io.read_table(ctx.input("locality"))
        first = loc[(loc["layer"] == 1) & (loc.get("map_type", "correlation") == "correlation")]
        if not first.empty:
            c = locality_contrast(first.loc[first["kind"] == "rg", "block_fraction"],
                                  first.loc[first["kind"] == "rbm", "block_fraction"],
                                  seed=int(p.get("seed", 0)))
            rows.append(measurement(
                f"{tag}/rg_maps_more_local_than_rbm", c["diff"], c["error"], seed=rep,
                n=len(first), detail=f"median best-block fraction RG {c['a']:.3f}, "
                                     f"RBM {c['b']:.3f} (first layer)"))

    if "layers" in ctx.inputs:
        lay_all, _ = io.read_table(ctx.input("layers"))
        lay_all = lay_all[lay_all["method"] == method]
        if "readout" not in lay_all.columns:
            lay_all = lay_all.assign(readout="placed")
        recon = lay_all[(lay_all["readout"] == "reconstruction") & (lay_all["kind"] == "rbm")]
        if len(recon):
            r = recon.set_index("layer")
            top_r = int(r.index.max())
            rows.append(measurement(
                f"{tag}/stacked_rbm_flows_to_low_t/reconstruction",
                float(r.loc[top_r, "temperature"] - r.loc[0, "temperature"]),
                math.hypot(float(r.loc[top_r, "error"]), float(r.loc[0, "error"])), seed=rep,
                detail=f"{method} temperature of layer {top_r} read back on the input lattice, "
                       "minus the input's"))
        lay = lay_all[lay_all["readout"] == "placed"]
        major = lay_all[(lay_all["readout"] == "majority") & (lay_all["kind"] == "rg")]
        rg_label = "RG"
        if len(major):
            # the placed RG rows are block averages, out of the thermometers' distribution:
            # the stack is compared with majority-rule RG, whose blocks are spins
            lay = pd.concat([lay[lay["kind"] != "rg"], major], ignore_index=True)
            rg_label = "majority-rule RG"
        top = int(lay["layer"].max())
        t = lay.set_index(["kind", "layer"])
        if ("rbm", top) in t.index and ("rg", top) in t.index:
            a, b = t.loc[("rbm", top)], t.loc[("rg", top)]
            t0 = float(t.loc[("rbm", 0), "temperature"]) if ("rbm", 0) in t.index else math.nan
            rows.append(measurement(
                f"{tag}/stacked_rbm_colder_than_rg", float(a["temperature"] - b["temperature"]),
                math.hypot(float(a["error"]), float(b["error"])), seed=rep,
                detail=f"after {top} layers: stacked RBM {float(a['temperature']):.3f}, "
                       f"{rg_label} {float(b['temperature']):.3f}, input {t0:.3f}"))
            if ("rbm", 0) in t.index:
                e0 = float(t.loc[("rbm", 0), "error"])
                for kind, row, name in (("rbm", a, "stacked_rbm_flows_to_low_t/placed"),
                                        ("rg", b, "rg_flows_to_high_t")):
                    if kind == "rg" and model == "ising2d":
                        continue  # in 2D, RG at T_c has no direction to flow (P2's is the chain's)
                    rows.append(measurement(
                        f"{tag}/{name}", float(row["temperature"]) - t0,
                        math.hypot(float(row["error"]), e0), seed=rep,
                        detail=f"{method} temperature after {top} layers minus the input's "
                               f"({t0:.3f})"))
        if model == "ising2d" and 1 in set(major["layer"]):
            # One step: the largest coarse lattice, so the best-resolving thermometer.
            m = major.set_index("layer")
            mtol, mtol_src = math.nan, ""
            if ctx.inputs.get("layer_response"):
                res = _resolution_at(ctx.input("layer_response"), tc)
                if not math.isnan(res):
                    mtol, mtol_src = res, (f"resolution at T_c, {res:.3g}, of the thermometer "
                                           f"of the {int(m.loc[1, 'lattice_size'])}² lattice "
                                           "(held-out calibration, this seed)")
            rows.append(measurement(
                f"{tag}/rg_majority_stays_near_tc", float(m.loc[1, "temperature"]),
                float(m.loc[1, "error"]), seed=rep, reference=tc, reference_error=tc_err,
                tolerance=mtol, tolerance_source=mtol_src,
                detail=f"{method} temperature after one majority-rule step "
                       f"(input {float(m.loc[0, 'temperature']):.3f})"))
    io.write_table(measurements_frame(rows), ctx.output("claims"), ctx.provenance(model=model))
    for r in rows:
        ctx.log.info("%s: %.4g ± %.3g (reference %.4g)", r["claim"], r["value"], r["error"],
                     r["reference"])

# ----------------------------------------------------------------------------- RG and chain data


def block_spin(ctx: StageContext) -> None:
    """Coarse-grain Monte Carlo configurations repeatedly; one output file per RG step.

    Inputs: ``spins`` (one spin file). Outputs: ``blocks`` (one path per step, step 1 first).
    Params: rule ("average" | "majority" | "decimate"), b, seed; the number of steps is the
    number of ``blocks`` paths. Averaged lattices are written with
    :func:`coarsegrain.io.write_lattices` (float32), ±1 outputs with
    :func:`coarsegrain.io.write_spins`; the input's per-configuration columns are kept and a
    ``step`` column is added.
    """
    from coarsegrain.rg.blockspin import rg_flow

    p = ctx.params
    rule, b = p.get("rule", "average"), int(p.get("b", 2))
    outs = ctx.outputs["blocks"]
    spins, cols, meta = io.read_spins(ctx.input("spins"), with_columns=True)
    flow = rg_flow(spins, len(outs), rule=rule, b=b, seed=int(p.get("seed", 0)),
                   include_input=False)
    base = {k: meta[k] for k in ("model", "temperature", "sigma") if k in meta}
    for step, (x, out) in enumerate(zip(flow, outs, strict=True), start=1):
        columns = {c: cols[c].to_numpy() for c in cols.columns}
        columns["step"] = np.full(x.shape[0], step, dtype=np.int32)
        prov = ctx.provenance(**base, size=list(x.shape[1:]), rg_rule=rule, rg_b=b, rg_step=step,
                              input_size=list(spins.shape[1:]))
        if rule == "average":
            io.write_lattices(x, out, prov, columns=columns)
        else:
            io.write_spins(x, out, prov, columns=columns)
        ctx.log.info("RG step %d (%s, b=%d): %s -> %s", step, rule, b, spins.shape[1:], x.shape[1:])


GRIDS = ("relative", "absolute")


def grid_temperatures(points, grid: str = "relative", tc: float | None = None) -> np.ndarray:
    """Temperatures of a grid: ``points`` themselves (absolute) or ``points × tc`` (relative).

    Raises ValueError for an unknown ``grid``, non-positive points, or a relative grid without
    a finite positive ``tc``.
    """
    pts = np.asarray(points, dtype=np.float64).ravel()
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}; got {grid!r}")
    if pts.size == 0 or not np.all(np.isfinite(pts)) or np.any(pts <= 0):
        raise ValueError(f"grid points must be finite and > 0; got {pts.tolist()}")
    if grid == "absolute":
        return pts
    if tc is None or not math.isfinite(tc) or tc <= 0:
        raise ValueError(f"a relative temperature grid needs a finite T_c > 0; got tc={tc!r} "
                         "(the Binder curves did not cross: widen the scan or add samples)")
    return pts * float(tc)


def _read_tc(path, sigma: float) -> tuple[float, float]:
    cross, _ = io.read_table(path)
    if "sigma" in cross.columns:
        cross = cross[np.isclose(cross["sigma"], sigma)]
    if cross.empty:
        raise ValueError(f"{path}: no T_c row for sigma={sigma:g}")
    return float(cross["tc_estimate"].iloc[0]), float(cross["tc_error"].iloc[0])


def sample_longrange_grid(ctx: StageContext) -> None:
    """One (σ, N) on a temperature grid; one spin file per grid point.

    Inputs: ``tc`` (T_c artifact, a crossings table with tc_estimate, tc_error; required for a
    relative grid). Outputs: ``spins`` (one path per grid point, in the order of ``points``),
    ``table`` (optional: observables of every grid point, columns as
    :func:`coarsegrain.lattice.longrange.observables_table` plus tau_int, thin, temperature_ratio).
    Params: sigma, N, grid ("relative" | "absolute"), points (ratios T/T_c or temperatures),
    n_samples, n_chains (optional), images, seed.
    """
    from coarsegrain.lattice.longrange import observables_table, sample_longrange

    p = ctx.params
    sigma, N = float(p["sigma"]), int(p["N"])
    grid = p.get("grid", "relative")
    tc, tc_err = (_read_tc(ctx.input("tc"), sigma) if "tc" in ctx.inputs
                  else (math.nan, math.nan))
    temps = grid_temperatures(p["points"], grid, tc if grid == "relative" else None)
    outs = ctx.outputs["spins"]
    if len(outs) != temps.size:
        raise ValueError(f"{len(outs)} spin outputs for {temps.size} grid points")
    images = p.get("images", "ewald")
    tables = []
    for point, T, out in zip(p["points"], temps, outs, strict=True):
        res = sample_longrange(N, sigma, float(T), int(p["n_samples"]), seed=int(p["seed"]),
                               images=images, n_chains=p.get("n_chains"), progress=True)
        info = {k: v for k, v in res.info.items() if not isinstance(v, dict)}
        ratio = float(T / tc) if math.isfinite(tc) else math.nan
        info.update(model="longrange", size=[N], sigma=sigma, images=images,
                    temperature=float(T), temperature_ratio=ratio, tc=tc, tc_error=tc_err,
                    grid=grid, grid_point=float(point))
        io.write_spins(res.configs, out, ctx.provenance(**info), columns={"chain": res.chain})
        tab = observables_table(res.configs, float(T), sigma, images)
        tab["temperature_ratio"] = ratio
        for key in ("tau_int", "thin", "n_thermalize", "sampler"):
            tab[key] = res.info.get(key)
        tables.append(tab)
        ctx.log.info("sigma=%g N=%d T=%.4f (T/T_c=%.3f): tau_int=%.2f thin=%s, <|m|>=%.3f",
                     sigma, N, T, ratio, res.info.get("tau_int", math.nan), res.info.get("thin"),
                     float(np.abs(res.configs.mean(axis=1)).mean()))
    if "table" in ctx.outputs:
        io.write_table(pd.concat(tables, ignore_index=True), ctx.output("table"),
                       ctx.provenance(model="longrange", sigma=sigma, size=[N], tc=tc,
                                      tc_error=tc_err, images=images))

# ----------------------------------------------------------------------------- figures

def _read(ctx, name):
    from coarsegrain import io

    return pd.concat([io.read_table(p)[0] for p in ctx.inputs[name]], ignore_index=True)


def _resolution_at(response_path, temperature: float) -> float:
    """A thermometer's resolution at ``temperature`` from its ``response`` calibration table
    (inf where it cannot resolve it)."""
    from coarsegrain.flow.thermometer import CalibrationMap

    resp, _ = io.read_table(response_path)
    return float(np.asarray(CalibrationMap(resp).resolution(temperature)).ravel()[0])


def _save(ctx, fig):
    """Save a flow figure; the ``title_note`` param (protocol and which training seed of how
    many is shown) goes under its title."""
    from coarsegrain.plots.style import save_figure, title_note

    title_note(fig, ctx.params.get("title_note", ""))
    save_figure(fig, ctx.output("figure"), pdf=ctx.params.get("pdf", True))


def _tc(ctx) -> float | None:
    """T_c from the ``tc`` param, or from a ``tc`` input table (tc_estimate; a measured T_c)."""
    if ctx.params.get("tc") is not None:
        return float(ctx.params["tc"])
    if ctx.inputs.get("tc"):
        df = _read(ctx, "tc")
        if "sigma" in df.columns and ctx.params.get("sigma") is not None:
            df = df[np.isclose(df["sigma"], float(ctx.params["sigma"]))]
        return float(df["tc_estimate"].iloc[0]) if len(df) else None
    return None


def stage_examples(ctx) -> None:
    """Inputs: examples (from flow.layer-temperatures), flow (optional flow file)."""
    from coarsegrain import io

    flow_steps = None
    if "flow" in ctx.inputs:
        x, cols, _ = io.read_spins(ctx.input("flow"), with_columns=True)
        sel = (cols["source"] == ctx.params.get("source", "mc")).to_numpy()
        steps = ctx.params.get("steps") or sorted(cols.loc[sel, "step"].unique())[:6]
        flow_steps = {int(s): x[np.flatnonzero(sel & (cols["step"] == s).to_numpy())[0]]
                      for s in steps}
    _save(ctx, _plots().examples_figure(_read(ctx, "examples"), flow_steps))


def stage_calibration(ctx) -> None:
    _save(ctx, _plots().calibration_figure(_read(ctx, "confusion"), _read(ctx, "calibration")))


def stage_temperature_flow(ctx) -> None:
    _save(ctx, _plots().temperature_flow_figure(_read(ctx, "temperatures"), _tc(ctx),
                                       tuple(ctx.params.get("methods", ("thermometer", "energy"))),
                                       rbm=ctx.params.get("rbm")))


def stage_observables_flow(ctx) -> None:
    ref = None
    if "reference" in ctx.inputs:
        ref = _read(ctx, "reference")
        # the input temperature as a value, or (chain grids relative to T_c) as T/T_c
        key = next((k for k in ("temperature", "temperature_ratio")
                    if ctx.params.get(k) is not None and k in ref.columns), None)
        ref = ref[np.isclose(ref[key], float(ctx.params[key]))
                  & (ref["L"] == int(ctx.params["L"]))] if key else None
    _save(ctx, _plots().observables_flow_figure(_read(ctx, "observables"), ref, rbm=ctx.params.get("rbm")))


def stage_correlators(ctx) -> None:
    _save(ctx, _plots().correlators_figure(_read(ctx, "correlators"), _read(ctx, "deltas"),
                                  ctx.params.get("exact"), rbm=ctx.params.get("rbm")))


def stage_iomaps(ctx) -> None:
    from coarsegrain import io

    maps, cols, _ = io.read_lattices(ctx.input("maps"), with_columns=True)
    meta_cols = cols.assign(**{k: v for k, v in ctx.params.items() if k in ("model", "sigma")})
    _save(ctx, _plots().iomap_figure(maps, meta_cols, n_units=int(ctx.params.get("n_units", 8))))


def stage_locality(ctx) -> None:
    _save(ctx, _plots().locality_figure(_read(ctx, "locality")))


def stage_layer_temperatures(ctx) -> None:
    _save(ctx, _plots().layer_temperature_figure(_read(ctx, "layers"),
                                        ctx.params.get("method", "thermometer")))


STAGES = {
    "train-thermometer": train_thermometer,
    "rbm-flow": rbm_flow,
    "temperature-flow": temperature_flow,
    "layer-temperatures": layer_temperatures,
    "correlators": correlators,
    "io-maps": io_maps,
    "claims": claims,
    "block-spin": block_spin,
    "sample-longrange": sample_longrange_grid,
    "figure-examples": stage_examples,
    "figure-calibration": stage_calibration,
    "figure-temperature": stage_temperature_flow,
    "figure-observables": stage_observables_flow,
    "figure-correlators": stage_correlators,
    "figure-iomaps": stage_iomaps,
    "figure-locality": stage_locality,
    "figure-layer-temperatures": stage_layer_temperatures,
}
