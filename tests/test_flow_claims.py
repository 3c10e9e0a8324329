"""flows.claims: measurements for several flowed RBMs, judged by the claims registry."""

import json

import pandas as pd
import pytest

from coarsegrain import io
from coarsegrain.claims import evaluate
from coarsegrain.cli import main


def _temps(t_end):
    return pd.DataFrame({"source": "mc", "step": [1, 2, 3], "method": "thermometer",
                         "temperature": [3.0, t_end, t_end], "error": 0.01})


def _deltas(d_end):
    return pd.DataFrame({"source": ["monte_carlo", "mc", "mc", "mc"], "step": [0, 1, 2, 3],
                         "operator": "spin", "delta": [0.13, 0.2, d_end, d_end],
                         "delta_err": 0.005})


def _layers(t_rbm, t_rg):
    return pd.DataFrame({"kind": ["rbm", "rbm", "rg", "rg"], "layer": [0, 1, 0, 1],
                         "method": "thermometer", "temperature": [2.3, t_rbm, 2.3, t_rg],
                         "error": 0.01})


def run_claims(tmp_path, names, flows=None, seeds=(0,), **params):
    """Measurements of flows.claims for every seed in ``seeds``, evaluated by the registry."""
    frames = [_run_one(tmp_path / f"s{s}", names, flows, replicate=s, **params) for s in seeds]
    meas = pd.concat(frames, ignore_index=True)
    return meas, evaluate(meas).set_index("id")


def _run_one(tmp_path, names, flows=None, extra_inputs=None, **params):
    tmp_path.mkdir(parents=True, exist_ok=True)
    inputs = {"temperatures": [], "deltas": []}
    for i, (t_end, d_end) in enumerate(names.values()):
        for kind, df in (("temperatures", _temps(t_end)), ("deltas", _deltas(d_end))):
            p = tmp_path / f"{kind}{i}.parquet"
            io.write_table(df, p, {})
            inputs[kind].append(str(p))
    io.write_table(_layers(1.5, 3.5), tmp_path / "layers.parquet", {})
    out = tmp_path / "claims.parquet"
    argv = ["flows.claims", "--in", "tc", "--in", "layers", str(tmp_path / "layers.parquet")]
    for kind, paths in {**inputs, **(extra_inputs or {})}.items():
        argv += ["--in", kind, *paths]
    argv += ["--out", "claims", str(out), "--params",
             json.dumps({"model": "ising2d", "tail_steps": 2, "code": "test",
                         **({"flows": flows} if flows is not None else {}), **params})]
    assert main(argv) == 0
    return io.read_table(out)[0]


def test_claims_per_flowed_rbm(tmp_path):
    meas, c = run_claims(tmp_path, {"nh81_tc": (2.27, 0.126), "nh100_grid": (3.5, 0.3)},
                         flows=["nh81_tc", "nh100_grid"], seeds=(0, 1, 2))
    assert set(meas["seed"]) == {-1, 0, 1, 2}  # -1: the Monte Carlo reference, no training
    T = "flows/ising2d/{}/end_temperature/mc"
    # identical seeds: zero between-seed spread, so the verdicts are decided by the values
    assert c.loc[T.format("nh81_tc"), "verdict"] == "reproduced"
    assert c.loc[T.format("nh81_tc"), "seeds_reproducing"] == 3
    assert c.loc[T.format("nh100_grid"), "verdict"] == "not reproduced"
    assert c.loc["flows/ising2d/nh81_tc/delta_sigma", "verdict"] == "reproduced"
    assert c.loc["flows/ising2d/nh100_grid/delta_sigma", "verdict"] == "not reproduced"
    assert c.loc["flows/ising2d/mc_delta_sigma", "kind"] == "check"  # measured once, not per RBM
    assert c.loc["flows/ising2d/mc_delta_sigma", "n_seeds"] == 0
    assert c.loc["flows/ising2d/stacked_rbm_colder_than_rg", "verdict"] == "reproduced"
    assert c.loc["flows/ising2d/stacked_rbm_flows_to_low_t/placed", "verdict"] == "reproduced"
    # P2's "RG flows to high T" is the chain's statement: not measured in 2D
    assert "flows/ising2d/rg_flows_to_high_t" not in c.index
    # no tc path given: Onsager's T_c is the reference
    assert c.loc[T.format("nh81_tc"), "reference"] == pytest.approx(2.269185, abs=1e-5)


