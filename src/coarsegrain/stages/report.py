"""Entry points of ``workflow/rules/report.smk``: the claims table and the report pages.

Called as ``python -m coarsegrain report.<name>``.
"""

from __future__ import annotations

import pandas as pd

from coarsegrain import io
from coarsegrain.cli import StageContext
from coarsegrain.io import atomic_path


def collect_claims(ctx: StageContext) -> None:
    """Every stage's measurements → ``measurements`` (all rows), ``claims`` (one row per claim,
    verdicts from :mod:`coarsegrain.claims.registry`), and the same table as ``markdown`` and
    ``csv``. Fails when a stage measured a claim the registry does not declare."""
    from coarsegrain.claims.evaluate import declared_not_measured, evaluate, to_markdown
    from coarsegrain.claims.measure import measurements_frame

    frames = [io.read_table(f)[0] for f in ctx.inputs.get("parts", [])]
    frames = [f for f in frames if len(f)]
    meas = pd.concat(frames, ignore_index=True) if frames else measurements_frame([])
    meas = meas.sort_values(["claim", "seed"]).reset_index(drop=True)
    io.write_table(meas, ctx.output("measurements"), ctx.provenance())
    df = evaluate(meas)
    io.write_table(df, ctx.output("claims"), ctx.provenance())
    with atomic_path(ctx.output("csv")) as tmp:
        df.to_csv(tmp, index=False)
    preset = ctx.params.get("preset", "")
    head = (f"# Claims{f' ({preset} preset)' if preset else ''}\n\n"
            "Generated from `claims.parquet` by `report.collect-claims`; verdicts come from the "
            "claims registry (`src/coarsegrain/claims/registry.py`). Value ± error: for claims on "
            "trained models, mean ± between-seed standard error; *seeds* = seeds that reproduce "
            "the claim on their own / seeds trained.\n\n")
    with atomic_path(ctx.output("markdown")) as tmp:
        tmp.write_text(head + to_markdown(df), encoding="utf-8")
    for pattern in declared_not_measured(df["id"]):
        ctx.log.warning("registry claim %s was not measured by this configuration", pattern)
    for r in df.itertuples():
        ctx.log.info("%-60s %10.5g ± %-10.3g %s %s", r.id, r.value, r.error, r.comparison, r.verdict)


def report_claims(ctx: StageContext) -> None:
    from coarsegrain.io import atomic_path
    from coarsegrain.plots.tables import claims_html

    claims, _ = io.read_table(ctx.input("claims"))
    with atomic_path(ctx.output("html")) as tmp:
        tmp.write_text(claims_html(claims), encoding="utf-8")

def report_benchmarks(ctx: StageContext) -> None:
    from coarsegrain.io import atomic_path
    from coarsegrain.plots.tables import benchmarks_html, benchmarks_table

    table = benchmarks_table(ctx.inputs.get("benchmarks", []))
    io.write_table(table, ctx.output("table"), ctx.provenance())
    with atomic_path(ctx.output("html")) as tmp:
        tmp.write_text(benchmarks_html(table), encoding="utf-8")

def report_config(ctx: StageContext) -> None:
    import yaml

    from coarsegrain.io import atomic_path
    from coarsegrain.plots.tables import config_html

    text = yaml.safe_dump(ctx.params["config"], sort_keys=True, default_flow_style=None, width=100)
    with atomic_path(ctx.output("yaml")) as tmp:
        tmp.write_text(text, encoding="utf-8")
    with atomic_path(ctx.output("html")) as tmp:
        tmp.write_text(config_html(text), encoding="utf-8")


STAGES = {
    "collect-claims": collect_claims,
    "report-claims": report_claims,
    "report-benchmarks": report_benchmarks,
    "report-config": report_config,
}
