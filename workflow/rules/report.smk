# Claims, the config used and the per-rule benchmark table, as report pages (include last).


rule claims:
    input:
        parts=CLAIM_FILES,
    output:
        claims=path("claims"),
    params:
        json=params_json({}, fp("analysis")),
    log:
        path("log", name="claims"),
    threads: 1
    conda:
        CONDA_ENV
    shell:
        cg("analysis.collect-claims", inputs=["parts"], outputs=["claims"])


rule report_claims:
    input:
        claims=path("claims"),
    output:
        html=report(path("report_claims"), caption="../report/claims.rst", category="0. Claims"),
    params:
        json=params_json({}, fp("plots")),
    log:
        path("log", name="report_claims"),
    threads: 1
    conda:
        CONDA_ENV
    shell:
        cg("plots.report-claims", inputs=["claims"], outputs=["html"])


rule report_config:
    output:
        yaml=path("config_used"),
        html=report(path("report_config"), caption="../report/config.rst", category="9. Run"),
    params:
        json=params_json({"config": config}, fp("plots")),
    log:
        path("log", name="report_config"),
    threads: 1
    conda:
        CONDA_ENV
    shell:
        cg("plots.report-config", outputs=["yaml", "html"])


rule report_benchmarks:
    input:
        benchmarks=BENCHMARKS,
    output:
        table=path("benchmark_table"),
        html=report(path("report_benchmarks"), caption="../report/benchmarks.rst", category="9. Run"),
    params:
        json=params_json({}, fp("plots")),
    log:
        path("log", name="report_benchmarks"),
    threads: 1
    conda:
        CONDA_ENV
    shell:
        cg("plots.report-benchmarks", inputs=["benchmarks"], outputs=["table", "html"])


REPORT_TARGETS = [path("claims"), path("report_claims"), path("report_config"), path("report_benchmarks")]
