# Monte Carlo engine: cluster-sampled Binder crossings (T_c) and critical correlators for the
# 2D Ising model and the long-range chain (one T_c artifact per sigma, used downstream).
include: "helpers/montecarlo.smk"


wildcard_constraints:
    sigma="[0-9]+(\\.[0-9]+)?",


rule mc_ising2d_scan:
    """One size over the Binder temperature grid (Wolff near T_c), tau_int per T in the table."""
    output:
        table=path("mc_ising2d_observables", L="{L}"),
    log:
        path("log", name="mc_ising2d_scan_L{L}"),
    benchmark:
        path("benchmark", name="mc_ising2d_scan_L{L}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=mc_scan_runtime,
    params:
        json=lambda w: params_json(
            {
                "L": int(w.L),
                "temperatures": [float(t) for t in MC2["temperatures"]],
                "n_samples": MC2["n_samples"],
                "sampler": MC2["sampler"],
                "window": MC2["window"],
                "seed": config["seed"],
                "device": config["device"],
            },
            fp("lattice", "stages/montecarlo"),
        ),
    shell:
        cg("montecarlo.mc-scan-ising2d", outputs=["table"])


rule mc_ising2d_critical:
    input:
        observables=expand(path("mc_ising2d_observables", L="{L}"), L=MC2["sizes"]),
    output:
        crossings=path("mc_ising2d_tc"),
        claims=path("claims_part", name="mc_ising2d_tc"),
    log:
        path("log", name="mc_ising2d_critical"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=params_json(
            {"n_largest": MC2["n_largest"], "rel_tol": MC2["rel_tol"], "seed": config["seed"]},
            fp("lattice", "analysis", "stages/montecarlo"),
        ),
    shell:
        cg(
            "montecarlo.mc-critical-ising2d",
            inputs=["observables"],
            outputs=["crossings", "claims"],
        )


rule mc_ising2d_correlators:
    """Wolff samples at Onsager's T_c; spin and energy correlators with fits (Delta_sigma, Delta_eps)."""
    output:
        spins=path("mc_ising2d_tc_spins", L=MC2["correlator_size"]),
        correlators=path("mc_correlators", model=MC2_CORR),
        fits=path("mc_fits", model=MC2_CORR),
        claims=path("claims_part", name=f"mc_{MC2_CORR}_correlators"),
    log:
        path("log", name=f"mc_{MC2_CORR}_correlators"),
    benchmark:
        path("benchmark", name=f"mc_{MC2_CORR}_correlators")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=lambda wildcards, attempt: 60 * attempt,
    params:
        json=params_json(
            {
                "model": "ising2d",
                "size": MC2["correlator_size"],
                "n_samples": MC2["correlator_samples"],
                "fit": MC2["fit"],
                "n_groups": MC["n_groups"],
                "seed": config["seed"],
                "device": config["device"],
            },
            fp("lattice", "analysis", "stages/montecarlo"),
        ),
    shell:
        cg("montecarlo.mc-correlators", outputs=["spins", "correlators", "fits", "claims"])


rule mc_longrange_critical:
    """One sigma: coarse then fine Binder scan over all N; the crossings table is the T_c artifact."""
    output:
        observables=path("mc_longrange_observables", sigma="{sigma}"),
        crossings=path("mc_longrange_tc", sigma="{sigma}"),
        claims=path("claims_part", name="mc_longrange_tc_s{sigma}"),
    log:
        path("log", name="mc_longrange_critical_s{sigma}"),
    benchmark:
        path("benchmark", name="mc_longrange_critical_s{sigma}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=lambda wildcards, attempt: 120 * attempt,
    params:
        json=lambda w: params_json(
            {
                "sigma": float(w.sigma),
                "sizes": MCLR["sizes"],
                "n_samples": MCLR["n_samples"],
                "images": MCLR["images"],
                "coarse_points": MCLR["coarse_points"],
                "fine_points": MCLR["fine_points"],
                "fine_halfwidth": MCLR["fine_halfwidth"],
                "n_largest": MCLR["n_largest"],
                "seed": config["seed"],
            },
            fp("lattice", "analysis", "stages/montecarlo"),
        ),
    shell:
        cg("montecarlo.mc-critical-longrange", outputs=["observables", "crossings", "claims"])


rule mc_longrange_correlators:
    """Cluster samples at the measured T_c of one sigma; correlators with fits (Delta_sigma)."""
    input:
        tc=path("mc_longrange_tc", sigma="{sigma}"),
    output:
        spins=path("mc_longrange_tc_spins", sigma="{sigma}", N=MCLR["correlator_size"]),
        correlators=path("mc_correlators", model=mc_lr_corr("{sigma}")),
        fits=path("mc_fits", model=mc_lr_corr("{sigma}")),
        claims=path("claims_part", name=f"mc_{mc_lr_corr('{sigma}')}_correlators"),
    log:
        path("log", name="mc_longrange_correlators_s{sigma}"),
    benchmark:
        path("benchmark", name="mc_longrange_correlators_s{sigma}")
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=lambda wildcards, attempt: 60 * attempt,
    params:
        json=lambda w: params_json(
            {
                "model": "longrange",
                "sigma": float(w.sigma),
                "size": MCLR["correlator_size"],
                "n_samples": MCLR["correlator_samples"],
                "images": MCLR["images"],
                "fit": MCLR["fit"],
                "n_groups": MC["n_groups"],
                "seed": config["seed"],
            },
            fp("lattice", "analysis", "stages/montecarlo"),
        ),
    shell:
        cg(
            "montecarlo.mc-correlators",
            inputs=["tc"],
            outputs=["spins", "correlators", "fits", "claims"],
        )


T_C_2D = 2.269185314213022  # Onsager, drawn as the reference line only


rule figure_mc_ising2d_observables:
    input:
        observables=expand(path("mc_ising2d_observables", L="{L}"), L=MC2["sizes"]),
    output:
        figure=report(
            path("figure", name="mc_ising2d_observables"),
            caption="../report/mc_observables.rst",
            category="1. Monte Carlo",
            subcategory="2D Ising near T_c",
        ),
    log:
        path("log", name="figure_mc_ising2d_observables"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=mc_figure_params("2D Ising near T_c (cluster sampler)", "L", T_C_2D, "Onsager $T_c$"),
    shell:
        cg("montecarlo.figure-observables", inputs=["observables"], outputs=["figure"])


rule figure_mc_ising2d_binder:
    input:
        observables=expand(path("mc_ising2d_observables", L="{L}"), L=MC2["sizes"]),
        crossings=path("mc_ising2d_tc"),
    output:
        figure=report(
            path("figure", name="mc_ising2d_binder"),
            caption="../report/mc_binder.rst",
            category="1. Monte Carlo",
            subcategory="2D Ising near T_c",
        ),
    log:
        path("log", name="figure_mc_ising2d_binder"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=mc_figure_params(
            "2D Ising: Binder crossings (cluster sampler)", "L", T_C_2D, "Onsager $T_c$"
        ),
    shell:
        cg("montecarlo.figure-binder", inputs=["observables", "crossings"], outputs=["figure"])


rule figure_mc_correlators:
    input:
        correlators=path("mc_correlators", model="{model}"),
        fits=path("mc_fits", model="{model}"),
    output:
        figure=report(
            path("figure", name="mc_correlators_{model}"),
            caption="../report/mc_correlators.rst",
            category="1. Monte Carlo",
            subcategory="correlators at T_c",
        ),
    log:
        path("log", name="figure_mc_correlators_{model}"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=lambda w: mc_figure_params(f"Correlators at $T_c$: {w.model}", ""),
    shell:
        cg("montecarlo.figure-correlators", inputs=["correlators", "fits"], outputs=["figure"])


rule figure_mc_longrange_observables:
    input:
        observables=path("mc_longrange_observables", sigma="{sigma}"),
    output:
        figure=report(
            path("figure", name="mc_longrange_observables_s{sigma}"),
            caption="../report/mc_observables.rst",
            category="1. Monte Carlo",
            subcategory="long-range chain",
        ),
    log:
        path("log", name="figure_mc_longrange_observables_s{sigma}"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=lambda w: mc_figure_params(f"long-range chain, σ={w.sigma} (cluster sampler)", "N"),
    shell:
        cg("montecarlo.figure-observables", inputs=["observables"], outputs=["figure"])


rule figure_mc_longrange_binder:
    input:
        observables=path("mc_longrange_observables", sigma="{sigma}"),
        crossings=path("mc_longrange_tc", sigma="{sigma}"),
    output:
        figure=report(
            path("figure", name="mc_longrange_binder_s{sigma}"),
            caption="../report/mc_binder.rst",
            category="1. Monte Carlo",
            subcategory="long-range chain",
        ),
    log:
        path("log", name="figure_mc_longrange_binder_s{sigma}"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=lambda w: mc_figure_params(f"long-range chain, σ={w.sigma}: Binder crossings", "N"),
    shell:
        cg("montecarlo.figure-binder", inputs=["observables", "crossings"], outputs=["figure"])


ALL_TARGETS += [
    path("figure", name="mc_ising2d_observables"),
    path("figure", name="mc_ising2d_binder"),
    path("figure", name=f"mc_correlators_{MC2_CORR}"),
    *[
        path("figure", name=f"mc_longrange_{kind}_s{s}")
        for s in MC_SIGMAS
        for kind in ("observables", "binder")
    ],
    *[path("figure", name=f"mc_correlators_{mc_lr_corr(s)}") for s in MC_SIGMAS],
]
CLAIM_FILES += [
    path("claims_part", name="mc_ising2d_tc"),
    path("claims_part", name=f"mc_{MC2_CORR}_correlators"),
    *[path("claims_part", name=f"mc_longrange_tc_s{s}") for s in MC_SIGMAS],
    *[path("claims_part", name=f"mc_{mc_lr_corr(s)}_correlators") for s in MC_SIGMAS],
]
BENCHMARKS += [
    *expand(path("benchmark", name="mc_ising2d_scan_L{L}"), L=MC2["sizes"]),
    path("benchmark", name=f"mc_{MC2_CORR}_correlators"),
    *[path("benchmark", name=f"mc_longrange_critical_s{s}") for s in MC_SIGMAS],
    *[path("benchmark", name=f"mc_longrange_correlators_s{s}") for s in MC_SIGMAS],
]
