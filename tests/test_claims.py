"""The claims registry, comparisons and verdicts.

For every comparison kind: a measurement that must hold, one that must fail, and one that must be
inconclusive; then the registry (ids unique, every stage's id declared), seed aggregation, controls
and rendering.
"""

import math

import pandas as pd
import pytest

from coarsegrain.claims import (
    REGISTRY,
    Bound,
    Differs,
    Equal,
    Range,
    Sign,
    evaluate,
    find_spec,
    measurement,
    measurements_frame,
    to_markdown,
)
from coarsegrain.claims.compare import FAILS, HOLDS, INCONCLUSIVE
from coarsegrain.claims.evaluate import declared_not_measured, format_value, to_html
from coarsegrain.claims.registry import check_registry

NAN = math.nan
INF = math.inf

CASES = [
    # (comparison, (value, error, extra kwargs), expected outcome)
    (Equal(0.125, tol=0.02), (0.13, 0.005, {}), HOLDS),
    (Equal(0.125, tol=0.02), (0.30, 0.005, {}), FAILS),
    (Equal(0.125, tol=0.02, max_error=0.05), (0.13, 0.2, {}), INCONCLUSIVE),
    (Equal(0.125), (NAN, 0.01, {}), INCONCLUSIVE),
    (Equal(2.269, tol=0.3), (2.58, 0.5, {}), INCONCLUSIVE),  # less precise than its allowance
    (Equal(1.0, tol=0.1), (1.0, NAN, {}), INCONCLUSIVE),     # no error: cannot be tested
    (Equal(2.269, max_tol=0.5), (2.27, 0.01, {"tolerance": 0.2}), HOLDS),
    (Equal(2.269, max_tol=0.5), (3.00, 0.01, {"tolerance": 0.2}), FAILS),
    (Equal(2.269, max_tol=0.5), (2.27, 0.01, {"tolerance": 1.7}), INCONCLUSIVE),  # blunt ruler
    (Equal(2.269, max_tol=0.5), (2.27, 0.01, {"tolerance": INF}), INCONCLUSIVE),
    (Equal(2.269, max_tol=0.5), (4.40, 0.10, {"tolerance": 0.8}), FAILS),  # misses even so
    (Equal(), (0.2, 0.01, {"reference": 0.21, "reference_error": 0.01}), HOLDS),
    (Equal(), (0.4, 0.01, {"reference": 0.21, "reference_error": 0.01}), FAILS),
    (Bound(5.0, upper=True), (4.0, 0.1, {}), HOLDS),
    (Bound(5.0, upper=True), (6.0, 0.1, {}), FAILS),
    (Bound(5.0, upper=True), (4.9, 0.1, {}), INCONCLUSIVE),   # 3σ reaches over the bound
    (Bound(0.7, upper=False), (0.49, 0.12, {}), INCONCLUSIVE),  # was "agrees" with ≥ 0.7
    (Range(4, 100), (50.0, 5.0, {}), HOLDS),                    # a speedup of 50 is in the range
    (Range(4, 100), (1.5, 0.2, {}), FAILS),
    (Range(4, 100), (3.9, 0.5, {}), INCONCLUSIVE),
    (Range(4, 100), (30.0, NAN, {"censored": True}), INCONCLUSIVE),  # a lower limit only
    (Range(4, 100), (300.0, NAN, {"censored": True}), FAILS),
    (Range(4, math.inf), (30.0, NAN, {"censored": True}), HOLDS),
    (Sign(+1), (0.5, 0.1, {}), HOLDS),
    (Sign(+1), (-0.5, 0.1, {}), FAILS),
    (Sign(+1), (0.012, 0.01, {}), INCONCLUSIVE),   # an effect within its error of zero
    (Sign(-1), (0.0, 0.0001, {}), INCONCLUSIVE),   # exactly zero never holds
    (Differs(0.12, resolution=0.05), (0.25, 0.01, {}), HOLDS),
    (Differs(0.12, resolution=0.05), (0.121, 0.001, {}), FAILS),
    (Differs(0.12, resolution=0.05), (0.2, 0.05, {}), INCONCLUSIVE),
]


@pytest.mark.parametrize("cmp, meas, expected", CASES)
def test_each_comparison_can_hold_fail_and_be_inconclusive(cmp, meas, expected):
    value, error, kw = meas
    assert cmp.evaluate(value, error, **kw).outcome == expected


def test_every_kind_has_all_three_outcomes():
    seen = {}
    for cmp, _, expected in CASES:
        seen.setdefault(type(cmp).__name__, set()).add(expected)
    assert seen and all(v == {HOLDS, FAILS, INCONCLUSIVE} for v in seen.values()), seen


def test_measured_tolerance_widens_equality():
    e = Equal(2.269, tol=0.1)
    assert e.evaluate(2.6, 0.01).outcome == FAILS
    assert e.evaluate(2.6, 0.01, tolerance=0.4).outcome == HOLDS


