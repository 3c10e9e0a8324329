"""End-to-end: the whole workflow on presets/ci.yaml, then rerun behaviour from dry-run reasons.

The workflow runs in a copy of the repository so that the tests can edit library code there
(the rules fingerprint the copy's ``src/``) without touching the checkout.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from coarsegrain import io

pytestmark = pytest.mark.workflow

COPY = ["Snakefile", "config.yaml", "presets", "workflow", "src", "envs"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info", ".snakemake")


def snakemake(workdir: Path, *args: str, targets: tuple[str, ...] = (), check: bool = True,
              timeout: int = 1500):
    # Targets go before --configfile, which takes one or more values and would swallow them.
    cmd = [sys.executable, "-m", "snakemake", *targets, "--cores", "2", "--configfile",
           "presets/ci.yaml", *args]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Rule -> job count that a dry run would execute (empty if nothing to do)."""
    proc = snakemake(workdir, "-n", *args)
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}
    m = re.search(r"Job stats:\n(.*?)\ntotal\s+\d+", out, re.S)
    assert m, out[-3000:]
    jobs = {}
    for line in m.group(1).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            jobs[parts[0]] = int(parts[1])
    jobs.pop("all", None)
    return jobs


def presentation_only(jobs: dict[str, int]) -> bool:
    """Only figures and report pages (which render the config and tables) would run."""
    return bool(jobs) and all(r.startswith(("figure_", "report_")) for r in jobs)


def reasons(workdir: Path, *args: str) -> str:
    proc = snakemake(workdir, "-n", *args)
    return proc.stdout + proc.stderr


def planned_jobs_after_edit(workdir: Path, source: str) -> dict[str, int]:
    """The jobs a dry run plans while ``source`` (a path below ``workdir``) carries a trailing
    comment; the file is restored afterwards, whatever happens.

    Parameters
    ----------
    workdir : the workflow copy
    source : the file to edit, relative to ``workdir``

    Returns
    -------
    rule -> job count, as :func:`planned_jobs`
    """
    target = workdir / source
    original = target.read_text()
    try:
        # A comment changes the file's fingerprint without changing what the code does.
        target.write_text(original + "\n# an edit\n")
        return planned_jobs(workdir)
    finally:
        target.write_text(original)


# The finished ci run `run` is a session fixture in conftest.py (the report test shares it).


def test_all_outputs_exist(run):
    res = run / "results" / "ci"
    assert (res / "claims.parquet").exists()
    figures = sorted(p.name for p in (res / "figures").glob("*.png"))
    assert {"ising2d_thermodynamics.png", "ising2d_binder.png"} <= set(figures)
    assert all((res / "figures" / f).stat().st_size > 10_000 for f in figures)
    logs = list((res / "logs").glob("*.log"))
    assert logs and all(p.stat().st_size > 0 for p in logs)


def test_spin_files_and_provenance(run):
    files = sorted((run / "results/ci/data/ising2d").rglob("T*.parquet"))
    # ising2d.sizes of presets/ci.yaml, plus the sizes the RBM and RG-comparison stages need
    sizes = {int(p.name[1:]) for p in (run / "results/ci/data/ising2d").glob("L*")}
    assert {8, 12} <= sizes
    assert len(files) == len(sizes) * 5  # sizes x temperatures of presets/ci.yaml
    spins, meta = io.read_spins(files[0])
    assert spins.dtype.name == "int8" and set(pd.unique(spins.ravel())) <= {-1, 1}
    for key in ("model", "size", "temperature", "seed", "sampler", "tau_int", "code", "version"):
        assert key in meta, key
    assert meta["seed"] == 7


