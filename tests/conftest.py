from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


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
