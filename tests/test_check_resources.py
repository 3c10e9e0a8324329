"""benchmarks/check_resources.py: requested resources vs the benchmark files of a run."""

import importlib.util
import math
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "check_resources.py"
_spec = importlib.util.spec_from_file_location("check_resources", SCRIPT)
cr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cr)

# The layout `snakemake -n` (Snakemake 9) prints for each job.
DRYRUN = """\
Building DAG of jobs...
Job stats:
job      count
-------  -------
all      1
[Wed Dec  2 16:38:30 2026]
rule mc_ising2d_correlators:
    output: results/x/analysis/montecarlo/correlators/ising2d_L128.parquet
    log: results/x/logs/mc_ising2d_L128_correlators.log
    jobid: 15
    benchmark: results/x/benchmarks/mc_ising2d_L128_correlators.tsv
    reason: Forced execution
    resources: tmpdir=/tmp, runtime=60, mem_mb=4000, mem=4 GB, mem_mib=3815
[Wed Dec  2 16:38:30 2026]
rule ising2d_sample:
    output: results/x/data/ising2d/L8/T1.5000.parquet
    log: results/x/logs/ising2d_sample_L8.log
    jobid: 3
    benchmark: results/x/benchmarks/p3/ising2d_sample_L8.tsv
    reason: Forced execution
    wildcards: L=8
    resources: tmpdir=/tmp, runtime=11, mem_mb=1501, mem=1.5 GB
[Wed Dec  2 16:38:30 2026]
localrule report_config:
    output: results/x/config.yaml
    jobid: 7
    reason: Forced execution
    resources: tmpdir=/tmp
[Wed Dec  2 16:38:30 2026]
localrule all:
    input: results/x/config.yaml
    jobid: 0
    resources: tmpdir=/tmp
Job stats:
job      count
"""

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write_bench(folder: Path, key: str, rows) -> None:
    f = folder / "benchmarks" / key
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(HEADER + "".join(f"{s}\t0:00:00\t{rss}\t1\t1\t1\t0\t0\t90\t{s}\n"
                                  for s, rss in rows))


def test_parse_dryrun_reads_benchmark_and_requests():
    req = cr.parse_dryrun(DRYRUN).set_index("key")
    assert sorted(req.index) == ["mc_ising2d_L128_correlators.tsv", "p3/ising2d_sample_L8.tsv"]
    row = req.loc["mc_ising2d_L128_correlators.tsv"]
    assert (row["rule"], row["mem_mib"], row["runtime_min"]) == ("mc_ising2d_correlators", 3815,
                                                                 60)
    # Without mem_mib the MB request is converted (1 MiB = 1.048576 MB).
    assert req.loc["p3/ising2d_sample_L8.tsv", "mem_mib"] == pytest.approx(1501 / 1.048576)


def test_flags_the_job_over_its_request(tmp_path):
    # correlators: 5950 MiB peak against 3815 requested (over); sampling: well under.
    write_bench(tmp_path, "mc_ising2d_L128_correlators.tsv", [(120.0, 5950.0), (110.0, 5000.0)])
    write_bench(tmp_path, "p3/ising2d_sample_L8.tsv", [(30.0, 500.0)])
    write_bench(tmp_path, "orphan.tsv", [(1.0, 10.0)])
    (tmp_path / "dry.txt").write_text(DRYRUN)
    out = tmp_path / "table.csv"
    rc = cr.main([str(tmp_path), "--dryrun-output", str(tmp_path / "dry.txt"), "--csv", str(out)])
    assert rc == 1
    t = pd.read_csv(out).set_index("key")
    assert t.loc["mc_ising2d_L128_correlators.tsv", "flagged"]
    assert t.loc["mc_ising2d_L128_correlators.tsv", "over_mem"]
    assert not t.loc["mc_ising2d_L128_correlators.tsv", "over_time"]
    assert t.loc["mc_ising2d_L128_correlators.tsv", "max_rss"] == 5950.0  # max over rows
    assert not t.loc["p3/ising2d_sample_L8.tsv", "flagged"]
    assert t.loc["orphan.tsv", "rule"] == "?" and not t.loc["orphan.tsv", "flagged"]
    assert t.index[0] == "mc_ising2d_L128_correlators.tsv"  # worst first


def test_runtime_over_and_all_under(tmp_path):
    write_bench(tmp_path, "mc_ising2d_L128_correlators.tsv", [(61 * 60.0, 100.0)])
    write_bench(tmp_path, "p3/ising2d_sample_L8.tsv", [(30.0, "NA")])
    t = cr.compare(cr.parse_dryrun(DRYRUN), cr.read_benchmarks(tmp_path)).set_index("key")
    assert t.loc["mc_ising2d_L128_correlators.tsv", "over_time"]
    assert not t.loc["mc_ising2d_L128_correlators.tsv", "over_mem"]
    assert math.isnan(t.loc["p3/ising2d_sample_L8.tsv", "max_rss"])
    assert not t.loc["p3/ising2d_sample_L8.tsv", "flagged"]
    write_bench(tmp_path, "mc_ising2d_L128_correlators.tsv", [(59 * 60.0, 3000.0)])
    (tmp_path / "dry.txt").write_text(DRYRUN)
    assert cr.main([str(tmp_path), "--dryrun-output", str(tmp_path / "dry.txt")]) == 0


def test_bad_results_dir(tmp_path):
    with pytest.raises(ValueError, match="benchmarks"):
        cr.read_benchmarks(tmp_path / "nowhere")
    write_bench(tmp_path, "a.tsv", [(1.0, 1.0)])
    (tmp_path / "benchmarks" / "b.tsv").write_text("x\ty\n1\t2\n")
    with pytest.raises(ValueError, match="max_rss"):
        cr.read_benchmarks(tmp_path)
