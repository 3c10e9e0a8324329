"""The Iso et al. protocol (workflow/rules/iso.smk, coarsegrain.stages.iso): the jobs the ci
preset plans carry the protocol's settings, a bad ``iso`` section is refused by key, and the
claims logic turns flow temperatures into the verdicts the registry defines."""

from __future__ import annotations

import copy
import json
import shlex
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from coarsegrain import io
from coarsegrain.claims import evaluate
from coarsegrain.cli import main
from coarsegrain.config import ConfigError, check_config
from coarsegrain.lattice.ising2d import T_CRITICAL


def _dry_run(repo_root, tmp_path, configfile="presets/ci.yaml"):
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-p", "--cores", "1", "--snakefile",
         str(repo_root / "Snakefile"), "--directory", str(repo_root), "--configfile", configfile,
         "--config", f"output_root={tmp_path}"],
        capture_output=True, text=True, timeout=300)
    return proc, proc.stdout + proc.stderr


def _commands(out: str, stage: str, marker: str) -> list[dict]:
    """Params of every planned shell command running ``stage`` whose text contains ``marker``."""
    found = []
    for line in out.splitlines():
        if f"-m coarsegrain {stage} " in line and marker in line:
            argv = shlex.split(line.strip())
            found.append(json.loads(argv[argv.index("--params") + 1]))
    return found


@pytest.fixture(scope="module")
def ci_plan(repo_root, tmp_path_factory):
    proc, out = _dry_run(repo_root, tmp_path_factory.mktemp("iso_dry"))
    assert proc.returncode == 0, out[-4000:]
    return out


def test_ci_plans_the_iso_rbms_with_the_protocol_settings(ci_plan, repo_root):
    ci = yaml.safe_load((repo_root / "presets/ci.yaml").read_text())
    seeds = ci["seeds"]
    rbms = _commands(ci_plan, "rbm.train", "/models/iso/")
    assert len(rbms) == 3 * seeds  # all, high_t, zero_t per training seed
    for p in rbms:
        assert p["units"] == "01" and p["bias"] is False
        assert p["method"] == "cd" and p["k"] == 1
        assert p["optimizer"] == "sgd" and p["lr"] == 0.01 and p["batch_size"] == 100
        assert p["n_hidden"] == 100
        assert p["monitor"]["ais"] is False
        assert set(p["monitor"]["metrics"]) == {"reconstruction", "free_energy"}
    # one independently seeded training per replicate
    assert len({p["seed"] for p in rbms}) == seeds
    assert ci["seed"] in {p["seed"] for p in rbms}


def test_ci_plans_iso_thermometer_flows_and_claims(ci_plan, repo_root):
    ci = yaml.safe_load((repo_root / "presets/ci.yaml").read_text())
    th = _commands(ci_plan, "flows.train-thermometer", "/models/iso/")
    assert len(th) == ci["seeds"]
    assert all(p["arch"] == "mlp" and p["activation"] == "tanh" for p in th)
    flows = _commands(ci_plan, "iso.flow-temperatures", "/models/iso/")
    assert len(flows) == ci["seeds"]
    assert all(p["starts"] == ["T0", "Tinf"] and p["models"] == ["all", "high_t", "zero_t"]
               for p in flows)
    sample = _commands(ci_plan, "ising2d.sample-ising2d", "/data/iso/")
    assert len(sample) == 1
    # T ~ 0 reaches the sampler as configured, not rounded to the file name's 0.0000
    assert min(sample[0]["temperatures"]) == pytest.approx(1e-6)
    assert "iso.claims" in ci_plan and "iso_flows_temperature.png" in ci_plan