def test_claims_table(run):
    from coarsegrain.claims import REGISTRY
    from coarsegrain.claims.evaluate import COLUMNS, declared_not_measured

    claims, meta = io.read_table(run / "results/ci/claims.parquet")
    assert list(claims.columns) == COLUMNS
    assert claims["id"].is_unique
    checks, thesis = claims[claims["kind"] == "check"], claims[claims["kind"] == "thesis"]
    assert set(checks["verdict"]) <= {"pass", "fail"}
    assert set(thesis["verdict"]) <= {"reproduced", "not reproduced", "inconclusive"}
    assert "ising2d/tc_binder" in set(claims["id"])
    # every row comes from the registry, and the registry declares nothing the run does not measure
    assert declared_not_measured(claims["id"]) == []
    assert len({s.id for s in REGISTRY}) == len(REGISTRY)
    # claims on trained models are aggregated over the preset's training seeds
    learned = claims[claims["id"].str.startswith("flows/ising2d/nh")]
    assert len(learned) and (learned["n_seeds"] == 2).all()
    md = (run / "results/ci/claims.md").read_text()
    assert "Thesis claims" in md and "`ising2d/tc_binder`" in md
    assert len(pd.read_csv(run / "results/ci/claims.csv")) == len(claims)


def test_nothing_to_do_after_a_run(run):
    assert planned_jobs(run) == {}


@contextlib.contextmanager
def preset_changed(workdir: Path, change: dict):
    """presets/ci.yaml of ``workdir`` with ``change`` merged in, restored afterwards (an edited
    preset keeps its folder, results/ci/; an override file would get a folder of its own)."""
    from coarsegrain.config import deep_merge

    preset = workdir / "presets/ci.yaml"
    original = preset.read_text()
    try:
        preset.write_text(yaml.safe_dump(deep_merge(yaml.safe_load(original), change)))
        yield
    finally:
        preset.write_text(original)


def test_figure_param_change_reruns_only_figures(run):
    with preset_changed(run, {"figures": {"pdf": True}}):
        jobs = planned_jobs(run)
        why = reasons(run)
    assert presentation_only(jobs), jobs
    assert "figure_ising2d_thermodynamics" in jobs
    assert "Params have changed" in why


def test_sampler_param_change_reruns_sampling_and_downstream(run):
    with preset_changed(run, {"ising2d": {"window": 0.45}}):
        jobs = planned_jobs(run)
    for rule in ("ising2d_sample", "ising2d_observables", "ising2d_critical",
                 "figure_ising2d_thermodynamics", "claims"):
        assert rule in jobs, (rule, jobs)
    assert jobs["ising2d_sample"] == len(list((run / "results/ci/data/ising2d").glob("L*")))
    assert "ising2d_exact" not in jobs


def test_plotting_code_edit_reruns_only_figures(run):
    jobs = planned_jobs_after_edit(run, "src/coarsegrain/plots/thermo.py")
    assert presentation_only(jobs) and "figure_ising2d_binder" in jobs, jobs
    assert planned_jobs(run) == {}


def test_lattice_code_edit_reruns_sampling(run):
    jobs = planned_jobs_after_edit(run, "src/coarsegrain/lattice/ising2d.py")
    assert "ising2d_sample" in jobs and "ising2d_exact" in jobs and "claims" in jobs


