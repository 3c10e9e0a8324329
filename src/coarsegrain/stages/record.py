"""The reproduction record of a run: what a reader needs to trust a preset's results without
rerunning it, small enough to keep in the repository.

``make record PRESET=thesis`` (or ``python -m coarsegrain.stages.record RESULTS DEST``) reads a
run folder (``results/<preset>/``) and writes to ``DEST`` (``docs/reproduction/<preset>/``):

- ``README.md``: preset, commit, machine, wall time, jobs finished, per-rule times, the verdict
  counts and the figure list;
- ``claims.md``, ``claims.csv`` and ``claims.parquet`` (copied from the run; ``make readme`` reads
  the Parquet table), ``config.yaml`` (the resolved config);
- ``jobs.csv``: one row per finished job from Snakemake's ``benchmark:`` files (seconds, peak
  RSS in MB, CPU seconds, start and end in seconds from the first job's start);
- ``rules.csv``: the same summed per rule;
- ``resources.csv`` (with ``--resources``): each job's requested memory and runtime against its
  peak RSS and wall time, from ``benchmarks/check_resources.py --csv``; the README summarises it
  per rule and counts the jobs over a request;
- ``figures/``: the run's figures, downscaled and palette-quantised; those a claim names come
  first, the rest follow while the record stays under its size budget.

An unfinished run (no claims table) gives a record that says so: jobs finished, per-rule times,
and what the dry run says is left. Timing comes from the benchmark files alone: a job's end is
its benchmark file's modification time and its start that minus its measured seconds, so the
record is wrong only if the files were touched after the run.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: Upper bound on the record's size (bytes); figures beyond it are listed, not copied.
DEFAULT_BUDGET = 8_000_000
#: Width (px) figures are downscaled to.
FIGURE_WIDTH = 1100


# --------------------------------------------------------------------------------- jobs
_RULE = re.compile(r"^\s*rule\s+(\w+)\s*:", re.M)
_BENCH = re.compile(r"benchmark:\s*\n\s*path\(\s*\"benchmark\",\s*name=f?\"([^\"]+)\"")


def rule_names(rules_dir: Path) -> list[str]:
    """Rule names declared in ``rules_dir/*.smk`` (conditional, indented rules included)."""
    names: set[str] = set()
    for f in Path(rules_dir).glob("*.smk"):
        names.update(_RULE.findall(f.read_text(encoding="utf-8")))
    return sorted(names)


def benchmark_patterns(rules_dir: Path) -> dict[str, re.Pattern]:
    """Rule → regex of its benchmark file stem, from each rule's ``benchmark:`` directive
    (``{wildcard}`` and ``{PYTHON_NAME}`` fields match any text); a rule without one gets
    "its name, optionally followed by _anything"."""
    out = {}
    for f in Path(rules_dir).glob("*.smk"):
        text = f.read_text(encoding="utf-8")
        starts = [(m.start(), m.group(1)) for m in _RULE.finditer(text)] + [(len(text), "")]
        for (a, rule), (b, _) in zip(starts[:-1], starts[1:], strict=True):
            m = _BENCH.search(text, a, b)
            if m:
                parts = re.split(r"\{[^}]*\}", m.group(1))
                out[rule] = re.compile(".+?".join(re.escape(x) for x in parts))
            else:  # no benchmark: directive; a stem named after the rule still maps to it
                out[rule] = re.compile(re.escape(rule) + "(?:_.*)?")
    return out


def rule_of(job: str, rules: dict[str, re.Pattern]) -> str:
    """The rule a benchmark stem belongs to (``rules`` from :func:`benchmark_patterns`): the
    most specific matching pattern (the longest), else the stem itself."""
    hits = [r for r, pat in rules.items() if pat.fullmatch(job)]
    return max(hits, key=lambda r: len(rules[r].pattern)) if hits else job


def jobs_table(results: Path, rules: dict[str, re.Pattern]) -> pd.DataFrame:
    """One row per finished job: ``job``, ``rule``, ``seconds``, ``max_rss_mb``, ``cpu_s``,
    ``start_s`` and ``end_s`` (seconds from the first job's start)."""
    from coarsegrain.plots.tables import benchmarks_table

    cols = ["job", "rule", "seconds", "max_rss_mb", "cpu_s", "start_s", "end_s"]
    paths = sorted((Path(results) / "benchmarks").glob("*.tsv"))
    t = benchmarks_table(paths).drop_duplicates("job", keep="last")
    if t.empty:
        return pd.DataFrame(columns=cols)
    end = t["job"].map({p.stem: p.stat().st_mtime for p in paths})
    t0 = (end - t["s"]).min()
    t = t.assign(rule=[rule_of(j, rules) for j in t["job"]], seconds=t["s"].astype(float),
                 max_rss_mb=t["max_rss"].astype(float), cpu_s=t["cpu_time"].astype(float),
                 start_s=(end - t["s"] - t0).round(1), end_s=(end - t0).round(1))
    return t[cols].sort_values(["start_s", "job"], kind="stable").reset_index(drop=True)


def busy_seconds(jobs: pd.DataFrame) -> float:
    """Length of the union of the jobs' [start, end] intervals: the wall time of the run with
    the pauses between sessions of a resumed run left out."""
    total, cur_start, cur_end = 0.0, None, None
    for s, e in sorted(zip(jobs["start_s"], jobs["end_s"], strict=True)):
        if cur_end is None or s > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = s, e
        else:
            cur_end = max(cur_end, e)
    if cur_end is not None:
        total += cur_end - cur_start
    return float(total)


def rules_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per rule: ``jobs``, ``total_s``, ``max_s``, ``cpu_s`` and ``max_rss_mb``, costliest
    first."""
    if jobs.empty:
        return pd.DataFrame(columns=["rule", "jobs", "total_s", "max_s", "cpu_s", "max_rss_mb"])
    g = jobs.groupby("rule")
    t = pd.DataFrame({"jobs": g.size(), "total_s": g["seconds"].sum().round(1),
                      "max_s": g["seconds"].max().round(1), "cpu_s": g["cpu_s"].sum().round(1),
                      "max_rss_mb": g["max_rss_mb"].max().round(0)})
    return t.sort_values("total_s", ascending=False).reset_index()


# ------------------------------------------------------------------------------ machine
@dataclass
class Machine:
    cpu: str
    cores: int
    memory_gib: float
    gpu: str
    system: str
    python: str
    torch: str

    def line(self) -> str:
        return (f"{self.cpu}, {self.cores} cores, {self.memory_gib:.0f} GiB; GPU: {self.gpu}; "
                f"{self.system}; Python {self.python}, torch {self.torch}")


def this_machine() -> Machine:
    """The machine the record is made on (run ``make record`` where the run ran)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = float("nan")
    try:
        kb = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        mem = int(kb.group(1)) / 2**20 if kb else mem
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 0
    gpu, torch_version = "none", "not installed"
    try:
        import torch

        torch_version = torch.__version__
        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return Machine(cpu, cores, mem, gpu, f"{platform.system()} {platform.release()}",
                   platform.python_version(), torch_version)


# ------------------------------------------------------------------------------ figures
def claim_figures(claims: pd.DataFrame | None) -> list[str]:
    """Figure name patterns the claims table names (``*`` allowed)."""
    if claims is None or "figure" not in claims:
        return []
    return sorted({f for f in claims["figure"].dropna().astype(str) if f})


def order_figures(figures: list[Path], patterns: list[str]) -> list[Path]:
    """Figures a claim names first (in name order), then the rest."""
    named = [f for f in figures if any(fnmatch.fnmatch(f.stem, p) for p in patterns)]
    return named + [f for f in figures if f not in named]


def shrink_png(src: Path, dest: Path, width: int = FIGURE_WIDTH) -> int:
    """Downscale ``src`` to at most ``width`` px wide and quantise it to 256 colours; returns
    the bytes written."""
    from PIL import Image

    with Image.open(src) as im:
        im = im.convert("RGB")
        if im.width > width:
            im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
        im = im.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        im.save(dest, optimize=True)
    return dest.stat().st_size


# ------------------------------------------------------------------------------- record
def resource_summary(resources: pd.DataFrame) -> pd.DataFrame:
    """Per rule: jobs, largest memory request and peak RSS (MiB), largest runtime request and
    longest job (minutes), jobs over a request; rules with a job over first."""
    g = resources.groupby("rule")
    out = pd.DataFrame({
        "jobs": g.size(),
        "mem_request_mib": g["mem_mib"].max().round(0),
        "peak_rss_mib": g["max_rss"].max().round(0),
        "runtime_request_min": g["runtime_min"].max(),
        "longest_min": g["minutes"].max().round(1),
        "over_request": g["flagged"].sum().astype(int),
    })
    return (out.sort_values(["over_request", "peak_rss_mib"], ascending=False)
            .reset_index())


def _fmt_s(s: float) -> str:
    s = round(s)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h} h {m:02d} min {sec:02d} s" if h else f"{m} min {sec:02d} s"


def _md_table(df: pd.DataFrame) -> str:
    head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns) + "\n"
    return head + "".join("| " + " | ".join(str(v) for v in r) + " |\n"
                          for r in df.itertuples(index=False))


def remaining_jobs(dry_run_output: str | None) -> int | None:
    """Jobs a ``snakemake -n`` output plans (0 for "Nothing to be done"); None if unknown."""
    if dry_run_output is None:
        return None
    if "Nothing to be done" in dry_run_output:
        return 0
    m = re.search(r"^total\s+(\d+)", dry_run_output, re.M)
    return int(m.group(1)) if m else None


def git_commit(repo: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=repo,
                             capture_output=True, text=True, timeout=30)
        # the record's own folder is rewritten by this command: it does not make the code dirty
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ".", ":(exclude)docs/reproduction"],
                               cwd=repo, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if out.returncode:
        return "unknown"
    return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def make_record(results: Path, dest: Path, *, rules_dir: Path, dry_run_output: str | None = None,
                budget: int = DEFAULT_BUDGET, machine: Machine | None = None,
                commit: str = "unknown", note: str = "",
                resources: pd.DataFrame | None = None) -> dict:
    """Write the record of the run in ``results`` to ``dest`` (replaced); returns a summary
    (``jobs``, ``busy_s``, ``span_s``, ``remaining``, ``complete``, ``bytes``, ``figures``,
    ``figures_left_out``, ``over_request``).

    ``resources`` is the requested-vs-used table of ``benchmarks/check_resources.py``
    (columns rule, mem_mib, max_rss, runtime_min, minutes, over_mem, over_time, flagged);
    when given it is kept as ``resources.csv`` and summarised per rule in the README."""
    results, dest = Path(results), Path(dest)
    if not results.is_dir():
        raise FileNotFoundError(f"no run folder {results}: run the preset first")
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "figures").mkdir(parents=True)
    machine = machine or this_machine()

    jobs = jobs_table(results, benchmark_patterns(rules_dir))
    if jobs.empty:
        raise ValueError(f"{results}/benchmarks holds no benchmark file: nothing ran")
    rules = rules_table(jobs)
    jobs.to_csv(dest / "jobs.csv", index=False)
    rules.to_csv(dest / "rules.csv", index=False)
    busy, span = busy_seconds(jobs), float(jobs["end_s"].max())

    claims = None
    if (results / "claims.csv").exists():
        claims = pd.read_csv(results / "claims.csv")
        for name in ("claims.md", "claims.csv", "claims.parquet"):
            if (results / name).exists():
                shutil.copy2(results / name, dest / name)
    for cfg in ("config.yaml", "config_used.yaml"):
        if (results / cfg).exists():
            shutil.copy2(results / cfg, dest / "config.yaml")
            break
    over = None
    if resources is not None:
        resources.to_csv(dest / "resources.csv", index=False)
        over = int(resources["flagged"].sum())
    remaining = remaining_jobs(dry_run_output)
    complete = claims is not None and remaining in (0, None)

    used = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
    figures, left_out = [], []
    for fig in order_figures(sorted((results / "figures").glob("*.png")), claim_figures(claims)):
        out = dest / "figures" / fig.name
        size = shrink_png(fig, out)
        if used + size + 20_000 > budget:  # 20 kB kept for README.md
            out.unlink()
            left_out.append(fig.name)
            continue
        used += size
        figures.append(fig.name)

    if not figures:
        (dest / "figures").rmdir()
    lines = [f"# Reproduction record: {results.name}", ""]
    if note:
        lines += [note, ""]
    status = ("complete: every job finished and the claims table was written" if complete
              and remaining == 0 else
              "claims table written; no dry run was given to confirm that nothing is left"
              if complete else
              "**incomplete**: " + ("the claims table is missing" if claims is None
                                    else f"{remaining} jobs were still planned"))
    lines += [
        f"- Status: {status}.",
        f"- Jobs finished: {len(jobs)}"
        + (f"; jobs left by `snakemake -n`: {remaining}" if remaining is not None else "") + ".",
        f"- Wall time: {_fmt_s(busy)} with a job running (first start to last end: "
        f"{_fmt_s(span)}); CPU time {_fmt_s(float(jobs['cpu_s'].sum()))}.",
        f"- Machine: {machine.line()}.",
        f"- Record made at commit {commit}.",
        "- Files: " + ", ".join(
            text for name, text in (
                ("claims.md", "`claims.md` / `claims.csv` (verdicts)"),
                ("config.yaml", "`config.yaml` (resolved config)"),
                ("jobs.csv", "`jobs.csv` (per job)"), ("rules.csv", "`rules.csv` (per rule)"),
                ("resources.csv", "`resources.csv` (requested vs used, per job)"))
            if (dest / name).exists()) + (", `figures/` (downscaled)" if figures else "") + ".",
        "",
    ]
    if claims is not None and "verdict" in claims:
        counts = claims.groupby(["kind", "verdict"]).size()
        lines += ["## Verdicts", "", _md_table(counts.rename("claims").reset_index()), ""]
    lines += ["## Time per rule", "",
              "Seconds of wall time summed over the rule's jobs (jobs ran side by side, so the "
              "sum exceeds the run's wall time), the longest job, CPU seconds and peak RSS.", "",
              _md_table(rules), ""]
    if resources is not None:
        lines += ["## Requested resources vs use", "",
                  f"Each job's `resources` (attempt 1) against the peak RSS and wall time of its "
                  f"benchmark file; per rule the largest request and the largest use. "
                  f"Jobs over a request: **{over}**.", "", _md_table(resource_summary(resources)),
                  ""]
    if figures:
        lines += ["## Figures", ""] + [f"![{f}](figures/{f})" for f in figures] + [""]
    if left_out:
        lines += [f"Left out to keep the record under {budget / 1e6:.2g} MB: "
                  + ", ".join(left_out) + ".", ""]
    (dest / "README.md").write_text("\n".join(lines), encoding="utf-8")
    total = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
    return {"jobs": len(jobs), "busy_s": busy, "span_s": span, "remaining": remaining,
            "complete": complete, "bytes": total, "figures": figures, "figures_left_out": left_out,
            "over_request": over}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m coarsegrain.stages.record",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("results", type=Path, help="the run folder, e.g. results/thesis")
    ap.add_argument("dest", type=Path, help="where the record goes, e.g. docs/reproduction/thesis")
    ap.add_argument("--rules-dir", type=Path, default=Path("workflow/rules"))
    ap.add_argument("--dry-run", type=Path, default=None,
                    help="a file holding `snakemake -n` output for the same config")
    ap.add_argument("--budget-mb", type=float, default=DEFAULT_BUDGET / 1e6)
    ap.add_argument("--note", default="", help="a paragraph for the top of the README")
    ap.add_argument("--resources", type=Path, default=None,
                    help="the --csv table of benchmarks/check_resources.py for this run")
    a = ap.parse_args(argv)
    dry = a.dry_run.read_text(encoding="utf-8") if a.dry_run else None
    summary = make_record(a.results, a.dest, rules_dir=a.rules_dir, dry_run_output=dry,
                          budget=int(a.budget_mb * 1e6), commit=git_commit(Path.cwd()),
                          note=a.note,
                          resources=pd.read_csv(a.resources) if a.resources else None)
    print(f"record written to {a.dest}: {summary['jobs']} jobs, "
          f"{_fmt_s(summary['busy_s'])} wall, {len(summary['figures'])} figures, "
          f"{summary['bytes'] / 1e6:.1f} MB" + ("" if summary["complete"] else " (incomplete run)")
          + ("" if summary["over_request"] is None
             else f", {summary['over_request']} jobs over their resource request"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
