"""RBM flow: steps kept, starts, reproducibility, unit conventions, stacked outputs."""

import numpy as np
import pytest
import torch

from coarsegrain.flow.rbmflow import (
    DEFAULT_STEPS,
    coarse_shape,
    flow_from_starts,
    initial_configs,
    rbm_flow,
    stack_outputs,
)
from coarsegrain.flow.readout import layer_readout
from coarsegrain.io import read_spins, write_spins
from coarsegrain.rbm import RBM
from coarsegrain.runtime import torch_generator

L = 4


def make_rbm(n_v=L * L, n_h=9, units="pm1", a=0.0, std=0.3, seed=0):
    rbm = RBM(n_v, n_h, units=units, init_std=std, seed=seed)
    with torch.no_grad():
        rbm.a.fill_(a)
    return rbm


def random_spins(n, shape=(L, L), seed=0):
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=(n, *shape))


def test_default_flow_shapes_and_values():
    v0 = random_spins(20)
    res = rbm_flow(make_rbm(), v0)
    assert res.configs.shape == (29, 20, L, L) and res.configs.dtype == np.int8
    np.testing.assert_array_equal(res.steps, np.arange(1, 30))
    assert tuple(res.steps) == DEFAULT_STEPS
    assert set(np.unique(res.configs).tolist()) == {-1, 1}


def test_flow_equals_repeated_gibbs_steps():
    rbm = make_rbm()
    v0 = random_spins(50)
    res = rbm_flow(rbm, v0, steps=[5, 0, 3], generator=torch_generator(1, "t"))
    np.testing.assert_array_equal(res.steps, [0, 3, 5])
    np.testing.assert_array_equal(res.configs[0], v0)
    g = torch_generator(1, "t")
    v = torch.as_tensor(v0.reshape(50, -1), dtype=torch.float32)
    v3 = rbm.gibbs(v, 3, g)
    v5 = rbm.gibbs(v3, 2, g)
    np.testing.assert_array_equal(res.configs[1].reshape(50, -1), v3.numpy())
    np.testing.assert_array_equal(res.configs[2].reshape(50, -1), v5.numpy())


def test_flow_is_seeded():
    rbm, v0 = make_rbm(), random_spins(30)
    a = rbm_flow(rbm, v0, steps=[1, 4], seed=7).configs
    b = rbm_flow(rbm, v0, steps=[1, 4], seed=7).configs
    c = rbm_flow(rbm, v0, steps=[1, 4], seed=8).configs
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("units", ["pm1", "01"])
def test_strong_visible_bias_flows_to_all_up(units):
    rbm = make_rbm(units=units, a=30.0, std=0.0)
    res = rbm_flow(rbm, random_spins(40), steps=[1, 2])
    assert np.all(res.configs == 1)
    # zero parameters: every step is a fresh fair coin per spin, in ±1 for either unit type
    res = rbm_flow(make_rbm(units=units, std=0.0), -np.ones((400, L, L), np.int8), steps=[1])
    assert set(np.unique(res.configs).tolist()) == {-1, 1}
    assert abs(res.configs.mean()) < 0.05


def test_mean_field_flow():
    res = rbm_flow(make_rbm(), random_spins(10), steps=[1, 2], mean_field=True)
    assert res.configs.dtype == np.float32
    assert np.all(np.abs(res.configs) <= 1)
    res2 = rbm_flow(make_rbm(), random_spins(10), steps=[1, 2], mean_field=True, seed=99)
    np.testing.assert_array_equal(res.configs, res2.configs)  # deterministic


def test_starts_and_stacked_output(tmp_path):
    mc = random_spins(30, seed=3)
    results = flow_from_starts(make_rbm(), (L, L), 10, mc_configs=mc, steps=[1, 2])
    assert [r.source for r in results] == ["mc", "T0", "Tinf"]
    by = {r.source: r for r in results}
    np.testing.assert_array_equal(by["T0"].configs[0], np.ones((10, L, L)))
    np.testing.assert_array_equal(by["mc"].configs[0], mc[:10])
    assert abs(initial_configs("Tinf", 2000, (L, L)).mean()) < 0.02
    spins, cols = by["T0"].stacked()
    assert spins.shape == (30, L, L) and cols["step"].tolist() == [0] * 10 + [1] * 10 + [2] * 10
    write_spins(spins, tmp_path / "f.parquet", meta={"model": "ising2d"}, columns=cols)
    back, df, meta = read_spins(tmp_path / "f.parquet", with_columns=True)
    np.testing.assert_array_equal(back, spins)
    assert list(df.columns) == ["step", "source"] and (df["source"] == "T0").all()


