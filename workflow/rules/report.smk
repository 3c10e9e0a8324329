# Claims, the config used and the per-rule benchmark table, as report pages (include last).
PATHS.update(
    {
        "measurements": "analysis/claims/measurements.parquet",
        "claims_md": "claims.md",
        "claims_csv": "claims.csv",
    }
)


rule claims:
    """Every stage's measurements → the claims table, with verdicts from the claims registry."""
    input:
        parts=CLAIM_FILES,
    output:
        measurements=path("measurements"),
        claims=path("claims"),
        markdown=path("claims_md"),
        csv=path("claims_csv"),
    log:
        path("log", name="claims"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=params_json({"preset": config["preset"]}, fp("claims", "stages/report")),
    shell:
        cg(
            "report.collect-claims",
            inputs=["parts"],
            outputs=["measurements", "claims", "markdown", "csv"],
        )


rule report_claims:
    input:
        claims=path("claims"),
    output:
        html=report(path("report_claims"), caption="../report/claims.rst", category="6. Claims"),
    log:
        path("log", name="report_claims"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=params_json({}, fp("plots", "stages/report")),
    shell:
        cg("report.report-claims", inputs=["claims"], outputs=["html"])


rule report_config:
    output:
        yaml=path("config_used"),
        html=report(path("report_config"), caption="../report/config.rst", category="7. Run"),
    log:
        path("log", name="report_config"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=params_json({"config": config}, fp("plots", "stages/report")),
    shell:
        cg("report.report-config", outputs=["yaml", "html"])


rule report_benchmarks:
    input:
        benchmarks=BENCHMARKS,
    output:
        table=path("benchmark_table"),
        html=report(
            path("report_benchmarks"), caption="../report/benchmarks.rst", category="7. Run"
        ),
    log:
        path("log", name="report_benchmarks"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=params_json({}, fp("plots", "stages/report")),
    shell:
        cg("report.report-benchmarks", inputs=["benchmarks"], outputs=["table", "html"])


REPORT_TARGETS = [
    path("claims"),
    path("report_claims"),
    path("report_config"),
    path("report_benchmarks"),
]
