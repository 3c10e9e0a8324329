# Every stage's claims rows, collected into results/<preset>/claims.parquet (include last).


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