def test_bad_inputs():
    with pytest.raises(ValueError, match="visible units"):
        rbm_flow(make_rbm(), random_spins(3, shape=(6, 6)))
    with pytest.raises(ValueError):
        rbm_flow(make_rbm(), random_spins(3), steps=[])
    with pytest.raises(ValueError, match="configs"):
        initial_configs("mc", 3, (L, L))
    with pytest.raises(ValueError):
        initial_configs("hot", 3, (L, L))


def test_stack_outputs_shapes():
    layers = [make_rbm(64, 16), make_rbm(16, 4)]
    v = random_spins(25, shape=(8, 8))
    out = stack_outputs(layers, v, include_input=True)
    assert [o.shape for o in out.values()] == [(25, 8, 8), (25, 4, 4), (25, 2, 2)]
    assert set(np.unique(out[2]).tolist()) <= {-1, 1} and out[2].dtype == np.int8
    mf = stack_outputs(layers, v, sample=False)
    assert mf[1].dtype == np.float32 and np.all(np.abs(mf[2]) <= 1)
    mean_h = layers[0].mean_h(torch.as_tensor(v.reshape(25, -1))).numpy()
    raw = stack_outputs(layers, v, sample=False, readout="raw")
    np.testing.assert_allclose(raw[1].reshape(25, -1), mean_h, atol=1e-6)
    # the default readout is the same numbers, each unit oriented and moved to its site
    ro = layer_readout(layers[0], (8, 8))
    np.testing.assert_allclose(mf[1].reshape(25, -1), (mean_h * ro.signs)[:, ro.order],
                               atol=1e-6)
    rec = stack_outputs(layers, v, readout="reconstruction", include_input=True)
    assert [o.shape for o in rec.values()] == [(25, 8, 8)] * 3
    assert set(np.unique(rec[2]).tolist()) <= {-1, 1}
    assert coarse_shape(32, (64,)) == (32,)
    with pytest.raises(ValueError):
        coarse_shape(8, (4, 4))


# ----------------------------------------------------------------------------- stages


def _cg(stage, inputs=None, outputs=None, **params):
    import json

    from coarsegrain.cli import main

    argv = [stage]
    for k, v in (inputs or {}).items():
        argv += ["--in", k, *[str(x) for x in (v if isinstance(v, list) else [v])]]
    for k, v in (outputs or {}).items():
        argv += ["--out", k, *[str(x) for x in (v if isinstance(v, list) else [v])]]
    argv += ["--params", json.dumps({"seed": 1, "device": "cpu", "code": "test", **params})]
    assert main(argv) == 0


