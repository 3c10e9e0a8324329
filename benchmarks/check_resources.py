"""Compare every job's requested resources with what its benchmark file says it used.

Usage::

    python benchmarks/check_resources.py RESULTS_DIR [--configfile FILE ...] [--profile DIR]
                                         [--dryrun-output FILE] [--csv OUT]

The requests (``mem_mb``/``mem_mib``, ``runtime`` in minutes, attempt 1) come from Snakemake
itself: ``snakemake -n --forceall --nolock`` with the given config files (default:
``RESULTS_DIR/config.yaml``, the resolved config the run wrote) and profile prints, for every
job, its ``benchmark:`` file and its ``resources:``. Rules without a ``resources:`` line of their
own get the profile's ``default-resources`` (without a profile, Snakemake's defaults).
``--dryrun-output`` reads that text from a file instead of running Snakemake.

The use comes from the Snakemake ``benchmark:`` TSV files under ``RESULTS_DIR/benchmarks/``:
``s`` (wall seconds) and ``max_rss`` (MiB; Snakemake divides bytes by 1024²), the maximum over
the file's rows. Jobs are matched on the benchmark path below ``benchmarks/``, so a results
folder that was moved or copied still matches.

A job is flagged when its peak RSS exceeds its memory request or its wall time exceeds its
runtime request. Prints one line per job (worst first) and exits with status 1 when any job is
flagged, 0 otherwise.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

__all__ = ["compare", "main", "parse_dryrun", "read_benchmarks"]

_RULE = re.compile(r"^(?:local)?rule (\S+):\s*$")
_FIELD = re.compile(r"^\s+(\w+): (.*)$")
_MB_PER_MIB = 1.048576


def _bench_key(path: str) -> str | None:
    """The part of a benchmark path below its ``benchmarks/`` folder, or None."""
    parts = Path(path.strip()).parts
    if "benchmarks" not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index("benchmarks")
    return "/".join(parts[i + 1:]) or None


def _resources(text: str) -> dict[str, float]:
    """``tmpdir=/tmp, runtime=60, mem_mb=4000, mem=4 GB`` → numeric entries only."""
    out = {}
    for item in text.split(", "):
        key, _, value = item.partition("=")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            continue
    return out


def parse_dryrun(text: str) -> pd.DataFrame:
    """Jobs with a benchmark file from ``snakemake -n`` output.

    Parameters
    ----------
    text : the printed dry run (job blocks ``rule NAME:`` followed by indented ``key: value``
        lines, among them ``benchmark:`` and ``resources:``)

    Returns
    -------
    DataFrame with columns ``key`` (benchmark path below ``benchmarks/``), ``rule``,
    ``mem_mib`` (requested memory in MiB; from ``mem_mib``, else ``mem_mb``/1.048576; NaN when
    the job requests none) and ``runtime_min`` (NaN when none), one row per job with a
    ``benchmark:`` file.
    """
    rows, job = [], None

    def flush():
        if job and job.get("key"):
            rows.append(job)

    for line in text.splitlines():
        m = _RULE.match(line)
        if m:
            flush()
            job = {"rule": m.group(1), "key": None, "mem_mib": math.nan, "runtime_min": math.nan}
            continue
        f = _FIELD.match(line)
        if job is None or not f:
            if job is not None and line and not line[0].isspace():
                flush()
                job = None
            continue
        name, value = f.groups()
        if name == "benchmark":
            job["key"] = _bench_key(value)
        elif name == "resources":
            res = _resources(value)
            if "mem_mib" in res:
                job["mem_mib"] = res["mem_mib"]
            elif "mem_mb" in res:
                job["mem_mib"] = res["mem_mb"] / _MB_PER_MIB
            job["runtime_min"] = res.get("runtime", math.nan)
    flush()
    return pd.DataFrame(rows, columns=["key", "rule", "mem_mib", "runtime_min"])


def read_benchmarks(results_dir) -> pd.DataFrame:
    """Peak use per benchmark file under ``results_dir/benchmarks/``.

    Returns
    -------
    DataFrame with columns ``key`` (path below ``benchmarks/``), ``s`` (wall seconds) and
    ``max_rss`` (MiB; NaN where Snakemake wrote ``NA``), the maximum over each file's rows.

    Raises
    ------
    ValueError
        if ``results_dir/benchmarks`` is not a folder, or a file lacks the ``s``/``max_rss``
        columns.
    """
    bench = Path(results_dir) / "benchmarks"
    if not bench.is_dir():
        raise ValueError(f"results_dir must hold a benchmarks/ folder; {str(bench)!r} is not one")
    rows = []
    for f in sorted(bench.rglob("*.tsv")):
        t = pd.read_csv(f, sep="\t", na_values=["NA", "-"])
        missing = {"s", "max_rss"} - set(t.columns)
        if missing:
            raise ValueError(f"benchmark file {str(f)!r} lacks columns {sorted(missing)}")
        rows.append({"key": f.relative_to(bench).as_posix(),
                     "s": pd.to_numeric(t["s"], errors="coerce").max(),
                     "max_rss": pd.to_numeric(t["max_rss"], errors="coerce").max()})
    return pd.DataFrame(rows, columns=["key", "s", "max_rss"])


def compare(requests: pd.DataFrame, used: pd.DataFrame) -> pd.DataFrame:
    """Join requests (:func:`parse_dryrun`) and use (:func:`read_benchmarks`) on ``key``.

    Returns
    -------
    DataFrame with columns key, rule, mem_mib, max_rss, mem_use (max_rss / mem_mib),
    runtime_min, minutes, time_use (minutes / runtime_min), over_mem, over_time, flagged,
    sorted worst first. Benchmark files without a job in the dry run get rule ``?`` and NaN
    requests (never flagged); jobs not yet run are left out.
    """
    df = used.merge(requests, on="key", how="left")
    df["rule"] = df["rule"].fillna("?")
    df["minutes"] = df["s"] / 60.0
    df["mem_use"] = df["max_rss"] / df["mem_mib"]
    df["time_use"] = df["minutes"] / df["runtime_min"]
    df["over_mem"] = (df["max_rss"] > df["mem_mib"]).fillna(False).astype(bool)
    df["over_time"] = (df["minutes"] > df["runtime_min"]).fillna(False).astype(bool)
    df["flagged"] = df["over_mem"] | df["over_time"]
    worst = df[["mem_use", "time_use"]].max(axis=1).fillna(-1.0)
    df = df.assign(_w=worst).sort_values(["flagged", "_w"], ascending=False).drop(columns="_w")
    cols = ["key", "rule", "mem_mib", "max_rss", "mem_use", "runtime_min", "minutes",
            "time_use", "over_mem", "over_time", "flagged"]
    return df[cols].reset_index(drop=True)


REPO = Path(__file__).resolve().parents[1]


def _dryrun(configfiles: list[str], profile: str | None) -> str:
    """``snakemake -n --forceall --nolock`` of the workflow in this checkout; its output text."""
    cmd = [sys.executable, "-m", "snakemake", "-n", "--forceall", "--nolock"]
    if configfiles:
        cmd += ["--configfile", *(str(Path(c).resolve()) for c in configfiles)]
    if profile:
        cmd += ["--profile", str(Path(profile).resolve())]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"snakemake dry run failed ({' '.join(cmd)}):\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results_dir", help="a finished run's folder, e.g. results/thesis")
    ap.add_argument("--configfile", nargs="+", default=None,
                    help="config files of the run (default: RESULTS_DIR/config.yaml)")
    ap.add_argument("--profile", default=None, help="Snakemake profile (default-resources)")
    ap.add_argument("--dryrun-output", default=None,
                    help="read the `snakemake -n` text from this file instead of running it")
    ap.add_argument("--csv", default=None, help="also write the comparison table here")
    args = ap.parse_args(argv)
    try:
        used = read_benchmarks(args.results_dir)
    except ValueError as exc:
        ap.error(str(exc))
    if args.dryrun_output:
        text = Path(args.dryrun_output).read_text()
    else:
        configs = args.configfile
        if configs is None:
            default = Path(args.results_dir) / "config.yaml"
            if not default.is_file():
                ap.error(f"no --configfile given and {str(default)!r} does not exist")
            configs = [str(default)]
        text = _dryrun(configs, args.profile)
    table = compare(parse_dryrun(text), used)
    if args.csv:
        table.to_csv(args.csv, index=False)
    with pd.option_context("display.width", 200, "display.max_rows", None,
                           "display.float_format", "{:.2f}".format):
        print(table.to_string(index=False))
    n_bad = int(table["flagged"].sum())
    unmatched = int((table["rule"] == "?").sum())
    print(f"\n{len(table)} benchmarked jobs; {n_bad} over their request"
          + (f"; {unmatched} benchmark files without a job in the dry run" if unmatched else ""))
    for row in table[table["flagged"]].itertuples():
        what = []
        if row.over_mem:
            what.append(f"peak RSS {row.max_rss:.0f} MiB > request {row.mem_mib:.0f} MiB")
        if row.over_time:
            what.append(f"wall {row.minutes:.1f} min > runtime {row.runtime_min:.0f} min")
        print(f"OVER: {row.rule} ({row.key}): {'; '.join(what)}")
    return 1 if n_bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
