"""Opt-in: the ci preset submitted through SLURM equals a local run of it.

Runs only with ``COARSEGRAIN_SLURM_TEST=1`` and a SLURM cluster this machine can submit to, in
practice the single-node cluster of ``tests/slurm/setup_local_slurm.sh`` (``make test-slurm``
starts it and runs this test). The workflow is copied twice; one copy runs with
``--workflow-profile workflow/profiles/slurm`` (every job an ``sbatch``), the other locally with
``--cores 2``. Every Parquet output under ``results/ci`` must be readable and equal, byte for byte,
except the run timings under ``results/ci/benchmarks/`` (same shape only).

On a real cluster, point ``COARSEGRAIN_SLURM_WORKDIR`` at a directory the compute nodes see and
set ``COARSEGRAIN_SLURM_PARTITION`` / ``COARSEGRAIN_SLURM_ACCOUNT`` if needed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from coarsegrain import io

ENABLED = os.environ.get("COARSEGRAIN_SLURM_TEST") == "1"
pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        not ENABLED,
        reason="SLURM integration test is opt-in: run `make test-slurm` (starts a local single-node "
               "cluster) or set COARSEGRAIN_SLURM_TEST=1 with a running cluster",
    ),
]

COPY = ["Snakefile", "config.yaml", "presets", "workflow", "src", "envs"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info", ".snakemake")
TIMEOUT = 1200  # per snakemake run; the ci preset took 4-7 min either way on 2 cores
# Run timings (as in tests/test_workflow.py): measurements, equal only in shape across runs.
TIMINGS = "results/ci/benchmarks"


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def _copy_workflow(repo_root: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in COPY:
        src = repo_root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORE)
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def _cluster_ready() -> str | None:
    """None if some SLURM node can take jobs, else why not."""
    if not shutil.which("sinfo") or not shutil.which("sbatch"):
        return "sinfo/sbatch not found"
    proc = _run(["sinfo", "-h", "-o", "%T"], timeout=30)
    if proc.returncode != 0:
        return f"sinfo failed: {proc.stderr.strip()}"
    states = {s.rstrip("*~#") for s in proc.stdout.split()}
    if not states & {"idle", "mixed", "allocated", "completing"}:
        return f"no usable node (states: {sorted(states) or 'none'})"
    return None


def _accounting() -> str:
    proc = _run(["scontrol", "show", "config"], timeout=30)
    m = re.search(r"^AccountingStorageType\s*=\s*(\S+)", proc.stdout, re.M)
    return m.group(1) if m else "unknown"


def _snakemake(workdir: Path, *args: str) -> tuple[str, float]:
    cmd = [sys.executable, "-m", "snakemake", "--configfile", "presets/ci.yaml", *args]
    t0 = time.monotonic()
    proc = _run(cmd, cwd=workdir, timeout=TIMEOUT)
    seconds = time.monotonic() - t0
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed in {workdir}:\n{out[-8000:]}")
    return out, seconds


@pytest.fixture(scope="module")
def runs(repo_root, tmp_path_factory):
    reason = _cluster_ready()
    if reason:
        pytest.fail(f"COARSEGRAIN_SLURM_TEST=1 but no SLURM cluster answers ({reason}); "
                    "start one with tests/slurm/setup_local_slurm.sh")
    shared = os.environ.get("COARSEGRAIN_SLURM_WORKDIR")
    base = Path(tempfile.mkdtemp(prefix="cg-slurm-", dir=shared)) if shared else tmp_path_factory.mktemp("slurm")

    # The second copy is made from the first, before either runs: both must hold the same code
    # (rules fingerprint it) even while the checkout is being edited.
    local = _copy_workflow(repo_root, base / "local")
    cluster = Path(shutil.copytree(local, base / "slurm"))
    _, t_local = _snakemake(local, "--cores", "2")

    profile = cluster / "workflow/profiles/slurm/config.yaml"
    settings = yaml.safe_load(profile.read_text())
    for var, key in (("COARSEGRAIN_SLURM_PARTITION", "slurm_partition"),
                     ("COARSEGRAIN_SLURM_ACCOUNT", "slurm_account")):
        if os.environ.get(var):
            settings["default-resources"][key] = os.environ[var]
    profile.write_text(yaml.safe_dump(settings, sort_keys=False))
    accounting = _accounting()
    args = ["--workflow-profile", "workflow/profiles/slurm",
            # the ci jobs take seconds: poll early instead of the plugin's default 40 s
            "--slurm-init-seconds-before-status-checks", "2",
            "--slurm-keep-successful-logs"]
    if accounting == "accounting_storage/none":
        # without slurmdbd sacct cannot answer; squeue knows finished jobs for MinJobAge
        args += ["--slurm-status-command", "squeue"]
    log, t_slurm = _snakemake(cluster, *args)
    print(f"SLURM run (accounting {accounting}): {t_slurm:.0f} s; local run: {t_local:.0f} s")
    return {"local": local, "slurm": cluster, "log": log, "t_local": t_local, "t_slurm": t_slurm,
            "accounting": accounting}


def test_every_job_went_through_sbatch(runs, record_property):
    log = runs["log"]
    slurm_ids = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    remote_jobs = re.findall(r"^rule \w+:$", log, re.M)  # local rules print "localrule"
    assert slurm_ids and len(slurm_ids) == len(remote_jobs), (len(slurm_ids), len(remote_jobs))
    if runs["accounting"] == "accounting_storage/none":
        cmd = ["squeue", "--states=all", "--noheader", "--format=%i|%k|%T|%M|%m", "--jobs", ",".join(slurm_ids)]
    else:  # the comment names the rule (and wildcards) of each job
        cmd = ["sacct", "-X", "--parsable2", "--noheader", "--format=JobID,Comment,State,Elapsed,ReqMem,Timelimit",
               "--jobs", ",".join(slurm_ids)]
    proc = _run(cmd, timeout=60)
    assert proc.returncode == 0, proc.stderr
    print(proc.stdout)
    states = {line.split("|")[0]: line.split("|")[2] for line in proc.stdout.splitlines() if line}
    assert set(states) == set(slurm_ids), (sorted(states), sorted(slurm_ids))
    assert set(states.values()) == {"COMPLETED"}, states
    # each job's SLURM output was kept under .snakemake/slurm_logs/rule_<name>/...
    assert len(list((runs["slurm"] / ".snakemake/slurm_logs").rglob("*.log"))) == len(slurm_ids)
    record_property("slurm_jobs", len(slurm_ids))
    record_property("slurm_run_seconds", round(runs["t_slurm"]))
    record_property("local_run_seconds", round(runs["t_local"]))


def _parquet_files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in (root / "results/ci").rglob("*.parquet"))


def _compare(a: Path, b: Path, rel: Path) -> None:
    """Raise AssertionError unless ``a`` and ``b`` are readable and hold equal data and metadata."""
    encoding = io.read_meta(a).get("encoding")
    if rel.is_relative_to(TIMINGS):
        (ta, ma), (tb, mb) = io.read_table(a), io.read_table(b)
        assert list(ta.columns) == list(tb.columns) and len(ta) == len(tb) and ma == mb, "shape or metadata"
        return
    if encoding == "bitpacked":
        (sa, ca, ma), (sb, cb, mb) = io.read_spins(a, with_columns=True), io.read_spins(b, with_columns=True)
        np.testing.assert_array_equal(sa, sb)
        pd.testing.assert_frame_equal(ca, cb)
    elif encoding == "raw":
        (va, ca, ma), (vb, cb, mb) = io.read_lattices(a, with_columns=True), io.read_lattices(b, with_columns=True)
        np.testing.assert_array_equal(va, vb)
        pd.testing.assert_frame_equal(ca, cb)
    else:
        (ta, ma), (tb, mb) = io.read_table(a), io.read_table(b)
        pd.testing.assert_frame_equal(ta, tb)
    assert ma == mb, "provenance metadata differs"
    assert a.read_bytes() == b.read_bytes(), "equal content but not byte-identical"


def test_parquet_outputs_equal_a_local_run(runs):
    local, cluster = runs["local"], runs["slurm"]
    files = _parquet_files(local)
    assert files and files == _parquet_files(cluster)
    differ = {}
    for rel in files:
        try:
            _compare(local / rel, cluster / rel, rel)
        except AssertionError as exc:
            differ[str(rel)] = str(exc).strip().splitlines()[0][:300]
    assert not differ, f"{len(differ)} of {len(files)} Parquet outputs differ from the local run:\n" + "\n".join(
        f"  {rel}: {why}" for rel, why in differ.items())
