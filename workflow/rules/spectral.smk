# P3: image datasets, covariance-initialisation experiment, spectral analyses and their figures.
# A dataset no source can provide ends as a zero-row marker table; every later rule still runs,
# writes "not available" outputs, inconclusive claim rows and a placeholder figure.
include: "helpers/spectral.smk"


# Fetch, verify and preprocess one image dataset (or write its 'not available' marker).
rule image_dataset:
    output:
        images=path("image_dataset", dataset="{dataset}"),
    log:
        path("log", name="image_dataset_{dataset}"),
    wildcard_constraints:
        dataset="|".join(IMAGE_DATASETS),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
    params:
        json=dataset_params,
    shell:
        cg("spectral.{wildcards.dataset}", outputs=["images"])


# Autoencoders from random and data-set initialisation, several seeds; speedup to a fixed target
# (censored runs flagged), losses, convergence, pruning, noise rejection.
rule p3_covinit:
    input:
        data=p3_data,
    output:
        **{t: path("p3_table", dataset="{dataset}", table=t) for t in P3_TRAIN_TABLES},
        **{t: path("p3_timing", dataset="{dataset}", table=t) for t in P3_TIMING_TABLES},
    log:
        path("log", name="p3_covinit_{dataset}"),
    benchmark:
        path("benchmark", name="p3_covinit_{dataset}")
    wildcard_constraints:
        dataset=P3_WILDCARD,
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=3000,
        # thesis size (5000 updates x 3 seeds x 2 schemes): 6.2 min at most (the chain, N = 2048)
        runtime=lambda wildcards, attempt: 30 * attempt,
    params:
        json=lambda w: p3_params(w, "rbm"),
    shell:
        cg("spectral.covinit", inputs=["data"], outputs=[*P3_TRAIN_TABLES, *P3_TIMING_TABLES])


# SVD, Fourier, overlap and subspace (k at eigenvalue gaps) analyses of the trained weights,
# covariance-spectrum solvability measures; P3 measurements.
rule p3_spectral:
    input:
        data=p3_data,
        weights=path("p3_table", dataset="{dataset}", table="weights"),
        speedup=path("p3_table", dataset="{dataset}", table="speedup"),
        losses=path("p3_table", dataset="{dataset}", table="losses"),
        pruning=path("p3_table", dataset="{dataset}", table="pruning"),
    output:
        **{t: path("p3_table", dataset="{dataset}", table=t) for t in P3_SPECTRAL_TABLES},
        claims=path("claims_part", name="p3_{dataset}"),
    log:
        path("log", name="p3_spectral_{dataset}"),
    wildcard_constraints:
        dataset=P3_WILDCARD,
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=p3_params,
    shell:
        cg(
            "spectral.spectral",
            inputs=["data", "weights", "speedup", "losses", "pruning"],
            outputs=[*P3_SPECTRAL_TABLES, "claims"],
        )


rule figure_p3:
    input:
        **{
            t: path("p3_table", dataset="{dataset}", table=t)
            for t in [*P3_TRAIN_TABLES, *P3_SPECTRAL_TABLES]
            if t != "weights"
        },
        **{t: path("p3_timing", dataset="{dataset}", table=t) for t in P3_TIMING_TABLES},
    output:
        training=report(
            path("figure", name="p3_{dataset}_training"),
            caption="../report/p3_training.rst",
            category="5. P3 spectra",
            subcategory="{dataset}",
        ),
        spectra=report(
            path("figure", name="p3_{dataset}_spectra"),
            caption="../report/p3_spectra.rst",
            category="5. P3 spectra",
            subcategory="{dataset}",
        ),
        reconstructions=report(
            path("figure", name="p3_{dataset}_reconstructions"),
            caption="../report/p3_reconstructions.rst",
            category="5. P3 spectra",
            subcategory="{dataset}",
        ),
    log:
        path("log", name="figure_p3_{dataset}"),
    wildcard_constraints:
        dataset=P3_WILDCARD,
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=lambda w: p3_params(w, "plots/spectral", "plots/style"),
    shell:
        cg(
            "spectral.spectral-figures",
            inputs=[
                t
                for t in [*P3_TRAIN_TABLES, *P3_SPECTRAL_TABLES, *P3_TIMING_TABLES]
                if t != "weights"
            ],
            outputs=P3_FIGURES,
        )


# SVD / Fourier / low-pass overlap of the P1 RBMs (every training seed) against a null.
rule p3_rbm:
    input:
        rbm=p3_rbm_models,
    output:
        **{t: path("p3_rbm_table", rbm="{rbm}", table=t) for t in P3_RBM_TABLES},
        claims=path("claims_part", name="p3_rbm_{rbm}"),
    log:
        path("log", name="p3_rbm_{rbm}"),
    wildcard_constraints:
        rbm="|".join(P3_RBMS) if P3_RBMS else "^$",
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=p3_rbm_params,
    shell:
        cg("spectral.rbm-spectral", inputs=["rbm"], outputs=[*P3_RBM_TABLES, "claims"])


rule figure_p3_rbm:
    input:
        **{t: path("p3_rbm_table", rbm="{rbm}", table=t) for t in P3_RBM_TABLES},
    output:
        figure=report(
            path("figure", name="p3_rbm_{rbm}"),
            caption="../report/p3_rbm.rst",
            category="5. P3 spectra",
            subcategory="RBM",
        ),
    log:
        path("log", name="figure_p3_rbm_{rbm}"),
    wildcard_constraints:
        rbm="|".join(P3_RBMS) if P3_RBMS else "^$",
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=lambda w: p3_rbm_params(w, "plots/spectral", "plots/style"),
    shell:
        cg("spectral.rbm-figure", inputs=P3_RBM_TABLES, outputs=["figure"])


rule figure_p3_solvability:
    """The covariance-spectrum solvability measures of every dataset: one small table and its
    figure (a presentation job: it only collects the per-dataset solvability tables)."""
    input:
        solvability=[path("p3_table", dataset=d, table="solvability") for d in P3_DATASETS],
        covariance=[path("p3_table", dataset=d, table="covariance") for d in P3_DATASETS],
    output:
        table=path("p3_solvability"),
        figure=report(
            path("figure", name="p3_solvability"),
            caption="../report/p3_solvability.rst",
            category="5. P3 spectra",
        ),
    log:
        path("log", name="p3_solvability"),
    conda:
        CONDA_ENV
    threads: 1
    params:
        json=params_json(
            {"pdf": config["figures"]["pdf"], "seed": config["seed"]},
            fp("plots/spectral", "plots/style", "stages/spectral"),
        ),
    shell:
        cg(
            "spectral.solvability",
            inputs=["solvability", "covariance"],
            outputs=["table", "figure"],
        )


ALL_TARGETS += [path("figure", name=f"p3_{d}_{f}") for d in P3_DATASETS for f in P3_FIGURES]
CLAIM_FILES += [path("claims_part", name=f"p3_{d}") for d in P3_DATASETS]
ALL_TARGETS += [path("figure", name=f"p3_rbm_{r}") for r in P3_RBMS]
ALL_TARGETS += [path("figure", name="p3_solvability")] if P3_DATASETS else []
CLAIM_FILES += [path("claims_part", name=f"p3_rbm_{r}") for r in P3_RBMS]
BENCHMARKS += [path("benchmark", name=f"p3_covinit_{d}") for d in P3_DATASETS]