def test_quick_reads_the_shared_grid_points_from_the_ising2d_files(repo_root, tmp_path):
    """Grid points the ising2d section samples at the same count come from its files; the
    sampler runs only for the others (quick: T ~ 0 and 4.25, 4.75, 5.25, 5.75)."""
    quick = yaml.safe_load((repo_root / "config.yaml").read_text())
    # the L = 10 files hold max(ising2d.n_samples, rbm.n_configs) configurations per T
    assert quick["iso"]["n_per_temperature"] == max(quick["ising2d"]["n_samples"],
                                                    quick["rbm"].get("n_configs", 5000))
    proc, out = _dry_run(repo_root, tmp_path, "config.yaml")
    assert proc.returncode == 0, out[-4000:]
    (sample,) = _commands(out, "ising2d.sample-ising2d", "/data/iso/")
    sampled = [round(t, 4) for t in sample["temperatures"]]
    assert sampled == [0.0, 4.25, 4.75, 5.25, 5.75]
    line = next(x for x in out.splitlines() if "-m coarsegrain rbm.train " in x
                and "rbm_all.pt" in x)
    assert line.count("/data/ising2d/L10/T") == 20 and line.count("/data/iso/") == 5


@pytest.fixture(scope="module")
def base(repo_root):
    return yaml.safe_load((repo_root / "config.yaml").read_text())


@pytest.mark.parametrize("mutate,words", [
    (lambda c: c["iso"]["rbm"].update(units="pm2"), ["iso.rbm.units", "pm2"]),
    (lambda c: c["iso"]["rbm"].update(bias="no"), ["iso.rbm.bias", "boolean"]),
    (lambda c: c["iso"]["rbm"]["n_updates"].update(al=10), ["iso.rbm.n_updates.al", "allowed"]),
    (lambda c: c["iso"].update(n_per_temperature=5), ["iso.n_per_temperature", ">= 10"]),
    (lambda c: c["iso"]["flow"].update(starts=["mc"]), ["iso.flow.starts[0]", "mc"]),
    (lambda c: c["iso"].update(temperatures=[0.5, -1.0, 3.0]), ["iso.temperatures[1]", "> 0"]),
    (lambda c: c["iso"].update(model="all"), ["iso.model", "allowed"]),
])
def test_bad_iso_section_names_the_key(base, repo_root, mutate, words):
    cfg = copy.deepcopy(base)
    mutate(cfg)
    with pytest.raises(ConfigError) as exc:
        check_config(cfg, repo_root / "workflow/schemas/config.schema.yaml", base_dir=repo_root)
    for w in words:
        assert w in str(exc.value), f"{w!r} not in {exc.value}"


