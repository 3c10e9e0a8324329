# Constants, paths and helper functions of iso.smk (kept apart from its rules).
ISO = config["iso"]

PATHS.update(
    {
        "iso_spins": "data/iso/ising2d_L{L}/T{T}.parquet",
        "iso_observables": "analysis/iso/observables_L{L}.parquet",
        "iso_rbm": "models/iso/seed{rep}/rbm_{iso_model}.pt",
        "iso_rbm_curve": "analysis/iso/seed{rep}/rbm_{iso_model}_curve.parquet",
        "iso_thermometer": "models/iso/seed{rep}/thermometer.pt",
        "iso_thermometer_table": "analysis/iso/seed{rep}/thermometer_{table}.parquet",
        "iso_flow_table": "analysis/iso/seed{rep}/flow_{table}.parquet",
    }
)

# all: every grid temperature; high_t: those in high_t_range; zero_t: the lowest (T ~ 0).
ISO_MODELS = ["all", "high_t", "zero_t"]
ISO_FLOW_TABLES = ["temperatures", "observables"]
ISO_FP = fp("stages/iso")
ISO_FLOW_FP = fp("flow", "rbm", "lattice", "stages/iso")
ISO_FIG_FP = fp("plots", "stages/iso")


wildcard_constraints:
    iso_model="all|high_t|zero_t",


def _iso_check():
    """Cross-field rules of the iso section, each naming its key (raised before any job)."""
    temps = [float(t) for t in ISO["temperatures"]]
    names = [fmt_t(t) for t in temps]
    if len(set(names)) != len(names):
        raise ValueError(
            f"iso.temperatures = {ISO['temperatures']}: two temperatures share a "
            f"file name at 4 decimals ({names})"
        )
    if min(temps) > 0.01:
        raise ValueError(
            f"iso.temperatures: the lowest, {min(temps)}, is not T ~ 0 (<= 0.01); "
            "the zero_t control trains on it (src - 1e-6)"
        )
    lo, hi = (float(x) for x in ISO["high_t_range"])
    if not lo < hi:
        raise ValueError(f"iso.high_t_range = {ISO['high_t_range']}: need T_lo < T_hi")
    if not any(lo <= t <= hi for t in temps):
        raise ValueError(
            f"iso.high_t_range = {ISO['high_t_range']} holds none of "
            f"iso.temperatures {ISO['temperatures']}"
        )
    if ISO["flow"]["tail_steps"] > ISO["flow"]["steps"]:
        raise ValueError(
            f"iso.flow.tail_steps = {ISO['flow']['tail_steps']} exceeds "
            f"iso.flow.steps = {ISO['flow']['steps']}"
        )


if ISO["enabled"]:
    _iso_check()

# File-name temperatures; the sampler gets the configured values (1e-6 prints as 0.0000).
ISO_T = {fmt_t(t): float(t) for t in ISO["temperatures"]}


def iso_model_temperatures(model):
    """File-name temperatures an Iso model trains on."""
    if model == "all":
        return list(ISO_T)
    if model == "zero_t":
        return [min(ISO_T, key=ISO_T.get)]
    lo, hi = (float(x) for x in ISO["high_t_range"])
    return [k for k, t in ISO_T.items() if lo <= t <= hi]


# A grid temperature the ising2d section samples at the same count is read from its files (the
# same sampler, seed and stream: the same configurations); iso_sample samples only the others.
ISO_SHARED_T = [
    t for t in ISO_T if t in ISING_T and ISO["n_per_temperature"] == ising_n_samples(ISO["L"])
]
ISO_OWN_T = [t for t in ISO_T if t not in ISO_SHARED_T]


def iso_spins(temps=None):
    """Spin files of the Iso grid temperatures ``temps`` (file-name form; default all)."""
    return [
        (
            path("ising2d_spins", L=ISO["L"], T=t)
            if t in ISO_SHARED_T
            else path("iso_spins", L=ISO["L"], T=t)
        )
        for t in (temps or list(ISO_T))
    ]


def iso_rbm_params(model, rep):
    """rbm.train params of one Iso model, training seed ``rep``."""
    r = ISO["rbm"]
    length = (
        {"n_updates": r["n_updates"][model]}
        if r["n_updates"][model] is not None
        else {"n_epochs": r["n_epochs"][model]}
    )
    return {
        "n_hidden": r["n_hidden"],
        "units": r["units"],
        "bias": r["bias"],
        "method": r["method"],
        "k": r["k"],
        "optimizer": r["optimizer"],
        "lr": r["lr"],
        "batch_size": r["batch_size"],
        "init_std": r["init_std"],
        "heldout_fraction": 0.2,
        **length,
        "monitor": {
            "metrics": ["reconstruction", "free_energy"],
            "ais": False,
            "per_octave": r["monitor_per_octave"],
            "n_samples": r["monitor_samples"],
        },
        "select": {"enabled": False},
        "seed": replicate_seed(rep),
        "device": config["device"],
    }


def iso_rbm_updates(model):
    """Parameter updates of one Iso model (its n_updates, or its n_epochs over the training
    split, 80% of the configurations)."""
    import math

    r = ISO["rbm"]
    if r["n_updates"][model] is not None:
        return r["n_updates"][model]
    n_train = round(0.8 * len(iso_model_temperatures(model)) * ISO["n_per_temperature"])
    return r["n_epochs"][model] * math.ceil(n_train / r["batch_size"])


def iso_rbm_runtime(wildcards, attempt):
    """Minutes: ~1 ms per CD-1 update at N_v = N_h = 100, batch 100, on one core (measured
    0.65 ms), plus 5 minutes."""
    return (5 + iso_rbm_updates(wildcards.iso_model) // 60000 + 1) * attempt


def iso_sample_runtime(wildcards, attempt):
    """Minutes: 50 sweeps per stored configuration at 1e7 spin updates per second."""
    updates = len(ISO_OWN_T) * ISO["n_per_temperature"] * ISO["L"] ** 2 * 50
    return (10 + int(updates / 1e7 / 60) + 1) * attempt


def iso_thermometer_runtime(wildcards, attempt):
    """Minutes (mlp_thermometer_minutes) at 2e9 flop/s."""
    th = ISO["thermometer"]
    n = th["max_per_temperature"] or ISO["n_per_temperature"]
    widths = [ISO["L"] ** 2, *th["hidden"], len(ISO_T)]
    return mlp_thermometer_minutes(widths, len(ISO_T) * n, th["max_epochs"], 2e9) * attempt
