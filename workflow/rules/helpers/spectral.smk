# Constants, paths and helper functions of spectral.smk (kept apart from its rules).
DATASETS = config["datasets"]
SPECTRAL = config["spectral"]
IMAGE_DATASETS = ["mnist", "flowers", "swimseg"]
P3_DATASETS = SPECTRAL["datasets"]

# Output paths of this stage, kept with the rest in the one PATHS table.
PATHS.update({
    "image_dataset": "data/images/{dataset}.parquet",
    "p3_table": "analysis/p3/{dataset}/{table}.parquet",
    "p3_timing": "benchmarks/p3/{dataset}/{table}.parquet",
})
P3_TIMING_TABLES = ["wall_time", "speedup_seconds"]
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
                  device=config["device"])
    if any(part.startswith("plots") for part in extra_parts):  # figure jobs only
        params["pdf"] = config["figures"]["pdf"]
    return params_json(params, fp(*P3_FP, *extra_parts))

