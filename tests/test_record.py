"""The reproduction record (``make record``): timing from benchmark files, per-rule sums, the
size budget, and an honest status for unfinished runs."""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

from coarsegrain.stages import record


def test_busy_seconds_is_the_union_of_job_intervals():
    jobs = pd.DataFrame({"start_s": [0.0, 5.0, 30.0, 31.0, 100.0],
                         "end_s": [10.0, 20.0, 40.0, 35.0, 101.0]})
    # [0, 20] ∪ [30, 40] ∪ [100, 101]: the gaps (a resumed run's pauses) do not count
    assert record.busy_seconds(jobs) == pytest.approx(20 + 10 + 1)


def test_benchmark_stems_map_to_their_rule(repo_root):
    """From each rule's benchmark: directive, also where the stem does not start with the rule
    name (mc_ising2d_L16_correlators) and for rules declared inside an if (iso_sample)."""
    pats = record.benchmark_patterns(repo_root / "workflow/rules")
    assert {"iso_sample", "rbm_train", "rbm_train_stack"} <= set(pats)
    assert set(pats) == set(record.rule_names(repo_root / "workflow/rules"))
    for stem, rule in (("rbm_train_stack_L16_seed1", "rbm_train_stack"),
                       ("rbm_train_L10_nh81_tc_seed0", "rbm_train"),
                       ("flows_lr_stack_s0.75_seed1", "flows_lr_stack"),
                       ("mc_ising2d_L16_correlators", "mc_ising2d_correlators"),
                       ("iso_sample", "iso_sample"),
                       ("flows_thermometer_ising2d_L8_seed2", "flows_thermometer")):
        assert record.rule_of(stem, pats) == rule, stem


def test_remaining_jobs_reads_a_dry_run():
    assert record.remaining_jobs("Building DAG of jobs...\nNothing to be done (all requested "
                                 "files are present and up to date).") == 0
    assert record.remaining_jobs("Job stats:\njob  count\n-----\nall  1\ntotal  17\n") == 17
    assert record.remaining_jobs(None) is None


def _fake_run(tmp_path, n_figures=3):
    """A run folder with three timed jobs, a claims table and ``n_figures`` figures."""
    from PIL import Image

    res = tmp_path / "results/demo"
    (res / "benchmarks").mkdir(parents=True)
    (res / "figures").mkdir()
    t0 = 1_700_000_000
    for stem, secs, end in (("rbm_train_L8_seed0", 50.0, 60), ("rbm_train_L8_seed1", 40.0, 65),
                            ("claims", 2.0, 200)):
        p = res / "benchmarks" / f"{stem}.tsv"
        p.write_text(f"s\th:m:s\tmax_rss\tcpu_time\n{secs}\t0:00:00\t100.0\t{secs / 2}\n")
        os.utime(p, (t0 + end, t0 + end))
    pd.DataFrame({"id": ["a", "b"], "kind": ["check", "thesis"], "verdict": ["pass", "reproduced"],
                  "figure": ["fig_b", "fig_*x"]}).to_csv(res / "claims.csv", index=False)
    (res / "claims.md").write_text("# Claims\n")
    (res / "config.yaml").write_text("preset: demo\n")
    rng = __import__("numpy").random.default_rng(0)
    for name in ["fig_a", "fig_b", "fig_cx"][:n_figures]:
        arr = (rng.random((300, 400, 3)) * 255).astype("uint8")
        Image.fromarray(arr).save(res / "figures" / f"{name}.png")
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "x.smk").write_text("rule rbm_train:\n    shell: 'x'\n\nrule claims:\n    shell: 'y'\n")
    return res, rules


def test_record_of_a_finished_run(tmp_path):
    res, rules = _fake_run(tmp_path)
    dest = tmp_path / "record"
    s = record.make_record(res, dest, rules_dir=rules, dry_run_output="Nothing to be done.")
    assert s["complete"] and s["jobs"] == 3 and s["remaining"] == 0
    # jobs start at end - seconds: first start t0+10, last end t0+200
    assert s["span_s"] == pytest.approx(190.0)
    assert s["busy_s"] == pytest.approx((65 - 10) + 2)
    by_rule = pd.read_csv(dest / "rules.csv").set_index("rule")
    assert by_rule.loc["rbm_train", "jobs"] == 2 and by_rule.loc["rbm_train", "total_s"] == 90.0
    assert by_rule.loc["rbm_train", "cpu_s"] == 45.0
    # the figures a claim names come first
    assert s["figures"][:2] == ["fig_b.png", "fig_cx.png"] and s["figures_left_out"] == []
    text = (dest / "README.md").read_text()
    assert "complete: every job finished" in text and "| rbm_train | 2 | 90.0 |" in text
    assert "3 min 10 s" in text  # the span
    for f in ("claims.md", "claims.csv", "config.yaml", "jobs.csv", "rules.csv"):
        assert (dest / f).exists(), f


