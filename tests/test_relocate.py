"""Job commands do not depend on where the checkout or the interpreter live, and `--sdm conda`
has an environment that can run them.

The end-to-end check (a finished ci run moved elsewhere has nothing to do) is in
tests/test_workflow.py, which reuses its ci run; these are the cheap checks on the plan.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

COMMAND_START = 'PYTHONPATH="$COARSEGRAIN_SRC" python3 -m coarsegrain '
# import name -> distribution name, where they differ
DISTRIBUTION = {"PIL": "pillow", "yaml": "pyyaml", "sklearn": "scikit-learn"}


@pytest.fixture(scope="module")
def shell_commands(repo_root, tmp_path_factory) -> list[str]:
    """Every job command of the ci preset, planned from an empty working directory."""
    work = tmp_path_factory.mktemp("plan")
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--forceall", "--printshellcmds", "--cores", "1",
         "--directory", str(work), "--snakefile", str(repo_root / "Snakefile"),
         "--configfile", str(repo_root / "presets/ci.yaml")],
        capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    # --printshellcmds prints each command after a line "Shell command:" (Snakemake 9)
    # (rule all, which runs nothing, prints "None")
    commands = [c for c in re.findall(r"^Shell command: (.*)$", out, re.M) if c != "None"]
    assert commands, out[-3000:]
    return commands


def test_commands_name_no_machine_path(shell_commands, repo_root):
    for cmd in shell_commands:
        assert cmd.startswith(COMMAND_START), cmd[:200]
        for where in (str(repo_root), sys.prefix, sys.base_prefix, sys.executable):
            assert where not in cmd, (where, cmd[:200])


def test_rules_use_the_conda_env(repo_root):
    """Each rule's `conda:` directive is CONDA_ENV, which (relative to the rules files, as
    Snakemake reads it) is envs/coarsegrain.yaml."""
    rules = repo_root / "workflow/rules"
    common = (rules / "common.smk").read_text()
    env = re.search(r'^CONDA_ENV = "([^"]+)"$', common, re.M)
    assert env, "CONDA_ENV must be a relative path literal in common.smk"
    assert (rules / env.group(1)).resolve() == (repo_root / "envs/coarsegrain.yaml").resolve()
    for smk in sorted(rules.glob("*.smk")):
        lines = smk.read_text().splitlines()
        rules_here = sum(1 for line in lines if re.match(r"^\s*rule \w+:", line))
        condas = [lines[i + 1].strip() for i, line in enumerate(lines) if line.strip() == "conda:"]
        assert len(condas) == rules_here and set(condas) <= {"CONDA_ENV"}, smk.name


def _third_party_imports(src: Path, skip: set[str]) -> set[str]:
    names = set()
    for py in src.rglob("*.py"):
        if py.relative_to(src).as_posix() in skip:
            continue
        for node in ast.walk(ast.parse(py.read_text(), filename=str(py))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "coarsegrain"}


def _pins(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[re.sub(r"\[.*\]", "", name).strip().lower()] = version.strip()
    return out


def test_conda_env_holds_what_jobs_import(repo_root):
    env = yaml.safe_load((repo_root / "envs/coarsegrain.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    env_pins = _pins(pip)
    requirements = _pins((repo_root / "requirements.txt").read_text().splitlines())
    # config.py (jsonschema, referencing) checks the config in the Snakemake process, not in jobs
    needed = _third_party_imports(repo_root / "src/coarsegrain", skip={"config.py"})
    missing = {DISTRIBUTION.get(n, n).lower() for n in needed} - set(env_pins)
    assert not missing, f"envs/coarsegrain.yaml lacks {sorted(missing)}"
    for name, version in env_pins.items():
        if name in requirements:
            assert version == requirements[name], name
    assert not {"snakemake", "pytest", "ruff"} & set(env_pins)
