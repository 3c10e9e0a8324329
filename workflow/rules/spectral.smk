# P3: image datasets, covariance-initialisation experiment, spectral analyses and their figures.
# A dataset no source can provide ends as a zero-row marker table; every later rule still runs,
# writes "not available" outputs, inconclusive claim rows and a placeholder figure.
DATASETS = config["datasets"]
SPECTRAL = config["spectral"]
IMAGE_DATASETS = ["mnist", "flowers", "swimseg"]
P3_DATASETS = SPECTRAL["datasets"]

# Output paths of this stage, kept with the rest in the one PATHS table.
PATHS.update({
    "image_dataset": "data/images/{dataset}.parquet",
    "p3_table": "analysis/p3/{dataset}/{table}.parquet",
})
P3_TRAIN_TABLES = ["curves", "speedup", "weights", "noise", "pruning", "reconstructions"]
P3_SPECTRAL_TABLES = ["singular", "fourier", "overlap", "subspace", "covariance"]
P3_FIGURES = ["training", "spectra", "reconstructions"]
P3_WILDCARD = "|".join(["ising2d", "longrange", *IMAGE_DATASETS])


def _ising_spins_for_p3():
    L, T = SPECTRAL["ising2d"]["L"], fmt_t(SPECTRAL["ising2d"]["T"])
    if L not in config["ising2d"]["sizes"] or T not in [fmt_t(t) for t in config["ising2d"]["temperatures"]]:
        raise ValueError(f"spectral.ising2d = {{L: {L}, T: {T}}} is not a sampled lattice; choose L from "
                         f"ising2d.sizes {config['ising2d']['sizes']} and T from ising2d.temperatures")
    return path("ising2d_spins", L=L, T=T)


def _longrange_spins_for_p3():
    sigma = SPECTRAL["longrange"]["sigma"]
    sigma = fmt_sigma(sigma if sigma is not None else config["montecarlo"]["longrange"]["sigmas"][0])
    if sigma not in MC_SIGMAS:
        raise ValueError(f"spectral.longrange.sigma = {sigma} is not sampled; choose one of "
                         f"montecarlo.longrange.sigmas {MC_SIGMAS}")
    return path("mc_longrange_tc_spins", sigma=sigma, N=config["montecarlo"]["longrange"]["correlator_size"])


def p3_data(w):
    """The data a P3 rule trains on: an image dataset table, the Ising spins at (L, T), or the
    long-range chain at its measured T_c."""
    if w.dataset == "ising2d":
        return _ising_spins_for_p3()
    if w.dataset == "longrange":
        return _longrange_spins_for_p3()
    return path("image_dataset", dataset=w.dataset)


def dataset_params(w):
    d = DATASETS[w.dataset]
    params = {k: v for k, v in d.items()}
    params.update(cache_dir=DATASETS["cache_dir"], mode=DATASETS["mode"],
                  threshold=DATASETS["threshold"], seed=config["seed"])
    return params_json(params, fp("data"))


P3_FP = ("analysis/covinit", "analysis/spectral", "analysis/spectral_stages", "analysis/stages",
         "analysis/claims")


def p3_params(w, *extra_parts):
    keys = ["seeds", "n_updates", "optimizer", "lr", "batch_size", "init_std", "weighting",
            "n_train", "n_heldout", "snapshots", "noise_levels", "prune_modes", "n_examples",
            "n_modes", "ks", "k_claim", "method", "claims"]
    params = {k: SPECTRAL[k] for k in keys}
    params.update(dataset=w.dataset, n_hidden=SPECTRAL["n_hidden"][w.dataset], seed=config["seed"],
                  device=config["device"], pdf=config["figures"]["pdf"])
    return params_json(params, fp(*P3_FP, *extra_parts))


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
        cg("analysis.covinit", inputs=["data"], outputs=P3_TRAIN_TABLES)


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
           inputs=[t for t in [*P3_TRAIN_TABLES, *P3_SPECTRAL_TABLES] if t != "weights"],
           outputs=P3_FIGURES)


ALL_TARGETS += [path("figure", name=f"p3_{d}_{f}") for d in P3_DATASETS for f in P3_FIGURES]
CLAIM_FILES += [path("claims_part", name=f"p3_{d}") for d in P3_DATASETS]
BENCHMARKS += [path("benchmark", name=f"p3_covinit_{d}") for d in P3_DATASETS]
