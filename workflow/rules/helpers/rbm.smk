# Constants, paths and helper functions of rbm.smk (kept apart from its rules).
RBMC = config["rbm"]

PATHS.update(
    {
        "rbm_model": "models/rbm/ising2d_L{L}/seed{rep}/{name}.pt",
        "rbm_curve": "analysis/rbm/ising2d_L{L}/seed{rep}/{name}_curve.parquet",
        "rbm_stack": "models/rbm/ising2d_L{L}/seed{rep}/stack.pt",
        "rbm_stack_curve": "analysis/rbm/ising2d_L{L}/seed{rep}/stack_curve.parquet",
    }
)

# Training seeds: every learned model (RBMs, stacks, thermometers) and everything computed from
# it is replicated under config["seeds"] independent seeds; the claims aggregate over them.
REPLICATES = list(range(int(config["seeds"])))


wildcard_constraints:
    rep="[0-9]+",


def replicate_seed(rep):
    """Seed of training replicate ``rep``: the config seed for replicate 0 (so a one-seed run
    reproduces earlier single runs), an independent stream derived from it for the others."""
    from coarsegrain.runtime import make_rng

    rep = int(rep)
    if rep == 0:
        return int(config["seed"])
    return int(make_rng(config["seed"], "training-replicate", rep).integers(2**31 - 1))


RBM_NAMES = [f"nh{nh}_{d}" for nh in RBMC["n_hidden"] for d in RBMC["data"]]
RBM_FP = fp("rbm", "lattice", "stages/rbm")
RBM_FIG_FP = fp("rbm", "plots", "stages/rbm")

# rbm.tc_temperature and rbm.stack.sizes were checked against ising2d.temperatures and
# rbm.stack.n_layers by coarsegrain.config.cross_field_errors (from the Snakefile, before any job).


def rbm_p1_model(name, rep):
    """Checkpoint of the single RBM ``name`` (nh{N_h}_{tc|grid}) at L = rbm.L, seed ``rep``."""
    return path("rbm_model", rep=rep, L=RBMC["L"], name=name)


def rbm_p1_stack(L, rep):
    """Checkpoint of the stacked RBM on L x L configurations, training seed ``rep``."""
    return path("rbm_stack", rep=rep, L=L)


def rbm_stack_side(name):
    """L of a stacked-RBM name "stack_L{L}", or None for a single P1 RBM name."""
    return int(name[len("stack_L") :]) if name and name.startswith("stack_L") else None


def rbm_p1_checkpoint(name, rep):
    """Checkpoint of P1 RBM ``name`` (at L = rbm.L), or of the stack for "stack_L{L}"."""
    L = rbm_stack_side(name)
    return rbm_p1_model(name, rep) if L is None else rbm_p1_stack(L, rep)


def rbm_tc_spins(L):
    return path("ising2d_spins", L=L, T=fmt_t(RBMC["tc_temperature"]))


def rbm_train_params(rep, monitor=None, **extra):
    """Stage params shared by rbm.train and rbm.train-stack (the rbm.train section flattened)
    for training seed ``rep``; ``monitor`` overrides entries of rbm.monitor."""
    return {
        **RBMC["train"],
        "units": RBMC["units"],
        "bias": RBMC["bias"],
        "select": RBMC["select"],
        "seed": replicate_seed(rep),
        "device": config["device"],
        "monitor": {**RBMC["monitor"], **(monitor or {})},
        **extra,
    }


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
        mon["n_model_samples"] * mon["n_gibbs"] if "ising" in mon["metrics"] else 0
    )
    flops += n_heavy * 4 * weights * steps
    return (10 + int(flops / 2e10 / 60) + 1) * attempt
