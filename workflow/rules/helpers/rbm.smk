# Constants, paths and helper functions of rbm.smk (kept apart from its rules).
RBMC = config["rbm"]

PATHS.update({
    "rbm_model": "models/rbm/ising2d_L{L}/{name}.pt",
    "rbm_curve": "analysis/rbm/ising2d_L{L}/{name}_curve.parquet",
    "rbm_stack": "models/rbm/ising2d_L{L}/stack.pt",
    "rbm_stack_curve": "analysis/rbm/ising2d_L{L}/stack_curve.parquet",
})

RBM_NAMES = [f"nh{nh}_{d}" for nh in RBMC["n_hidden"] for d in RBMC["data"]]
RBM_FP = fp("rbm", "lattice")
RBM_FIG_FP = fp("rbm", "plots")

if RBMC["enabled"]:
    if fmt_t(RBMC["tc_temperature"]) not in ISING_T:
        raise ValueError(f"rbm.tc_temperature = {RBMC['tc_temperature']} is not one of "
                         f"ising2d.temperatures {ISING['temperatures']}")
    for _L in RBMC["stack"]["sizes"]:
        if _L % 2 ** RBMC["stack"]["n_layers"]:
            raise ValueError(f"rbm.stack.sizes: L = {_L} is not divisible by "
                             f"2^rbm.stack.n_layers = {2 ** RBMC['stack']['n_layers']}")

def rbm_p1_model(name):
    """Checkpoint of the single RBM ``name`` (nh{N_h}_{tc|grid}) at L = rbm.L."""
    return path("rbm_model", L=RBMC["L"], name=name)



def rbm_p1_stack(L):
    """Checkpoint of the stacked RBM on L x L configurations."""
    return path("rbm_stack", L=L)



def rbm_tc_spins(L):
    return path("ising2d_spins", L=L, T=fmt_t(RBMC["tc_temperature"]))



def rbm_train_params(monitor=None, **extra):
    """Stage params shared by rbm.train and rbm.train-stack (the rbm.train section flattened);
    ``monitor`` overrides entries of rbm.monitor."""
    return {**RBMC["train"], "units": RBMC["units"], "seed": config["seed"],
            "device": config["device"], "monitor": {**RBMC["monitor"], **(monitor or {})},
            **extra}



def rbm_runtime(wildcards, attempt):
    """Minutes: ~5 ms per update on one core at N_v = N_h = 100 plus the monitors."""
    return (10 + RBMC["train"]["n_updates"] // 6000) * attempt



def rbm_stack_runtime(wildcards, attempt):
    """Minutes: an update costs ~10 flops per weight and batch row, a costly monitor evaluation
    ~4 per weight and AIS or Gibbs chain step; 2e10 flop/s on one core."""
    import math

    L, n = int(wildcards.L), RBMC["stack"]["n_layers"]
    mon = {**RBMC["monitor"], **RBMC["stack"]["monitor"]}
    weights = sum((L * L // 4**k) * (L * L // 4 ** (k + 1)) for k in range(n))
    n_up = RBMC["stack"]["n_updates"]
    flops = 10 * weights * RBMC["train"]["batch_size"] * n_up
    per_octave = mon["heavy_per_octave"] or mon["per_octave"]
    n_heavy = 2 + math.ceil(per_octave * math.log2(n_up))
    steps = (mon["ais_chains"] * mon["ais_betas"] if mon["ais"] else 0) + (
        mon["n_model_samples"] * mon["n_gibbs"] if "ising" in mon["metrics"] else 0)
    flops += n_heavy * 4 * weights * steps
    return (10 + int(flops / 2e10 / 60) + 1) * attempt
