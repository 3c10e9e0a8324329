"""docs/outputs.md stays true to the code: every function it names resolves, every stage it names
maps to the function it says, and every output path, rule and figure of the rules files is in it.

Fast (no workflow, no Snakemake): the rules files are read as text.
"""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "outputs.md"
RULES = sorted((ROOT / "workflow" / "rules").rglob("*.smk"))

# `coarsegrain.a.b.c` anywhere (not the tail of a path such as src/coarsegrain/...)
DOTTED = re.compile(r"(?<![\w/.-])coarsegrain(?:\.[A-Za-z_]\w*)+")
# src/coarsegrain/<path>.py:<name>
FILE_REF = re.compile(r"src/coarsegrain/([\w/]+)\.py:(\w+)")
# `<module>.<stage>` → `src/coarsegrain/stages/<module>.py:<function>`
STAGE_REF = re.compile(r"`(\w+)\.([a-z0-9-]+)` → `src/coarsegrain/stages/(\w+)\.py:(\w+)`")
# PATHS = { ... } and PATHS.update({ ... }) blocks, and their "key": "template" pairs
PATHS_BLOCK = re.compile(r"PATHS(?:\s*=\s*\{|\.update\(\s*\{)(.*?)\n\s*\}", re.S)
PAIR = re.compile(r'^\s*"(\w+)"\s*:\s*"([^"]+)"', re.M)
RULE = re.compile(r"^\s*rule (\w+):", re.M)
FIGURE = re.compile(r'path\("figure",\s*name="([^"]+)"\)')


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rules_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in RULES)


def resolve(dotted: str):
    """The object named ``dotted``: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for name in parts[i:]:
            if not hasattr(obj, name):
                raise AttributeError(f"{'.'.join(parts[:i])} has no {'.'.join(parts[i:])}")
            obj = getattr(obj, name)
        return obj
    raise ModuleNotFoundError(dotted)


def paths_table(text: str) -> dict[str, str]:
    found = {}
    for block in PATHS_BLOCK.findall(text):
        for key, template in PAIR.findall(block):
            found[key] = template
    return found


def test_dotted_references_resolve(doc):
    names = sorted(set(DOTTED.findall(doc)))
    assert len(names) > 30, "outputs.md lost its code references"
    bad = []
    for name in names:
        try:
            resolve(name)
        except (ImportError, AttributeError) as exc:
            bad.append(f"{name}: {exc}")
    assert not bad, "docs/outputs.md names what does not exist:\n" + "\n".join(bad)


def test_file_references_resolve(doc):
    refs = sorted(set(FILE_REF.findall(doc)))
    assert len(refs) > 30, "outputs.md lost its stage functions"
    bad = []
    for path, name in refs:
        if not (ROOT / "src" / "coarsegrain" / f"{path}.py").is_file():
            bad.append(f"src/coarsegrain/{path}.py: no such file")
            continue
        module = importlib.import_module("coarsegrain." + path.replace("/", "."))
        if not callable(getattr(module, name, None)):
            bad.append(f"src/coarsegrain/{path}.py:{name}: no such function")
    assert not bad, "\n".join(bad)


def test_stage_references_match_stages(doc):
    pairs = sorted(set(STAGE_REF.findall(doc)))
    assert len(pairs) > 30, "outputs.md lost its stage → function pairs"
    bad = []
    for module, stage, file_module, function in pairs:
        if module != file_module:
            bad.append(f"{module}.{stage} is not in stages/{file_module}.py")
            continue
        stages = importlib.import_module(f"coarsegrain.stages.{module}").STAGES
        fn = stages.get(stage)
        if fn is None:
            bad.append(f"{module}.{stage}: no such stage in coarsegrain.stages.{module}.STAGES")
        elif fn.__name__ != function:
            bad.append(f"{module}.{stage} runs {fn.__name__}, not {function}")
    assert not bad, "\n".join(bad)


def test_rules_call_documented_stages(doc, rules_text):
    """Every stage a rule calls (cg("<module>.<stage>")) is in the doc."""
    called = set(re.findall(r'cg\(\s*"([\w]+\.[\w{}.-]+)"', rules_text))
    called = {c for c in called if "{" not in c}  # spectral.{wildcards.dataset}: listed per dataset
    missing = sorted(c for c in called if f"`{c}`" not in doc)
    assert not missing, f"stages called by the rules but not in docs/outputs.md: {missing}"


def test_every_path_key_and_template_documented(doc, rules_text):
    paths = paths_table(rules_text)
    assert len(paths) > 40, f"found only {len(paths)} PATHS entries; did the .smk layout change?"
    missing = [k for k in paths if f"`{k}`" not in doc]
    assert not missing, f"PATHS keys not in docs/outputs.md: {missing}"
    missing = [f"{k}: {t}" for k, t in paths.items() if f"`{t}`" not in doc]
    assert not missing, "PATHS templates not in docs/outputs.md (as `template`):\n" + "\n".join(missing)


def test_every_rule_documented(doc, rules_text):
    rules = set(RULE.findall(rules_text)) - {"all"}
    assert len(rules) > 30
    missing = sorted(r for r in rules if f"`{r}`" not in doc)
    assert not missing, f"rules not in docs/outputs.md: {missing}"


def test_every_figure_documented(doc, rules_text):
    figures = set(FIGURE.findall(rules_text))
    assert len(figures) > 15
    missing = sorted(f for f in figures if f"`figures/{f}.png`" not in doc)
    assert not missing, f"figures not in docs/outputs.md: {missing}"


def test_points_to_claims_doc(doc):
    assert "## Claims" in doc and "claims.md" in doc
    assert (ROOT / "docs" / "claims.md").is_file()
