# Constants, paths and helper functions of flows.smk (kept apart from its rules).
FLOWS = config["flows"]
FL2 = FLOWS["ising2d"]
FLLR = FLOWS["longrange"]

PATHS.update(
    {
        "lr_grid_spins": "data/longrange/sigma{sigma}/N{N}/{point}.parquet",
        "lr_grid_observables": "analysis/longrange/sigma{sigma}/observables_N{N}.parquet",
        "rg_blocks": "data/rg/{model}/{rg}/step{step}.parquet",
        "thermometer": "models/thermometers/{model}/seed{rep}/L{size}.pt",
        "thermometer_table": "analysis/flows/{model}/seed{rep}/thermometer_L{size}_{table}.parquet",
        "flows_lr_rbm": "models/flows/longrange_s{sigma}/seed{rep}/rbm.pt",
        "flows_lr_rbm_curve": "analysis/flows/longrange_s{sigma}/seed{rep}/rbm_curve.parquet",
        "flows_lr_stack": "models/flows/longrange_s{sigma}/seed{rep}/stack.pt",
        "flows_lr_stack_curve": "analysis/flows/longrange_s{sigma}/seed{rep}/stack_curve.parquet",
        "flow": "data/flows/{model}/seed{rep}/{rbm}.parquet",
        "flow_table": "analysis/flows/{model}/seed{rep}/{rbm}/{table}.parquet",
        "flows_stack_table": "analysis/flows/{model}/seed{rep}/stack_{table}.parquet",
    }
)

# The sigmas, points, N, RBM names and stack_L were checked against the other sections by
# coarsegrain.config.cross_field_errors (from the Snakefile, before any job).
FLOW_SIGMAS = [fmt_sigma(s) for s in (FLLR["sigmas"] or MCLR["sigmas"])] if FLLR["enabled"] else []
FL2_STACK_L = FL2["stack_L"] or RBMC["stack"]["sizes"][0]
FL2_RBMS = FL2["rbms"] if FL2["rbms"] is not None else [*RBM_NAMES, f"stack_L{FL2_STACK_L}"]
FLOW_MODELS = (["ising2d"] if FL2["enabled"] else []) + [f"longrange_s{s}" for s in FLOW_SIGMAS]
FLOW_TABLES = ["temperatures", "predictions", "observables"]
CORR_TABLES = ["deltas", "correlators"]
THERMO_TABLES = ["confusion", "calibration", "history", "response"]
FLOW_FP = fp("flow", "rg", "rbm", "lattice", "analysis", "stages/flows")
FIG_FP = fp("plots", "analysis", "stages/flows")


# ---------------------------------------------------------------- helpers
# Models are tagged "ising2d" or "longrange_s{sigma}"; the 2D RBMs and stacks come from rbm.smk
# (RBMC, RBM_NAMES, rbm_p1_checkpoint, rbm_p1_stack, rbm_stack_side), the chain's T_c from
# montecarlo.smk.
def flows_sigma(model):
    """sigma (as in file names) of a chain tag 'longrange_s{sigma}'; None for ising2d."""
    return model.split("_s", 1)[1] if model.startswith("longrange_s") else None


def flows_point(point):
    """Grid point in chain file names: T/T_c ratio (x1.0000)."""
    return f"x{float(point):.4f}"


def flows_n_layers(model):
    """Layers of the model's stacked RBM (2D: rbm.stack.n_layers)."""
    return RBMC["stack"]["n_layers"] if model == "ising2d" else FLLR["stack"]["n_layers"]


