import os
import shutil
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def no_slurm_controller_probe(tmp_path_factory):
    """Local tests never talk to SLURM, but every Snakemake start imports the SLURM executor
    plugin, which runs ``scontrol show config`` with a 10 s timeout. On a machine with the
    SLURM client installed and no controller reachable (e.g. after ``make test-slurm`` stopped
    its cluster) each Snakemake call in these tests would wait ~9 s for nothing. A stub
    ``scontrol`` that fails at once is put first on PATH for this session; the SLURM tests
    (``COARSEGRAIN_SLURM_TEST=1``, ``make test-slurm``) keep the real one."""
    if os.environ.get("COARSEGRAIN_SLURM_TEST") or not shutil.which("scontrol"):
        yield
        return
    stub = tmp_path_factory.mktemp("no_slurm")
    (stub / "scontrol").write_text("#!/bin/sh\nexit 1\n")
    (stub / "scontrol").chmod(0o755)
    old = os.environ["PATH"]
    os.environ["PATH"] = f"{stub}{os.pathsep}{old}"
    yield
    os.environ["PATH"] = old


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture
def one_thread():
    """Run torch on one thread: small tensors only gain contention from a second OpenMP thread."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def run(tmp_path_factory, repo_root):
    """The whole workflow on presets/ci.yaml in a temporary copy of the repository, run once per
    test session and shared by the workflow and report tests."""
    from test_workflow import _copy_workflow, snakemake

    work = _copy_workflow(repo_root, tmp_path_factory.mktemp("wf"))
    snakemake(work)
    return work
