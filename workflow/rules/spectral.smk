# P3: image datasets, covariance-initialisation experiment, spectral analyses and their figures.
# A dataset no source can provide ends as a zero-row marker table; every later rule still runs,
# writes "not available" outputs, inconclusive claim rows and a placeholder figure.
include: "helpers/spectral.smk"


rule image_dataset:
    """Fetch, verify and preprocess one image dataset (or write its 'not available' marker)."""
    wildcard_constraints:
        dataset="|".join(IMAGE_DATASETS),
    output:
        images=path("image_dataset", dataset="{dataset}"),
    params:
        json=dataset_params,
    log:
        path("log", name="image_dataset_{dataset}"),
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=3000,
    shell:
        cg("data.{wildcards.dataset}", outputs=["images"])


rule p3_covinit:
    """Autoencoders from random and covariance initialisation, several seeds."""
    wildcard_constraints:
        dataset=P3_WILDCARD,
    input:
        data=p3_data,
    output:
        **{t: path("p3_table", dataset="{dataset}", table=t) for t in P3_TRAIN_TABLES},
        **{t: path("p3_timing", dataset="{dataset}", table=t) for t in P3_TIMING_TABLES},
    params:
        json=lambda w: p3_params(w, "rbm"),
    log:
        path("log", name="p3_covinit_{dataset}"),
    benchmark:
        path("benchmark", name="p3_covinit_{dataset}")
    threads: 1
    conda:
        CONDA_ENV
    resources:
        mem_mb=3000,
    shell:
        cg("analysis.covinit", inputs=["data"], outputs=[*P3_TRAIN_TABLES, *P3_TIMING_TABLES])


rule p3_spectral:
    """SVD, Fourier, overlap and subspace analyses of the trained weights; claims."""
    wildcard_constraints:
        dataset=P3_WILDCARD,
    input:
        data=p3_data,
        weights=path("p3_table", dataset="{dataset}", table="weights"),
        speedup=path("p3_table", dataset="{dataset}", table="speedup"),
    output:
        **{t: path("p3_table", dataset="{dataset}", table=t) for t in P3_SPECTRAL_TABLES},
        claims=path("claims_part", name="p3_{dataset}"),
    params:
        json=p3_params,
    log:
        path("log", name="p3_spectral_{dataset}"),
    threads: 1
    conda:
        CONDA_ENV
    shell:
        cg("analysis.spectral", inputs=["data", "weights", "speedup"],
           outputs=[*P3_SPECTRAL_TABLES, "claims"])


rule figure_p3:
    wildcard_constraints:
        dataset=P3_WILDCARD,
    input:
        **{t: path("p3_table", dataset="{dataset}", table=t)
           for t in [*P3_TRAIN_TABLES, *P3_SPECTRAL_TABLES] if t != "weights"},
        **{t: path("p3_timing", dataset="{dataset}", table=t) for t in P3_TIMING_TABLES},
    output:
        training=report(path("figure", name="p3_{dataset}_training"),
                        caption="../report/p3_training.rst", category="P3 spectra",
                        subcategory="{dataset}"),
        spectra=report(path("figure", name="p3_{dataset}_spectra"),
                       caption="../report/p3_spectra.rst", category="P3 spectra",
                       subcategory="{dataset}"),
        reconstructions=report(path("figure", name="p3_{dataset}_reconstructions"),
                               caption="../report/p3_reconstructions.rst", category="P3 spectra",
                               subcategory="{dataset}"),
    params:
        json=lambda w: p3_params(w, "plots/spectral", "plots/style"),
    log:
        path("log", name="figure_p3_{dataset}"),
    threads: 1
    conda:
        CONDA_ENV
    shell:
        cg("analysis.spectral-figures",
           inputs=[t for t in [*P3_TRAIN_TABLES, *P3_SPECTRAL_TABLES, *P3_TIMING_TABLES] if t != "weights"],
           outputs=P3_FIGURES)


ALL_TARGETS += [path("figure", name=f"p3_{d}_{f}") for d in P3_DATASETS for f in P3_FIGURES]
CLAIM_FILES += [path("claims_part", name=f"p3_{d}") for d in P3_DATASETS]
BENCHMARKS += [path("benchmark", name=f"p3_covinit_{d}") for d in P3_DATASETS]
