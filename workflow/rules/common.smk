# Shared helpers for every rules file: output paths, the CLI command, params, code fingerprints.
import json
from pathlib import Path

ROOT_DIR = Path(workflow.basedir).resolve()
SRC_DIR = ROOT_DIR.joinpath("src")
PKG_DIR = SRC_DIR.joinpath("coarsegrain")
# One folder per resolved config (RUN_NAME: see the Snakefile).
RESULTS = f"{config['output_root']}/{RUN_NAME}"
# Conda environment of every job (used with --sdm conda; what the jobs import). Relative to the
# rules files, so that the directive does not name where the checkout lives.
CONDA_ENV = "../../envs/coarsegrain.yaml"

# Jobs run the library from this checkout's src/ (COARSEGRAIN_SRC, set by the Snakefile) with the
# python3 first on PATH: the Snakemake interpreter's, or the conda env's with --sdm conda (which
# drops PYTHONPATH from the job's environment, hence the assignment inside the command).
PYTHON = 'PYTHONPATH="$COARSEGRAIN_SRC" python3'

# ---------------------------------------------------------------- the one place paths come from
# Templates relative to results/<preset>/. Wildcards are passed as "{L}" to keep them open.
PATHS = {
    # 2D Ising
    "ising2d_spins": "data/ising2d/L{L}/T{T}.parquet",
    "ising2d_observables": "analysis/ising2d/observables_L{L}.parquet",
    "ising2d_exact": "analysis/ising2d/exact_curves.parquet",
    "ising2d_crossings": "analysis/ising2d/binder_crossings.parquet",
    # Monte Carlo engine: cluster-sampled critical points and correlators
    "mc_ising2d_observables": "analysis/montecarlo/ising2d/observables_L{L}.parquet",
    "mc_ising2d_tc": "analysis/montecarlo/ising2d/binder_tc.parquet",
    "mc_ising2d_tc_spins": "data/montecarlo/ising2d/L{L}/Tc.parquet",
    "mc_longrange_observables": "analysis/montecarlo/longrange/sigma{sigma}/observables.parquet",
    "mc_longrange_tc": "analysis/montecarlo/longrange/sigma{sigma}/binder_tc.parquet",
    "mc_longrange_tc_spins": "data/montecarlo/longrange/sigma{sigma}/N{N}/Tc.parquet",
    "mc_correlators": "analysis/montecarlo/correlators/{model}.parquet",
    "mc_fits": "analysis/montecarlo/correlators/{model}_fits.parquet",
    # claims, figures, logs, benchmarks, report pages
    "report_claims": "report/claims.html",
    "report_benchmarks": "report/benchmarks.html",
    "benchmark_table": "benchmarks/summary.parquet",
    "report_config": "report/config.html",
    "config_used": "config.yaml",
    "claims_part": "analysis/claims/{name}.parquet",
    "claims": "claims.parquet",
    "figure": "figures/{name}.png",
    "log": "logs/{name}.log",
    "benchmark": "benchmarks/{name}.tsv",
}


def path(kind, **wildcards):
    """Output path of ``kind`` (a key of PATHS) under results/<preset>/."""
    if kind not in PATHS:
        raise KeyError(f"unknown path kind {kind!r}; known: {sorted(PATHS)}")
    return f"{RESULTS}/{PATHS[kind].format(**wildcards)}"


def fmt_t(T):
    """Temperatures in file names: 4 decimals (T2.2692)."""
    return f"{float(T):.4f}"


# ---------------------------------------------------------------- code fingerprints
_BASE_CODE = ("__init__", "io", "cli", "runtime")


def fp(*parts):
    """Fingerprint of the library code a rule runs (base modules + ``parts``)."""
    from coarsegrain.runtime import code_fingerprint

    return code_fingerprint(*_BASE_CODE, *parts, root=PKG_DIR)


def params_json(params, code):
    """Deterministic JSON of a rule's params (sorted keys), including the code fingerprint."""
    return json.dumps({**params, "code": code}, sort_keys=True, separators=(",", ":"))


def cg(stage, inputs=(), outputs=()):
    """Shell command running ``python -m coarsegrain <stage>`` with named inputs and outputs.

    The rule must define ``params.json`` and ``log``; stdout and stderr go to the log.
    """
    cmd = [f"{PYTHON} -m coarsegrain {stage}"]
    cmd += [f"--in {k} {{input.{k}:q}}" for k in inputs]
    cmd += [f"--out {k} {{output.{k}:q}}" for k in outputs]
    cmd.append("--threads {threads} --params {params.json:q} > {log:q} 2>&1")
    return " ".join(cmd)


def ising_n_samples(L):
    """Configurations per temperature sampled at size ``L``: ising2d.n_samples, raised to
    rbm.n_configs at the single RBMs' size."""
    n = config["ising2d"]["n_samples"]
    rbm = config["rbm"]
    if rbm["enabled"] and int(L) == int(rbm["L"]):
        n = max(n, rbm["n_configs"])
    return n


def ising_sample_params(w):
    """Params of the 2D Ising sampling job for size ``w.L``."""
    ising = config["ising2d"]
    return params_json(
        {
            "L": int(w.L),
            "temperatures": [float(fmt_t(t)) for t in ising["temperatures"]],
            "n_samples": ising_n_samples(w.L),
            "sampler": ising["sampler"],
            "window": ising["window"],
            "thin": ising["thin"],
            "seed": config["seed"],
            "device": config["device"],
        },
        fp("lattice", "stages/ising2d"),
    )


# Cluster resources of one size's sampling job (used by workflow/profiles/slurm), grown with
# each retry.
def ising_sample_runtime(wildcards, attempt):
    """Minutes: a conservative 50 sweeps per stored configuration (thermalisation, pilot run and
    thinning included) at 1e7 spin updates per second on one core, plus 10 minutes."""
    ising = config["ising2d"]
    updates = len(ising["temperatures"]) * ising_n_samples(wildcards.L) * int(wildcards.L) ** 2 * 50
    return (10 + int(updates / 1e7 / 60) + 1) * attempt


def mlp_thermometer_minutes(widths, n_train, max_epochs, flop_rate):
    """Minutes a thermometer MLP with layer ``widths`` needs for ``max_epochs`` epochs over
    ``n_train`` configurations (~6 flops per weight and configuration per epoch) at
    ``flop_rate`` flop/s, plus 5 minutes for start-up and calibration: a bound that holds
    without early stopping."""
    weights = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    return 5 + int(6 * weights * n_train * max_epochs / flop_rate / 60) + 1


def ising_spins_mem_mb(wildcards, attempt):
    """MB: 1.5 GB for Python, torch and the job's own Snakemake process, plus 4 bytes per stored
    spin (int8 samples and the copies made while converting and writing them)."""
    ising = config["ising2d"]
    spins = len(ising["temperatures"]) * ising_n_samples(wildcards.L) * int(wildcards.L) ** 2
    return (1500 + int(4 * spins / 1e6) + 1) * attempt


# Stage files append what `rule all` and `rule claims` need.
ALL_TARGETS = []
CLAIM_FILES = []
BENCHMARKS = []  # every path used in a `benchmark:` directive, for the report's benchmark table
