"""Long-range chain samples on a temperature grid (lattice.sample-longrange)."""

import json

import numpy as np
import pandas as pd
import pytest

from coarsegrain import io
from coarsegrain.cli import main
from coarsegrain.stages.flows import grid_temperatures


def test_grid_temperatures():
    np.testing.assert_allclose(grid_temperatures([0.5, 1.0, 2.0], "relative", 2.0), [1.0, 2.0, 4.0])
    np.testing.assert_allclose(grid_temperatures([1.5, 3.0], "absolute"), [1.5, 3.0])
    with pytest.raises(ValueError, match="T_c"):
        grid_temperatures([1.0], "relative", float("nan"))
    with pytest.raises(ValueError, match="grid"):
        grid_temperatures([1.0], "kelvin", 1.0)
    with pytest.raises(ValueError, match="> 0"):
        grid_temperatures([0.0, 1.0], "absolute")


def _run(tmp_path, points, grid="relative", tc=True, n_out=None):
    tc_path = tmp_path / "tc.parquet"
    io.write_table(pd.DataFrame({"sigma": [0.5, 0.75], "tc_estimate": [9.0, 2.0],
                                 "tc_error": [0.1, 0.05]}), tc_path, {})
    outs = [str(tmp_path / f"x{i}.parquet") for i in range(n_out or len(points))]
    argv = ["flows.sample-longrange", "--out", "spins", *outs,
            "--out", "table", str(tmp_path / "obs.parquet"),
            "--params", json.dumps({"sigma": 0.75, "N": 16, "grid": grid, "points": points,
                                    "n_samples": 40, "seed": 3, "code": "test"})]
    if tc:
        argv[1:1] = ["--in", "tc", str(tc_path)]
    return main(argv), outs


def test_sample_longrange_relative_grid(tmp_path):
    rc, outs = _run(tmp_path, [0.5, 1.0, 3.0])
    assert rc == 0
    mags = []
    for x, out in zip([0.5, 1.0, 3.0], outs, strict=True):
        spins, cols, meta = io.read_spins(out, with_columns=True)
        assert spins.shape == (40, 16) and set(np.unique(spins)) <= {-1, 1}
        assert meta["temperature"] == pytest.approx(2.0 * x)  # the sigma=0.75 row of the T_c table
        assert meta["temperature_ratio"] == pytest.approx(x) and meta["tc"] == 2.0
        assert meta["model"] == "longrange" and meta["sigma"] == 0.75 and meta["size"] == [16]
        assert "tau_int" in meta and "chain" in cols
        mags.append(np.abs(spins.mean(axis=1)).mean())
    assert mags[0] > mags[2]  # ordered well below T_c, disordered well above
    obs, _ = io.read_table(tmp_path / "obs.parquet")
    assert sorted(obs["temperature_ratio"].unique()) == pytest.approx([0.5, 1.0, 3.0])
    assert set(obs["observable"]) >= {"energy", "abs_magnetization", "binder"}
    assert (obs["L"] == 16).all()


def test_sample_longrange_errors(tmp_path):
    with pytest.raises(ValueError, match="T_c"):
        _run(tmp_path, [0.5, 1.0], tc=False)
    with pytest.raises(ValueError, match="spin outputs"):
        _run(tmp_path, [0.5, 1.0], n_out=3)
    rc, outs = _run(tmp_path, [1.5, 2.5], grid="absolute", tc=False)
    assert rc == 0 and io.read_meta(outs[1])["temperature"] == 2.5
