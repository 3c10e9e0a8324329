"""The Snakemake HTML report of a finished ci run, as a reader sees it.

Checks that every result carries its caption, that the captions are also written out on the
report's landing page (the figure guide in ``workflow/report/workflow.rst``), that categories
follow the thesis' story, that the claims page is embedded, and, where Debian's ``chromium`` is
installed, that a headless browser renders the report to a non-blank page.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.workflow

# The order of the thesis: Monte Carlo → RBMs → RBM flows → RG comparison → P3, then the
# claims and the run. A category outside this list (or unnumbered) fails the test.
CATEGORIES = ["1. Monte Carlo", "2. RBMs", "3. RBM flows", "4. RG vs RBM", "5. P3 spectra",
              "6. Claims", "7. Run"]


def _snakemake(workdir: Path, *args: str) -> None:
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "presets/ci.yaml",
           *args]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, f"snakemake {' '.join(args)} failed:\n{proc.stderr[-6000:]}"


@pytest.fixture(scope="module")
def ci_run(run) -> Path:
    """The session's finished ci run (``run`` in conftest.py)."""
    return run


@pytest.fixture(scope="module")
def report(ci_run) -> Path:
    out = ci_run / "report_render.html"
    _snakemake(ci_run, "--report", str(out))
    return out


def _js_var(page: str, name: str):
    """The JSON value of ``var <name> = …;`` in the report page (one line each)."""
    # the report's own data come after the bundled libraries, which use the same names
    found = re.findall(rf"^\s*var {name} = ([{{\"].*);\s*$", page, re.M)
    assert found, f"no `var {name}` in the report"
    return json.loads(found[-1])


def _text(fragment: str) -> str:
    """Visible text of an HTML fragment, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


@pytest.fixture(scope="module")
def parsed(report):
    page = report.read_text()
    return {"results": _js_var(page, "results"), "categories": _js_var(page, "categories"),
            "desc": _js_var(page, "workflow_desc")}


def test_every_result_has_a_caption(parsed):
    empty = [p for p, r in parsed["results"].items() if not _text(r["caption"])]
    assert not empty, f"results without a caption: {empty}"


def test_captions_are_shown_on_the_landing_page(parsed):
    """The landing page lists every result with its whole caption and a link that opens it,
    so no caption is reachable only through the info icon."""
    desc = parsed["desc"]
    guide = _text(desc)
    assert "Figure guide" in guide
    for path, r in parsed["results"].items():
        assert f"app.showResultInfo('{urllib.parse.quote(path)}')" in desc or \
            f"app.showResultInfo('{path}')" in desc, f"{path} has no link on the landing page"
        assert _text(r["caption"])[:200] in guide, f"caption of {path} missing from the guide"


def test_categories_follow_the_thesis_story(parsed):
    names = list(parsed["categories"])
    assert set(names) <= set(CATEGORIES), f"unexpected categories: {set(names) - set(CATEGORIES)}"
    # the ci preset runs every stage, so every category has results
    assert set(names) == set(CATEGORIES)
    assert sorted(names) == [c for c in CATEGORIES if c in names]
    guide = _text(parsed["desc"])
    positions = [guide.index(c, guide.index("Figure guide")) for c in CATEGORIES]
    assert positions == sorted(positions), "the figure guide is not in story order"


def test_flow_figures_of_different_rbms_are_told_apart(parsed):
    """Per-RBM flow figures (e.g. nh81_tc, nh81_grid of one model) pass their RBM to the
    figure, which puts it in the title."""
    flows = [r for r in parsed["results"].values()
             if r["job_properties"]["rule"] == "figure_flows_temperature"]
    assert flows
    for r in flows:
        wildcard = re.search(r"rbm=([^,\s]+)", r["job_properties"]["wildcards"]).group(1)
        # Snakemake shows a job's params as one formatted string, quotes escaped
        params = str(r["job_properties"]["params"]).replace('\\"', '"')
        assert f'"rbm":"{wildcard}"' in params.replace(" ", ""), params


def test_claims_page_is_embedded(parsed):
    claims = [r for r in parsed["results"].values()
              if r["mime_type"] == "text/html" and "claims" in r["name"]]
    assert claims, "no claims page in the report"
    uri = claims[0]["data_uri"]
    assert uri.startswith("data:text/html")
    page = base64.b64decode(uri.split(",", 1)[1]).decode()
    assert "<table" in page
    assert re.search(r"\b(agrees|disagrees|inconclusive)\b", page)


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="Debian's chromium is not installed (apt-get install chromium); "
                           "only the headless screenshot of the report is skipped")
def test_report_renders_in_a_headless_browser(report, tmp_path):
    from matplotlib import image

    shot = tmp_path / "report.png"
    proc = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--virtual-time-budget=10000", f"--screenshot={shot}", "--window-size=1400,1000",
         report.resolve().as_uri()],
        capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-3000:]
    px = image.imread(shot)[..., :3]
    assert px.shape[:2] == (1000, 1400)
    # a page that failed to render is one flat colour; the report has text, a menu and a graph
    assert px.std() > 0.05
    colours = np.unique((px.reshape(-1, 3) * 255).astype(np.uint8), axis=0)
    assert len(colours) > 50
