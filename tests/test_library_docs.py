"""Every ```python block of docs/library.md, and the README's "Using the library without
Snakemake" example (Python and command line), run as written in a temporary folder."""

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(text: str, lang: str) -> list[str]:
    return [body for kind, body in FENCE.findall(text) if kind == lang]


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else len(text)]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _run_session(snippets: list[str], where: Path, label: str) -> None:
    """Execute snippets in order in one namespace, as a reader's Python session would."""
    ns = {"__name__": "__docs__"}
    for i, code in enumerate(snippets):
        try:
            exec(compile(code, f"{label} block {i + 1}", "exec"), ns)  # noqa: S102
        except Exception as exc:  # name the failing block
            raise AssertionError(f"{label} block {i + 1} failed: {exc!r}\n{code}") from exc
    assert where.exists()


def test_library_md_runs(in_tmp):
    snippets = blocks((ROOT / "docs" / "library.md").read_text(), "python")
    assert len(snippets) >= 5, "library.md lost its examples"
    # CPU time, not wall time: the bound is on the examples' size, not on the machine's load.
    t0 = time.process_time()
    _run_session(snippets, in_tmp, "docs/library.md")
    used = time.process_time() - t0
    assert used < 60, f"the docs examples took {used:.0f} s of CPU; keep them small"


def test_readme_library_example_runs(in_tmp):
    section = readme_section("Using the library without Snakemake")
    py = blocks(section, "python")
    assert py, "README lost its Python example"
    _run_session(py, in_tmp, "README")
    written = sorted(p.name for p in in_tmp.iterdir())
    assert written, "the README example writes a file"


def test_readme_cli_example_runs(in_tmp):
    section = readme_section("Using the library without Snakemake")
    commands = [line for b in blocks(section, "bash") for line in b.splitlines()
                if line.strip().startswith("python -m coarsegrain")]
    assert commands, "README lost its command-line example"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for line in commands:
        argv = shlex.split(line)
        assert argv[:2] == ["python", "-m"]
        proc = subprocess.run([sys.executable, *argv[1:]], cwd=in_tmp, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs = argv[argv.index("--out") + 2:]
        outs = outs[:next((i for i, a in enumerate(outs) if a.startswith("--")), len(outs))]
        for name in outs:
            assert (in_tmp / name).stat().st_size > 0, name