def test_single_seed_learned_claims_are_inconclusive(tmp_path):
    _, c = run_claims(tmp_path, {"nh81_tc": (2.27, 0.126)}, flows=["nh81_tc"], seeds=(0,))
    row = c.loc["flows/ising2d/nh81_tc/end_temperature/mc"]
    assert row["verdict"] == "inconclusive" and "2 training seeds" in row["flags"]
    assert c.loc["flows/ising2d/mc_delta_sigma", "verdict"] == "pass"  # no training involved


def test_claims_need_names_for_several_flows(tmp_path):
    with pytest.raises(ValueError, match="flows"):
        run_claims(tmp_path, {"a": (2.27, 0.126), "b": (2.27, 0.126)})


def _response(resolution):
    """A calibration table with unit slope and the given reading spread at every T."""
    T = [1.5, 2.0, 2.5, 3.0]
    return pd.DataFrame({"true_temperature": T, "n": 100, "mean": T, "bias": 0.0,
                         "bias_err": 0.01, "resolution": resolution, "slope": 1.0,
                         "frac_low_end": 0.0, "frac_high_end": 0.0, "saturated": False,
                         "saturation": 0.0})


def test_each_flow_is_judged_with_its_own_lattice_thermometer(tmp_path):
    # one response table per flowed RBM (an L = 10 model and a stack layer at L = 16)
    paths = []
    for name, res in (("nh81_tc", 0.4), ("stack_L16", 0.12)):
        p = tmp_path / f"response_{name}.parquet"
        io.write_table(_response(res), p, {})
        paths.append(str(p))
    names = {"nh81_tc": (2.6, 0.126), "stack_L16": (2.6, 0.126)}
    meas = _run_one(tmp_path / "a", names, flows=list(names), replicate=0,
                    extra_inputs={"response": paths})
    end = meas[meas["claim"].str.contains("end_temperature")].set_index("claim")
    assert end.loc["flows/ising2d/nh81_tc/end_temperature/mc", "tolerance"] == pytest.approx(0.4)
    assert end.loc["flows/ising2d/stack_L16/end_temperature/mc", "tolerance"] == pytest.approx(
        0.12)
    # one response for every flow (older workflows): the same tolerance for all
    one = _run_one(tmp_path / "b", names, flows=list(names), replicate=0,
                   extra_inputs={"response": paths[:1]})
    tols = one[one["claim"].str.contains("end_temperature")]["tolerance"]
    assert len(tols) == 2 and tols.tolist() == pytest.approx([0.4, 0.4])


def test_2d_stack_is_compared_with_majority_rule_rg_when_rg_averages(tmp_path):
    # placed RG rows are 2x2 block averages (out of the thermometer's distribution) and read
    # hot; the majority-rule rows are spins and read cold: the claim must use the latter
    layers = pd.DataFrame({
        "kind": ["rbm", "rbm", "rg", "rg", "rg", "rg"], "layer": [0, 1, 0, 1, 0, 1],
        "readout": ["placed", "placed", "placed", "placed", "majority", "majority"],
        "method": "thermometer", "temperature": [2.3, 2.0, 2.3, 3.5, 2.3, 1.7],
        "error": 0.01})
    io.write_table(layers, tmp_path / "layers.parquet", {})
    out = tmp_path / "claims.parquet"
    argv = ["flows.claims", "--in", "tc", "--in", "layers", str(tmp_path / "layers.parquet"),
            "--out", "claims", str(out), "--params",
            json.dumps({"model": "ising2d", "code": "test", "replicate": 0})]
    assert main(argv) == 0
    meas = io.read_table(out)[0].set_index("claim")
    row = meas.loc["flows/ising2d/stacked_rbm_colder_than_rg"]
    assert row["value"] == pytest.approx(2.0 - 1.7) and "majority-rule RG" in row["detail"]