def _copy_workflow(repo_root: Path, dest: Path) -> Path:
    for name in COPY:
        src = repo_root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORE)
        else:
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def killed_and_resumed(run, tmp_path_factory, repo_root):
    """A second run of the same config, SIGKILLed (snakemake and its jobs) mid-way, then
    resumed with --rerun-incomplete.

    It builds a subset of the targets (:data:`RESUME_TARGETS`: sampling, exact and Monte Carlo
    analyses, a seed-1 RBM with its stack, thermometers, flows and claims, the Iso protocol of
    seed 1, and P3 on MNIST) to keep ``make test`` within its budget; every Parquet file it
    writes is compared with the full run's."""
    import os
    import signal
    import time

    work = _copy_workflow(repo_root, tmp_path_factory.mktemp("wf_killed"))
    cmd = [sys.executable, "-m", "snakemake", *RESUME_TARGETS, "--cores", "2", "--configfile",
           "presets/ci.yaml"]
    log = open(work / "interrupted_run.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    data = work / "results/ci/data"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if data.exists() and any(data.rglob("*.parquet")):
            break
        time.sleep(0.1)
    if proc.poll() is not None:
        log.close()
        raise AssertionError("the run ended before it could be interrupted:\n"
                             + (work / "interrupted_run.log").read_text()[-5000:])
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    log.close()
    assert not (work / "results/ci/claims.parquet").exists()
    snakemake(work, "--unlock")
    snakemake(work, "--rerun-incomplete", targets=tuple(RESUME_TARGETS))
    return work


RESUME_TARGETS = [f"results/ci/analysis/claims/{name}.parquet" for name in (
    "ising2d", "mc_ising2d_L16_correlators", "flows_ising2d_seed1", "iso_seed1", "p3_mnist")]


def _parquet_files(root: Path) -> list[Path]:
    """Every Parquet output except run timings (results/ci/benchmarks/), which differ by nature."""
    res = root / "results/ci"
    return sorted(p.relative_to(root) for p in res.rglob("*.parquet")
                  if not p.is_relative_to(res / "benchmarks"))


def test_killed_run_resumes_to_readable_equal_outputs(run, killed_and_resumed):
    files = _parquet_files(killed_and_resumed)
    assert len(files) > 30 and set(files) <= set(_parquet_files(run))
    for target in RESUME_TARGETS:
        assert (killed_and_resumed / target).exists(), target
    for rel in files:
        a, b = run / rel, killed_and_resumed / rel
        if io.read_meta(a).get("encoding") == "bitpacked":
            (sa, ma), (sb, mb) = io.read_spins(a), io.read_spins(b)
            assert (sa == sb).all() and ma == mb, rel
        else:
            (ta, ma), (tb, mb) = io.read_table(a), io.read_table(b)
            pd.testing.assert_frame_equal(ta, tb)
            assert ma == mb, rel


def test_two_runs_same_config_give_byte_identical_parquet(run, killed_and_resumed):
    for rel in _parquet_files(killed_and_resumed):
        assert (run / rel).read_bytes() == (killed_and_resumed / rel).read_bytes(), rel


def test_override_file_never_writes_into_the_presets_folder(run):
    """A file with only ``seed: 1`` layered on the finished ci run plans the whole workflow in a
    folder of its own (results/ci-<hash>/) and touches nothing in results/ci/."""
    extra = run / "seed.yaml"
    extra.write_text("seed: 1\n")
    out = reasons(run, "--configfile", "presets/ci.yaml", str(extra))
    folders = set(re.findall(r"\bresults/([A-Za-z0-9_-]+)/", out)) - {"downloads"}
    assert len(folders) == 1 and next(iter(folders)).startswith("ci-"), folders
    assert "results/ci/" not in out
    assert planned_jobs(run) == {}


def test_moved_checkout_has_nothing_to_do(run, repo_root):
    """Commands name neither the checkout nor the interpreter's environment, so that moving the
    checkout or the venv does not trip Snakemake's code rerun trigger."""
    import json

    metadata = sorted((run / ".snakemake/metadata").iterdir())
    assert metadata
    for meta in metadata:
        record = json.loads(meta.read_text())
        command = json.dumps([record[k] for k in ("code", "shellcmd", "params")])
        for where in (str(run), str(repo_root), sys.prefix, sys.executable):
            assert where not in command, (meta, where)
    moved = run.with_name(run.name + "_moved")
    run.rename(moved)
    try:
        assert planned_jobs(moved) == {}
        if sys.prefix != sys.base_prefix:
            # the same venv seen under another path stands for a moved or recreated venv
            venv = moved.parent / (moved.name + "_venv")
            venv.symlink_to(sys.prefix, target_is_directory=True)
            python = venv / Path(sys.executable).relative_to(sys.prefix)
            proc = subprocess.run([str(python), "-m", "snakemake", "-n", "--cores", "2",
                                   "--configfile", "presets/ci.yaml"],
                                  cwd=moved, capture_output=True, text=True, timeout=600)
            assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]
    finally:
        moved.rename(run)