def test_stages_end_to_end(tmp_path):
    from coarsegrain.io import read_lattices, read_table

    temps = [1.5, 2.2692, 3.5]
    spins, obs, ths = {}, {}, {}
    for L in (8, 4):
        spins[L] = [tmp_path / f"mc/L{L}/T{t}.parquet" for t in temps]
        _cg("ising2d.sample-ising2d", outputs={"spins": spins[L]}, L=L, temperatures=temps,
            n_samples=120, n_chains=12, n_therm=100, thin=2, sampler="metropolis")
        obs[L] = tmp_path / f"obs_L{L}.parquet"
        _cg("ising2d.observables-ising2d", {"spins": spins[L]}, {"table": obs[L]})
        ths[L] = tmp_path / f"th_L{L}.pt"
        _cg("flows.train-thermometer", {"spins": spins[L]},
            {"model": ths[L], "confusion": tmp_path / f"conf{L}.parquet",
             "calibration": tmp_path / f"cal{L}.parquet", "history": tmp_path / f"h{L}.parquet"},
            hidden=[32], max_epochs=5, patience=2)
    conf, meta = read_table(tmp_path / "conf8.parquet")
    assert len(conf) == 9 and 0 <= meta["accuracy"] <= 1
    mc_tc = spins[8][1]

    from coarsegrain.rbm import StackedRBM

    rbm1, stack = tmp_path / "rbm1.pt", tmp_path / "stack.pt"
    make_rbm(64, 16).save(rbm1)
    StackedRBM([make_rbm(64, 16), make_rbm(16, 4)]).save(stack)

    blocks = [tmp_path / "rg1.parquet", tmp_path / "rg2.parquet"]
    _cg("flows.block-spin", {"spins": mc_tc}, {"blocks": blocks}, rule="average", b=2)
    x, cols, m = read_lattices(blocks[1], with_columns=True)
    assert x.shape == (120, 2, 2) and m["rg_step"] == 2 and set(cols.columns) == {"chain", "step"}

    flow = tmp_path / "flow.parquet"
    _cg("flows.rbm-flow", {"rbm": rbm1, "spins": mc_tc}, {"flow": flow}, steps=[1, 2, 3],
        n_configs=40)
    f, fcols, _ = read_spins(flow, with_columns=True)
    assert f.shape == (3 * 4 * 40, 8, 8)
    assert sorted(fcols["source"].unique()) == ["T0", "Tinf", "mc"]

    out = {k: tmp_path / f"tf_{k}.parquet" for k in ("temperatures", "predictions", "observables")}
    _cg("flows.temperature-flow", {"flow": flow, "thermometer": ths[8], "observables": obs[8]}, out,
        n_boot=10)
    tf, _ = read_table(out["temperatures"])
    assert set(tf["method"]) == {"thermometer", "thermometer_argmax", "energy", "abs_magnetization"}
    assert len(tf) == 3 * 4 * 4 and tf["temperature"].notna().all()

    corr = {"deltas": tmp_path / "deltas.parquet", "correlators": tmp_path / "corr.parquet"}
    _cg("flows.correlators", {"flow": flow, "reference": mc_tc}, corr, sources=["mc"], steps=[2, 3],
        n_groups=4, n_boot=10)
    deltas, _ = read_table(corr["deltas"])
    assert len(deltas) == 2 * 3 and set(deltas["source"]) == {"monte_carlo", "mc"}

    maps = {"maps": tmp_path / "maps.parquet", "locality": tmp_path / "loc.parquet"}
    _cg("flows.io-maps", {"stack": stack, "spins": mc_tc}, maps)
    mp, mcols, _ = read_lattices(maps["maps"], with_columns=True)
    assert mp.shape == (2 * (16 + 4 + 16 + 4), 8, 8)
    assert set(mcols['map_type']) == {'correlation', 'response'}
    loc, _ = read_table(maps["locality"])
    assert set(loc["block"]) == {2, 4}

    layers = tmp_path / "layers.parquet"
    examples = tmp_path / "examples.parquet"
    _cg("flows.layer-temperatures", {"stack": rbm1, "spins": mc_tc,
                                    "thermometers": [ths[8], ths[4]], "observables": [obs[8], obs[4]]},
        {"table": layers, "examples": examples}, n_boot=10)
    lay, _ = read_table(layers)
    assert set(zip(lay["kind"], lay["layer"], strict=True)) == {("rbm", 0), ("rbm", 1), ("rg", 0),
                                                                ("rg", 1)}

    claims = tmp_path / "claims.parquet"
    _cg("flows.claims", {"temperatures": out["temperatures"], "deltas": corr["deltas"],
                        "locality": maps["locality"], "layers": layers}, {"claims": claims},
        model="ising2d", tail_steps=2)
    c, _ = read_table(claims)
    assert {"flows/ising2d/end_temperature/T0", "flows/ising2d/delta_sigma",
            "flows/ising2d/rg_maps_more_local_than_rbm",
            "flows/ising2d/stacked_rbm_colder_than_rg"} <= set(c["claim"])
    assert "verdict" not in c.columns  # stages measure; the registry judges
    # the linear receptive fields of RG blocks are exactly local, those of a random RBM are not
    # (true by construction, so it is a test of the code, not a claim)
    loc, _ = read_table(maps["locality"])
    resp = loc[(loc["layer"] == 1) & (loc["map_type"] == "response")]
    assert resp.loc[resp["kind"] == "rg", "block_fraction"].min() > 0.99
    assert resp.loc[resp["kind"] == "rbm", "block_fraction"].median() < 0.9

    figures = {
        "flow-examples": {"examples": examples, "flow": flow},
        "flow-calibration": {"confusion": tmp_path / "conf8.parquet",
                             "calibration": tmp_path / "cal8.parquet"},
        "flow-temperature": {"temperatures": out["temperatures"]},
        "flow-observables": {"observables": out["observables"], "reference": obs[8]},
        "flow-correlators": {"correlators": corr["correlators"], "deltas": corr["deltas"]},
        "flow-iomaps": {"maps": maps["maps"]},
        "flow-locality": {"locality": maps["locality"]},
        "flow-layer-temperatures": {"layers": layers},
    }
    extra = {"flow-temperature": {"tc": 2.2692}, "flow-observables": {"temperature": 2.2692, "L": 8},
             "flow-correlators": {"exact": {"spin": 0.125, "energy": 1.0}}}
    for name, inputs in figures.items():
        png = tmp_path / f"fig/{name}.png"
        _cg("flows.figure-" + name.removeprefix("flow-"), inputs, {"figure": png}, pdf=False, **extra.get(name, {}))
        assert png.stat().st_size > 5000, name