def flows_sizes(model):
    """Lattice sides along the stack: the input side, then one per layer (2D: L/2 per 4x fewer
    units; chain: N/2 per 2x fewer units)."""
    base = FL2_STACK_L if model == "ising2d" else FLLR["N"]
    return [base // 2**k for k in range(flows_n_layers(model) + 1)]


def flows_flow_size(model, rbm=None):
    """Side of the flowed lattice: the P1 RBMs' L (2D, rbm.L), a stack's input side L
    ("stack_L{L}"), or the chain length N."""
    if model != "ising2d":
        return FLLR["N"]
    return rbm_stack_side(rbm) or RBMC["L"]


def flows_flow_sizes(model):
    """Every lattice side flowed for a model (one per flowed RBM)."""
    return sorted({flows_flow_size(model, r) for r in flows_rbm_names(model)})


def flows_grid_spins(model, size):
    """Monte Carlo spin files of the thermometer grid at one lattice side."""
    if model == "ising2d":
        return [path("ising2d_spins", L=size, T=t) for t in ISING_T]
    return [
        path("lr_grid_spins", sigma=flows_sigma(model), N=size, point=flows_point(x))
        for x in FLLR["points"]
    ]


def flows_observables(model, size):
    """Monte Carlo observables table (physics temperature estimator) at one lattice side."""
    if model == "ising2d":
        return path("ising2d_observables", L=size)
    return path("lr_grid_observables", sigma=flows_sigma(model), N=size)


def flows_tc_spins(model, size):
    """Monte Carlo configurations at T_c (2D: flows.ising2d.tc_temperature; chain: T/T_c = 1)."""
    if model == "ising2d":
        return path("ising2d_spins", L=size, T=fmt_t(RBMC["tc_temperature"]))
    return path("lr_grid_spins", sigma=flows_sigma(model), N=size, point=flows_point(1.0))


def flows_labels(model):
    """Model params of the flow stages."""
    if model == "ising2d":
        return {"model": "ising2d"}
    return {"model": "longrange", "sigma": float(flows_sigma(model)), "images": FLLR["images"]}


def flows_fit(model):
    """Correlator-fit params (form, kappa, rmin, rmax) of a model."""
    return dict(FL2["fit"] if model == "ising2d" else FLLR["fit"])


def flows_exact_deltas(model):
    """Exact scaling dimensions drawn in the correlator figure."""
    if model == "ising2d":
        return {"spin": 0.125, "energy": 1.0}
    sigma = float(flows_sigma(model))
    return {"spin": (1 - sigma) / 2} if 0 < sigma < 1 else {}


def flows_rbm(model, name, rep):
    """Checkpoint of a flowed RBM (training seed ``rep``): the P1 models of rbm.smk (2D; for
    "stack_L{L}" the stack, whose bottom layer the flow uses) or this stage's chain RBM."""
    if model == "ising2d":
        return rbm_p1_checkpoint(name, rep)
    return path("flows_lr_rbm", rep=rep, sigma=flows_sigma(model))


def flows_rbm_names(model):
    return list(FL2_RBMS) if model == "ising2d" else ["nh{}_tc".format(flows_lr_hidden())]


def flows_lr_hidden():
    return FLLR["n_hidden"] or FLLR["N"] // 2


def flows_stack(model, rep):
    """Stacked-RBM checkpoint of a model, training seed ``rep`` (2D: from rbm.smk; chain: this
    stage's stack)."""
    if model == "ising2d":
        return rbm_p1_stack(FL2_STACK_L, rep)
    return path("flows_lr_stack", rep=rep, sigma=flows_sigma(model))


def flows_thermometer_runtime(wildcards, attempt):
    """Minutes (mlp_thermometer_minutes) over at most max_per_temperature configurations per
    temperature, at 1e10 flop/s (half the ~2e10 measured on one core). The thesis run's
    thermometers stopped early: <= 0.8 min against bounds of 8-31 min."""
    th = FLOWS["thermometer"]
    n_temps = len(ISING_T) if wildcards.model == "ising2d" else len(FLLR["points"])
    n_samples = (
        ising_n_samples(wildcards.size) if wildcards.model == "ising2d" else FLLR["n_samples"]
    )
    if th["max_per_temperature"]:
        n_samples = min(n_samples, th["max_per_temperature"])
    n_sites = int(wildcards.size) ** (2 if wildcards.model == "ising2d" else 1)
    widths = [n_sites, *th["hidden"], n_temps]
    minutes = mlp_thermometer_minutes(widths, n_temps * n_samples, th["max_epochs"], 1e10)
    return minutes * attempt


def flows_mem_mb(wildcards, attempt):
    """MB: 1.5 GB for Python and torch plus room for the configurations of one job."""
    return 3000 * attempt


def flows_runtime(minutes):
    """Attempt-scaled runtime (minutes) for rules whose cost is small and size-independent."""
    return lambda wildcards, attempt: minutes * attempt


def flows_lr_train_params(rep, sigma, **extra):
    """Params of the chain RBM / stack training (rbm.train, rbm.train-stack): the rbm section's
    monitor settings and checkpoint rule, with the chain's own physics monitor (E, |m| of model
    samples with the couplings of sigma)."""
    t = FLLR["train"]
    keys = ("method", "k", "lr", "eps", "batch_size", "n_updates", "init_std", "heldout_fraction")
    return {
        **{k: t[k] for k in keys},
        "optimizer": "adam",
        "units": "pm1",
        "monitor": {
            **RBMC["monitor"],
            "metrics": t["metrics"],
            "chain_sigma": float(sigma),
            "chain_images": FLLR["images"],
        },
        "select": RBMC["select"],
        "seed": replicate_seed(rep),
        "device": config["device"],
        **extra,
    }


def flows_params(model, rep, **extra):
    """Params JSON of a flow stage of training seed ``rep``: model labels, seed, device and
    ``extra``."""
    return params_json(
        {**flows_labels(model), "seed": replicate_seed(rep), "device": config["device"], **extra},
        FLOW_FP,
    )


def flows_figure_params(**extra):
    """Params of a flow figure. Flow figures show training seed 0 (``rep=0`` inputs); the title
    says so, with the protocol and how many seeds the claims use."""
    n = len(REPLICATES)
    note = f"P1 protocol; shown: training seed 0 of {n}" + (
        f"; claims use all {n}" if n > 1 else ""
    )
    return params_json({"pdf": config["figures"]["pdf"], "title_note": note, **extra}, FIG_FP)