def test_record_keeps_its_size_budget_and_lists_what_it_left_out(tmp_path):
    res, rules = _fake_run(tmp_path)
    dest = tmp_path / "record"
    one = max(record.shrink_png(f, tmp_path / f.name) for f in (res / "figures").glob("*.png"))
    s = record.make_record(res, dest, rules_dir=rules, budget=one + 25_000)
    assert s["bytes"] <= one + 25_000 + 5_000
    assert len(s["figures"]) == 1 and s["figures"][0] == "fig_b.png"
    assert set(s["figures_left_out"]) == {"fig_a.png", "fig_cx.png"}
    assert "fig_cx.png, fig_a.png" in (dest / "README.md").read_text()


def test_record_of_an_unfinished_run_says_so(tmp_path):
    res, rules = _fake_run(tmp_path, n_figures=0)
    (res / "claims.csv").unlink()
    s = record.make_record(res, tmp_path / "r1", rules_dir=rules, dry_run_output="total  12\n")
    assert not s["complete"] and s["remaining"] == 12
    text = (tmp_path / "r1/README.md").read_text()
    assert "**incomplete**: the claims table is missing" in text and "left by `snakemake -n`: 12" in text
    shutil.rmtree(res / "benchmarks")
    (res / "benchmarks").mkdir()
    with pytest.raises(ValueError, match="nothing ran"):
        record.make_record(res, tmp_path / "r2", rules_dir=rules)
    with pytest.raises(FileNotFoundError, match="run the preset first"):
        record.make_record(tmp_path / "nowhere", tmp_path / "r3", rules_dir=rules)


def test_record_of_the_ci_run(run, repo_root, tmp_path):
    """On the session's real ci run: every benchmark file is a job row, every job maps to a
    declared rule, and the figures fit the default budget."""
    res = run / "results/ci"
    s = record.make_record(res, tmp_path / "ci", rules_dir=repo_root / "workflow/rules")
    jobs = pd.read_csv(tmp_path / "ci/jobs.csv")
    assert len(jobs) == len(list((res / "benchmarks").glob("*.tsv"))) == s["jobs"]
    declared = set(record.benchmark_patterns(repo_root / "workflow/rules"))
    assert set(jobs["rule"]) <= declared, set(jobs["rule"]) - declared
    assert 0 < s["busy_s"] <= s["span_s"]
    assert s["bytes"] <= record.DEFAULT_BUDGET and s["figures"]


def test_record_summarises_requests_against_use(tmp_path):
    """With check_resources' table the record keeps it and counts the jobs over a request per
    rule; a job within its request is not counted."""
    res, rules = _fake_run(tmp_path, n_figures=0)
    table = pd.DataFrame({
        "key": ["rbm_train_L8_seed0.tsv", "rbm_train_L8_seed1.tsv", "claims.tsv"],
        "rule": ["rbm_train", "rbm_train", "claims"],
        "mem_mib": [80.0, 200.0, 500.0], "max_rss": [100.0, 100.0, 100.0],
        "runtime_min": [10.0, 10.0, 1.0], "minutes": [50 / 60, 40 / 60, 2 / 60],
        "over_mem": [True, False, False], "over_time": [False, False, False],
        "flagged": [True, False, False]})
    s = record.make_record(res, tmp_path / "r", rules_dir=rules, resources=table)
    assert s["over_request"] == 1
    assert len(pd.read_csv(tmp_path / "r/resources.csv")) == 3
    text = (tmp_path / "r/README.md").read_text()
    assert "Jobs over a request: **1**" in text
    assert "| rbm_train | 2 | 200.0 | 100.0 | 10.0 | 0.8 | 1 |" in text
    assert "| claims | 1 | 500.0 | 100.0 | 1.0 | 0.0 | 0 |" in text
    assert record.make_record(res, tmp_path / "r2", rules_dir=rules)["over_request"] is None