# ----------------------------------------------------------------------------- same-L Δ reference


@pytest.fixture(scope="module")
def mc8():
    from coarsegrain.lattice.ising2d import metropolis_sample

    temps = [2.0, 2.27, 2.6]
    ref, _, _ = metropolis_sample(8, temps, 800, n_chains=80, n_therm=500, thin=10, seed=1,
                                  device="cpu", progress=False)
    flow, _, _ = metropolis_sample(8, [2.27, 2.0], 800, n_chains=80, n_therm=500, thin=10,
                                   seed=2, device="cpu", progress=False)
    return dict(zip(temps, ref, strict=True)), dict(zip([2.27, 2.0], flow, strict=True))


def test_same_l_reference_reproduces_monte_carlo_delta(mc8):
    from coarsegrain.flow.estimators import compare_delta, delta_fit, mc_delta_reference

    mc, flows = mc8
    fit = dict(n_groups=10, n_boot=50, seed=0)
    for T in (2.27, 2.0):
        ref = mc_delta_reference(mc, T, 0.02, lattice_shape=(8, 8), **fit)
        assert ref["extrapolated"] == (T == 2.0) and ref["error_temperature"] > 0
        # an independent Monte Carlo set read as "flow output" agrees with its reference
        f = delta_fit(flows[T], **fit)
        cmp = compare_delta(f["delta"], f["delta_err"], ref)
        assert cmp["n_sigma"] < 3, (T, cmp)
    # at L = 8 the fitted Δ_σ is a thermometer: T = 2.0 data read as T = 2.27 is rejected
    wrong = compare_delta(*(lambda r: (r["delta"], r["delta_err"]))(delta_fit(flows[2.0], **fit)),
                          mc_delta_reference(mc, 2.27, 0.0, **fit))
    assert wrong["n_sigma"] > 5 and wrong["difference"] < 0
    tab = mc_delta_reference(mc, 2.27, **fit)["table"]
    assert tab["delta"].is_monotonic_increasing  # Δ_σ(T) grows through T_c at small L


def test_mc_delta_reference_interpolation_and_errors(mc8):
    from coarsegrain.flow.estimators import mc_delta_reference

    mc, _ = mc8
    fit = dict(n_groups=10, n_boot=0, seed=0)
    ref = mc_delta_reference(mc, 2.135, **fit)
    tab = ref["table"].set_index("temperature")
    assert ref["delta"] == pytest.approx(0.5 * (tab.delta[2.0] + tab.delta[2.27]), rel=1e-9)
    assert ref["error"] == pytest.approx(0.5 * np.hypot(tab.delta_err[2.0], tab.delta_err[2.27]))
    wide = mc_delta_reference(mc, 2.5, 0.3, **fit)
    assert wide["extrapolated"] and wide["error"] > wide["error_stat"]
    with pytest.raises(ValueError, match="lattice shape"):
        mc_delta_reference(mc, 2.27, lattice_shape=(10, 10), **fit)
    with pytest.raises(ValueError, match="temperature_error"):
        mc_delta_reference(mc, 2.27, -0.1, **fit)
