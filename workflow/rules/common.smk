# Shared helpers for every rules file: output paths, the CLI command, params, code fingerprints.
import json
import shlex
import sys
from pathlib import Path

ROOT_DIR = Path(workflow.basedir).resolve()
SRC_DIR = ROOT_DIR.joinpath("src")
PKG_DIR = SRC_DIR.joinpath("coarsegrain")
RESULTS = f"{config['output_root']}/{config['preset']}"
# Conda environment of every rule (used with --sdm conda; equivalent to requirements.txt).
CONDA_ENV = str(ROOT_DIR.joinpath("envs", "coarsegrain.yaml"))

# Jobs run the library from this checkout's src/, whichever environment runs Snakemake.
PYTHON = f"env PYTHONPATH={shlex.quote(str(SRC_DIR))} {shlex.quote(sys.executable)}"

# ---------------------------------------------------------------- the one place paths come from
# Templates relative to results/<preset>/. Wildcards are passed as "{L}" to keep them open.
PATHS = {
    # 2D Ising
    "ising2d_spins": "data/ising2d/L{L}/T{T}.parquet",
    "ising2d_observables": "analysis/ising2d/observables_L{L}.parquet",
    "ising2d_exact": "analysis/ising2d/exact_curves.parquet",
    "ising2d_crossings": "analysis/ising2d/binder_crossings.parquet",
    # claims, figures, logs, benchmarks
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


def ising_sample_params(w):
    """Params of the 2D Ising sampling job for size ``w.L``."""
    ising = config["ising2d"]
    return params_json(
        {"L": int(w.L), "temperatures": [float(fmt_t(t)) for t in ising["temperatures"]],
         "n_samples": ising["n_samples"], "n_chains": ising["n_chains"], "n_therm": ising["n_therm"],
         "thin": ising["thin"], "sampler": ising["sampler"], "seed": config["seed"],
         "device": config["device"]},
        fp("lattice"))


# Stage files append what `rule all` and `rule claims` need.
ALL_TARGETS = []
CLAIM_FILES = []
