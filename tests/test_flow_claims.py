"""flow.claims with several flowed RBMs, and the temperature-direction claims."""

import json

import pandas as pd
import pytest

from coarsegrain import io
from coarsegrain.cli import main
from coarsegrain.flow.stages import _direction_claim


def test_direction_claim_verdicts():
    assert _direction_claim("a", -1.0, 0.1, -1)["verdict"] == "agrees"
    assert _direction_claim("a", 1.0, 0.1, -1)["verdict"] == "disagrees"
    assert _direction_claim("a", 0.2, 0.1, -1)["verdict"] == "inconclusive"
    assert _direction_claim("a", 1.0, 0.1, 1)["verdict"] == "agrees"
    assert _direction_claim("a", -1.0, 0.1, 1)["verdict"] == "disagrees"
    assert _direction_claim("a", float("nan"), 0.1, 1)["verdict"] == "inconclusive"


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


def run_claims(tmp_path, names, flows=None, **params):
    inputs = {"temperatures": [], "deltas": []}
    for i, (t_end, d_end) in enumerate(names.values()):
        for kind, df in (("temperatures", _temps(t_end)), ("deltas", _deltas(d_end))):
            p = tmp_path / f"{kind}{i}.parquet"
            io.write_table(df, p, {})
            inputs[kind].append(str(p))
    io.write_table(_layers(1.5, 3.5), tmp_path / "layers.parquet", {})
    out = tmp_path / "claims.parquet"
    argv = ["flow.claims", "--in", "tc", "--in", "layers", str(tmp_path / "layers.parquet")]
    for kind, paths in inputs.items():
        argv += ["--in", kind, *paths]
    argv += ["--out", "claims", str(out), "--params",
             json.dumps({"model": "ising2d", "tail_steps": 2, "code": "test",
                         **({"flows": flows} if flows is not None else {}), **params})]
    assert main(argv) == 0
    return io.read_table(out)[0].set_index("name")


def test_claims_per_flowed_rbm(tmp_path):
    c = run_claims(tmp_path, {"nh81_tc": (2.27, 0.126), "nh100_grid": (3.5, 0.3)},
                   flows=["nh81_tc", "nh100_grid"])
    assert c.index.is_unique
    assert c.loc["ising2d_nh81_tc_rbm_flow_temperature_from_mc", "verdict"] == "agrees"
    assert c.loc["ising2d_nh100_grid_rbm_flow_temperature_from_mc", "verdict"] == "disagrees"
    assert c.loc["ising2d_nh81_tc_flow_delta_sigma", "verdict"] == "agrees"
    assert c.loc["ising2d_nh100_grid_flow_delta_sigma", "verdict"] == "disagrees"
    assert "ising2d_mc_delta_sigma" in c.index  # once, not per RBM
    assert c.loc["ising2d_stacked_rbm_colder_than_rg", "verdict"] == "agrees"
    assert c.loc["ising2d_stacked_rbm_flows_to_low_t", "verdict"] == "agrees"
    assert c.loc["ising2d_rg_flows_to_high_t", "verdict"] == "agrees"
    # no tc path given: Onsager's T_c is the reference
    assert c.loc["ising2d_nh81_tc_rbm_flow_temperature_from_mc", "reference"] == pytest.approx(2.269185, abs=1e-5)


def test_claims_need_names_for_several_flows(tmp_path):
    with pytest.raises(ValueError, match="flows"):
        run_claims(tmp_path, {"a": (2.27, 0.126), "b": (2.27, 0.126)})