def test_registry_is_consistent_and_ids_match():
    check_registry()
    spec, params = find_spec("flows/longrange_s0.75/nh32_tc/delta_sigma_differs_from_mc")
    assert spec.kind == "thesis" and params == {"sigma": "0.75", "rbm": "nh32_tc"}
    with pytest.raises(ValueError, match="not declared"):
        find_spec("flows/ising2d/made_up_claim")
    kinds = {s.kind for s in REGISTRY}
    assert kinds == {"check", "thesis"}


def test_undeclared_measurement_is_an_error():
    with pytest.raises(ValueError, match="not declared"):
        evaluate(measurements_frame([measurement("nonsense/claim", 1.0, 0.1)]))


def test_duplicate_seed_is_an_error():
    rows = [measurement("ising2d/tc_binder", 2.27, 0.01), measurement("ising2d/tc_binder", 2.27, 0.01)]
    with pytest.raises(ValueError, match="twice"):
        evaluate(measurements_frame(rows))


def _end_t(values, errors=0.01):
    return [measurement("flows/ising2d/nh81_tc/end_temperature/mc", v, errors, seed=i)
            for i, v in enumerate(values)]


def test_between_seed_error_and_seed_count():
    c = evaluate(measurements_frame(_end_t([2.1, 2.3, 2.5]))).iloc[0]
    assert c["value"] == pytest.approx(2.3)
    assert c["error"] == pytest.approx(pd.Series([2.1, 2.3, 2.5]).std() / math.sqrt(3))
    assert c["n_seeds"] == 3
    assert c["seeds_reproducing"] == 3  # each within 0.3 + 3·0.01 of T_c
    assert c["verdict"] == "reproduced"
    # seeds that scatter widely make the mean's error large, and each seed fails on its own
    c = evaluate(measurements_frame(_end_t([1.0, 3.5, 2.3]))).iloc[0]
    assert c["seeds_reproducing"] == 1
    assert c["error"] > 0.5


def test_check_verdicts_are_pass_or_fail():
    rows = [measurement("ising2d/tc_binder", 2.2692, 0.001),
            measurement("mc/ising2d/L32/delta_spin", 0.30, 0.01),
            measurement("mc/ising2d/L32/delta_energy", NAN, NAN)]
    c = evaluate(measurements_frame(rows)).set_index("id")
    assert c.loc["ising2d/tc_binder", "verdict"] == "pass"
    assert c.loc["mc/ising2d/L32/delta_spin", "verdict"] == "fail"
    assert c.loc["mc/ising2d/L32/delta_energy", "verdict"] == "fail"  # could not be verified


def test_differs_claim_needs_its_control():
    diff = [measurement("flows/longrange_s0.75/nh32_tc/delta_sigma_differs_from_mc", 0.25, 0.01,
                        seed=s, reference=0.12, reference_error=0.005) for s in (0, 1)]
    ctrl_ok = [measurement("flows/ising2d/nh81_tc/delta_sigma", 0.13, 0.01, seed=s) for s in (0, 1)]
    ctrl_bad = [measurement("flows/ising2d/nh81_tc/delta_sigma", 0.40, 0.01, seed=s) for s in (0, 1)]
    cid = "flows/longrange_s0.75/nh32_tc/delta_sigma_differs_from_mc"
    alone = evaluate(measurements_frame(diff)).set_index("id")
    assert alone.loc[cid, "verdict"] == "inconclusive" and "not measured" in alone.loc[cid, "reason"]
    good = evaluate(measurements_frame(diff + ctrl_ok)).set_index("id")
    assert good.loc[cid, "verdict"] == "reproduced"
    bad = evaluate(measurements_frame(diff + ctrl_bad)).set_index("id")
    assert bad.loc[cid, "verdict"] == "inconclusive"


def test_poor_fit_is_flagged():
    rows = [measurement("mc/ising2d/L32/delta_spin", 0.126, 0.001, chi2_dof=12.0)]
    c = evaluate(measurements_frame(rows)).iloc[0]
    assert "poor fit" in c["flags"]


def test_declared_not_measured_lists_patterns():
    missing = declared_not_measured(["ising2d/tc_binder"])
    assert "ising2d/tc_binder" not in missing and "mc/ising2d/tc_binder" in missing


def test_rendering_rounds_to_the_error():
    assert format_value(2.27134, 0.0019) == "2.2713 ± 0.0019"
    assert format_value(1.56, 0.4) == "1.56 ± 0.40"
    assert format_value(30.0, NAN, censored=True).startswith("≥ 30")
    df = evaluate(measurements_frame(_end_t([2.1, 2.3, 2.5]) + [measurement("ising2d/tc_binder",
                                                                             2.27, 0.002)]))
    md = to_markdown(df)
    assert "| Iso et al. |" in md and "3/3" in md and "**pass**" in md
    html = to_html(df)
    assert "Thesis claims" in html and "reproduced" in html


