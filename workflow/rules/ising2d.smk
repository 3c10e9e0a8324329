# 2D nearest-neighbour Ising: Monte Carlo samples, observables, exact curves, Binder crossings.
ISING = config["ising2d"]
ISING_T = [fmt_t(t) for t in ISING["temperatures"]]


rule ising2d_sample:
    """All temperatures of one size in one job: the chains of every temperature move together."""
    output:
        spins=[path("ising2d_spins", L="{L}", T=t) for t in ISING_T],
    log:
        path("log", name="ising2d_sample_L{L}"),
    benchmark:
        path("benchmark", name="ising2d_sample_L{L}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=ising_spins_mem_mb,
        runtime=ising_sample_runtime,
    params:
        json=ising_sample_params,
    shell:
        cg("ising2d.sample-ising2d", outputs=["spins"])


rule ising2d_observables:
    input:
        spins=[path("ising2d_spins", L="{L}", T=t) for t in ISING_T],
    output:
        table=path("ising2d_observables", L="{L}"),
    log:
        path("log", name="ising2d_observables_L{L}"),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=ising_spins_mem_mb,
        runtime=lambda wildcards, attempt: 30 * attempt,
    params:
        json=params_json({"n_blocks": ISING["n_blocks"]}, fp("lattice", "stages/ising2d")),
    shell:
        cg("ising2d.observables-ising2d", inputs=["spins"], outputs=["table"])


rule ising2d_exact:
    output:
        table=path("ising2d_exact"),
    log:
        path("log", name="ising2d_exact"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=params_json(
            {"sizes": ISING["sizes"], **ISING["exact_grid"]}, fp("lattice", "stages/ising2d")
        ),
    shell:
        cg("ising2d.exact-ising2d", outputs=["table"])


rule ising2d_critical:
    input:
        observables=expand(path("ising2d_observables", L="{L}"), L=ISING["sizes"]),
    output:
        crossings=path("ising2d_crossings"),
        claims=path("claims_part", name="ising2d"),
    log:
        path("log", name="ising2d_critical"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=params_json(
            {"binder_window": ISING["binder_window"], "seed": config["seed"]},
            fp("lattice", "analysis", "stages/ising2d"),
        ),
    shell:
        cg("ising2d.critical-ising2d", inputs=["observables"], outputs=["crossings", "claims"])


rule figure_ising2d_thermodynamics:
    input:
        observables=expand(path("ising2d_observables", L="{L}"), L=ISING["sizes"]),
        exact=path("ising2d_exact"),
    output:
        figure=report(
            path("figure", name="ising2d_thermodynamics"),
            caption="../report/ising2d_thermodynamics.rst",
            category="1. Monte Carlo",
            subcategory="2D Ising vs exact",
        ),
    log:
        path("log", name="figure_ising2d_thermodynamics"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=params_json({"pdf": config["figures"]["pdf"]}, fp("plots", "stages/ising2d")),
    shell:
        cg("ising2d.figure-thermodynamics", inputs=["observables", "exact"], outputs=["figure"])


rule figure_ising2d_binder:
    input:
        observables=expand(path("ising2d_observables", L="{L}"), L=ISING["sizes"]),
        crossings=path("ising2d_crossings"),
    output:
        figure=report(
            path("figure", name="ising2d_binder"),
            caption="../report/ising2d_binder.rst",
            category="1. Monte Carlo",
            subcategory="2D Ising vs exact",
        ),
    log:
        path("log", name="figure_ising2d_binder"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=params_json(
            {"pdf": config["figures"]["pdf"], "binder_window": ISING["binder_window"]},
            fp("plots", "stages/ising2d"),
        ),
    shell:
        cg("ising2d.figure-binder", inputs=["observables", "crossings"], outputs=["figure"])


ALL_TARGETS += [
    path("figure", name="ising2d_thermodynamics"),
    path("figure", name="ising2d_binder"),
]
CLAIM_FILES += [path("claims_part", name="ising2d")]
BENCHMARKS += expand(path("benchmark", name="ising2d_sample_L{L}"), L=ISING["sizes"])
