# Constants, paths and helper functions of spectral.smk (kept apart from its rules).
DATASETS = config["datasets"]
SPECTRAL = config["spectral"]
IMAGE_DATASETS = ["mnist", "flowers", "swimseg"]
P3_DATASETS = SPECTRAL["datasets"]

# Output paths of this stage, kept with the rest in the one PATHS table.
PATHS.update(
    {
        "image_dataset": "data/images/{dataset}.parquet",
        "p3_table": "analysis/p3/{dataset}/{table}.parquet",
        "p3_timing": "benchmarks/p3/{dataset}/{table}.parquet",
        "p3_rbm_table": "analysis/p3/rbm/{rbm}/{table}.parquet",
        "p3_solvability": "analysis/p3/solvability.parquet",
    }
)
P3_TIMING_TABLES = ["wall_time", "speedup_seconds"]
P3_TRAIN_TABLES = [
    "curves",
    "speedup",
    "target",
    "losses",
    "convergence",
    "weights",
    "noise",
    "pruning",
    "reconstructions",
]
P3_SPECTRAL_TABLES = ["singular", "fourier", "overlap", "subspace", "covariance", "solvability"]
P3_RBM_TABLES = ["singular", "fourier", "overlap"]
P3_FIGURES = ["training", "spectra", "reconstructions"]
# The P1 RBMs (rule rbm_train, one checkpoint per training seed) analysed on the RBM side of P3,
# and the stacked RBMs ("stack_L{L}", every layer). rbm.smk is included after this file, so its
# helpers are only used inside input functions.
P3_RBMS = (
    [f"nh{nh}_{d}" for nh in config["rbm"]["n_hidden"] for d in config["rbm"]["data"]]
    + [f"stack_L{L}" for L in config["rbm"]["stack"]["sizes"]]
    if config["rbm"]["enabled"] and SPECTRAL["rbm"]["enabled"]
    else []
)
P3_WILDCARD = "|".join(["ising2d", "longrange", *IMAGE_DATASETS])


def _ising_spins_for_p3():
    # (L, T) was checked to be sampled by coarsegrain.config.cross_field_errors
    L, T = SPECTRAL["ising2d"]["L"], fmt_t(SPECTRAL["ising2d"]["T"])
    return path("ising2d_spins", L=L, T=T)


def _longrange_spins_for_p3():
    sigma = SPECTRAL["longrange"]["sigma"]
    # a set sigma was checked to be sampled by coarsegrain.config.cross_field_errors
    sigma = fmt_sigma(
        sigma if sigma is not None else config["montecarlo"]["longrange"]["sigmas"][0]
    )
    return path(
        "mc_longrange_tc_spins", sigma=sigma, N=config["montecarlo"]["longrange"]["correlator_size"]
    )


def p3_data(w):
    """The training data of a P3 job -- an image dataset table, the Ising spins at (L, T), or the
    long-range chain at its measured T_c."""
    if w.dataset == "ising2d":
        return _ising_spins_for_p3()
    if w.dataset == "longrange":
        return _longrange_spins_for_p3()
    return path("image_dataset", dataset=w.dataset)


def dataset_params(w):
    d = DATASETS[w.dataset]
    params = {k: v for k, v in d.items()}
    params.update(
        cache_dir=DATASETS["cache_dir"],
        mode=DATASETS["mode"],
        threshold=DATASETS["threshold"],
        seed=config["seed"],
    )
    return params_json(params, fp("data", "stages/spectral"))


P3_FP = (
    "analysis/covinit",
    "analysis/spectral",
    "analysis/p3",
    "rbm/init",
    "rbm/autoencoder",
    "claims/measure",
)


def p3_rbm_models(w):
    """Checkpoints of P1 RBM (or stack) ``w.rbm``, one per training seed (seed order)."""
    return [rbm_p1_checkpoint(w.rbm, rep) for rep in range(int(config["seeds"]))]


def p3_rbm_params(w, *extra_parts):
    params = {k: SPECTRAL["rbm"][k] for k in ("n_top", "null_model", "null_std")}
    L = rbm_stack_side(w.rbm)
    params.update(
        rbm=w.rbm,
        L=config["rbm"]["L"] if L is None else L,
        stack=L is not None,
        n_modes=SPECTRAL["n_modes"],
        method=SPECTRAL["method"],
        seed=config["seed"],
    )
    if any(part.startswith("plots") for part in extra_parts):  # figure jobs only
        params["pdf"] = config["figures"]["pdf"]
    return params_json(
        params,
        fp(
            "analysis/spectral",
            "analysis/p3",
            "rbm",
            "claims/measure",
            "stages/spectral",
            *extra_parts,
        ),
    )


def p3_params(w, *extra_parts):
    keys = [
        "seeds",
        "schemes",
        "n_updates",
        "optimizer",
        "lr",
        "batch_size",
        "init_std",
        "alpha",
        "target_margin",
        "converge_tol",
        "prune_margin",
        "n_train",
        "n_heldout",
        "snapshots",
        "noise_levels",
        "prune_modes",
        "n_examples",
        "n_modes",
        "n_gaps",
        "method",
        "solvable_fraction",
    ]
    params = {k: SPECTRAL[k] for k in keys}
    params.update(
        dataset=w.dataset,
        n_hidden=SPECTRAL["n_hidden"][w.dataset],
        seed=config["seed"],
        device=config["device"],
    )
    if any(part.startswith("plots") for part in extra_parts):  # figure jobs only
        params["pdf"] = config["figures"]["pdf"]
    return params_json(params, fp(*P3_FP, "stages/spectral", *extra_parts))