def test_readme_section_is_generated(tmp_path):
    from coarsegrain import io
    from coarsegrain.claims.readme import END, START, update_readme

    df = evaluate(measurements_frame(_end_t([2.1, 2.3, 2.5])))
    res = tmp_path / "results/quick"
    res.mkdir(parents=True)
    io.write_table(df, res / "claims.parquet", {"params": {"preset": "quick"}})
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{START}\nold typed table\n{END}\noutro\n")
    text = update_readme(readme, [res / "claims.parquet"])
    assert "old typed table" not in text and text.startswith("intro") and text.endswith("outro\n")
    assert "### quick preset" in text and "3/3" in text and "reproduced" in text
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="section"):
        update_readme(readme, [res / "claims.parquet"])


def test_readme_puts_presets_side_by_side(tmp_path):
    """With a quick and a thesis table, every claim id gets one row with each preset's value and
    verdict; a claim only one preset measured reads — in the other's column."""
    from coarsegrain import io
    from coarsegrain.claims.readme import START, update_readme

    quick = evaluate(measurements_frame(_end_t([2.1, 2.3, 2.5])))
    thesis = evaluate(measurements_frame(_end_t([4.0, 4.2, 4.4]) + [measurement(
        "ising2d/tc_binder", 2.27, 0.002)]))
    paths = []
    for name, df in (("quick", quick), ("thesis", thesis)):
        (tmp_path / name).mkdir()
        io.write_table(df, tmp_path / name / "claims.parquet", {"params": {"preset": name}})
        paths.append(tmp_path / name / "claims.parquet")
    readme = tmp_path / "README.md"
    readme.write_text(f"{START}\n<!-- claims:end -->\n")
    text = update_readme(readme, paths)
    side = text.split("### Presets side by side")[1].split("### quick preset")[0]
    assert "| kind | claim | quick preset | thesis preset |" in side
    row = next(ln for ln in side.splitlines() if ln.startswith("| thesis |"))
    assert "**reproduced**" in row.split(" | ")[2] and "**not reproduced**" in row.split(" | ")[3]
    binder = next(ln for ln in side.splitlines() if "`ising2d/tc_binder`" in ln)
    assert binder.startswith("| check |") and binder.split(" | ")[2] == "—"
    assert f"Source: `{paths[1].as_posix()}`" in text


def test_docs_claims_lists_the_registry(repo_root):
    # docs/claims.md holds the registry table generated by `make readme`: it must be current
    from coarsegrain.claims.registry import registry_markdown

    doc = (repo_root / "docs/claims.md").read_text()
    assert registry_markdown() in doc, "docs/claims.md is stale: run `make readme`"


def test_seed_spread_never_smaller_than_within_run_error():
    # two seeds that agree by chance must not shrink the error below each run's own error
    c = evaluate(measurements_frame(_end_t([2.30, 2.30], errors=0.2))).iloc[0]
    assert c["error"] == pytest.approx(0.2 / math.sqrt(2))


def test_unmeasured_dataset_is_flagged_not_blamed_on_seeds():
    row = measurement("p3/flowers/covinit_speedup", NAN, NAN, n_seeds=0,
                      detail="dataset not available: set datasets.flowers.path")
    c = evaluate(measurements_frame([row])).iloc[0]
    assert c["verdict"] == "inconclusive" and c["flags"].startswith("not measured")


def test_protocols_are_shown_side_by_side():
    from coarsegrain.claims.evaluate import protocols_markdown, protocols_table
    from coarsegrain.claims.registry import find_spec

    p1 = [measurement("flows/ising2d/nh81_tc/end_temperature/T0", 2.3 + 0.01 * s, 0.02, seed=s)
          for s in range(3)]
    iso = [measurement("iso/all/end_temperature/T0", 4.4 + 0.02 * s, 0.02, seed=s)
           for s in range(3)]
    df = evaluate(measurements_frame(p1 + iso))
    p1_proto = find_spec("flows/ising2d/nh81_tc/end_temperature/T0")[0].protocol
    iso_proto = find_spec("iso/all/end_temperature/T0")[0].protocol
    assert p1_proto != iso_proto
    t = protocols_table(df).set_index("question")
    q = find_spec("iso/all/end_temperature/T0")[0].question
    assert "**reproduced** (3/3)" in t.loc[q, p1_proto]
    assert "**not reproduced** (0/3)" in t.loc[q, iso_proto]
    # the Iso controls were not measured here; P1 declares no such control
    q_high = find_spec("iso/high_t/end_temperature/T0")[0].question
    assert t.loc[q_high, iso_proto] == "not run" and t.loc[q_high, p1_proto] == "—"
    md = protocols_markdown(df)
    assert md.startswith("#### Protocols side by side") and md.count("\n| ") == 4
    assert "Protocols side by side" in to_html(df)
    # nothing measured under any compared protocol: no section
    assert protocols_markdown(evaluate(measurements_frame(
        [measurement("ising2d/tc_binder", 2.27, 0.01)]))) == ""