def test_iso_grid_without_zero_temperature_stops_the_dry_run(repo_root, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("preset: ci\niso:\n  temperatures: [0.5, 2.0, 4.0, 5.0]\n")
    proc, out = _dry_run(repo_root, tmp_path / "out", str(bad))
    assert proc.returncode != 0
    assert "iso.temperatures" in out and "zero_t" in out
    assert "Job stats" not in out


# ----------------------------------------------------------------------------- claims logic


def _flow_table(ends: dict, steps: int = 6) -> pd.DataFrame:
    """Thermometer (and energy) temperatures of flows that start at 4.0 and settle at ``ends``
    (model -> end temperature), from both starts."""
    rows = []
    for model, t_end in ends.items():
        for source in ("T0", "Tinf"):
            for step in range(steps + 1):
                t = 4.0 if step < 2 else t_end
                for method, shift in (("thermometer", 0.0), ("energy", 1.0)):
                    rows.append({"step": step, "lattice_size": 10, "method": method,
                                 "temperature": t + shift, "error": 0.01, "spread": 0.2,
                                 "clipped": False, "n": 100, "source": source,
                                 "iso_model": model})
    return pd.DataFrame(rows)


def _response(resolution: float) -> pd.DataFrame:
    """Calibration response of a thermometer whose readings scatter by ``resolution``."""
    from coarsegrain.flow.thermometer import calibration_from_predictions

    grid = np.round(np.arange(0.25, 6.01, 0.25), 4)
    rng = np.random.default_rng(0)
    true = np.repeat(grid, 400)
    return calibration_from_predictions(true + rng.normal(0.0, resolution, true.size), true,
                                        grid)


def _claims(tmp_path, ends_per_seed, resolution=0.2):
    frames = []
    for rep, ends in enumerate(ends_per_seed):
        d = tmp_path / f"seed{rep}"
        d.mkdir(parents=True)
        io.write_table(_flow_table(ends), d / "t.parquet", {})
        io.write_table(_response(resolution), d / "r.parquet", {})
        argv = ["iso.claims", "--in", "temperatures", str(d / "t.parquet"), "--in", "response",
                str(d / "r.parquet"), "--out", "claims", str(d / "c.parquet"), "--params",
                json.dumps({"replicate": rep, "tail_steps": 3, "code": "test",
                            "n_updates": {"all": 1000, "high_t": 500, "zero_t": 500}})]
        assert main(argv) == 0
        frames.append(io.read_table(d / "c.parquet")[0])
    meas = pd.concat(frames, ignore_index=True)
    return meas, evaluate(meas).set_index("id")


def test_iso_claims_reproduced_when_all_flows_to_tc_and_controls_do_not(tmp_path):
    seeds = [{"all": T_CRITICAL + 0.05, "high_t": 4.5, "zero_t": 0.1},
             {"all": T_CRITICAL - 0.05, "high_t": 4.4, "zero_t": 0.12}]
    meas, c = _claims(tmp_path, seeds)
    ids = {f"iso/{m}/end_temperature/{s}" for m in ("all", "high_t", "zero_t")
           for s in ("T0", "Tinf")}
    assert set(c.index) == ids
    assert set(meas["seed"]) == {0, 1}
    assert (c["verdict"] == "reproduced").all(), c["verdict"]
    assert (c["n_seeds"] == 2).all()
    assert (c["protocol"] == "Iso et al. (src: Veiga & Vicente's reproduction)").all()
    row = meas[meas["claim"] == "iso/all/end_temperature/T0"].iloc[0]
    # the thermometer's end temperature (not the energy estimator's), its resolution as tolerance
    assert row["value"] == pytest.approx(T_CRITICAL + 0.05)
    assert row["tolerance"] == pytest.approx(0.2, rel=0.25)
    assert "1000 CD updates" in row["detail"]


def test_iso_claims_not_reproduced_when_the_flows_say_otherwise(tmp_path):
    # the all-T flow stays hot, the controls go to T_c: every claim must fail
    seeds = [{"all": 4.0, "high_t": T_CRITICAL, "zero_t": T_CRITICAL + 0.05},
             {"all": 4.1, "high_t": T_CRITICAL + 0.02, "zero_t": T_CRITICAL - 0.03}]
    _, c = _claims(tmp_path, seeds)
    assert (c["verdict"] == "not reproduced").all(), c["verdict"]


def test_a_coarse_thermometer_widens_the_tolerance(tmp_path):
    def ends(dt):
        return [{"all": T_CRITICAL + dt, "high_t": 4.5, "zero_t": 0.1}] * 2

    claim = "iso/all/end_temperature/T0"
    # 0.45 from T_c: outside the stated ±0.3, inside a thermometer resolution of 0.5
    _, sharp = _claims(tmp_path / "sharp", ends(0.45), resolution=0.1)
    _, medium = _claims(tmp_path / "medium", ends(0.45), resolution=0.5)
    assert sharp.loc[claim, "verdict"] == "not reproduced"
    assert medium.loc[claim, "verdict"] == "reproduced"
    # a thermometer resolving only ±1.0 is too blunt for agreement to count (max_tol 0.5) ...
    _, coarse = _claims(tmp_path / "coarse", ends(0.6), resolution=1.0)
    assert coarse.loc[claim, "verdict"] == "inconclusive"
    # ... but a flow that misses T_c by more than even that allowance is not reproduced
    _, far = _claims(tmp_path / "far", ends(2.0), resolution=1.0)
    assert far.loc[claim, "verdict"] == "not reproduced"
