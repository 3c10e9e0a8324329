"""Measurements: what stages emit for the claims registry (they never write verdicts).

A measurement row is one number for one concrete claim id (e.g.
``flows/ising2d/nh81_tc/end_temperature/mc``), from one training seed where the number depends on
trained models. Columns (:data:`COLUMNS`):

claim : str — concrete id; must match exactly one pattern of :mod:`coarsegrain.claims.registry`
seed : int — training-seed index (replicate); −1 for numbers that depend on no trained model
value, error : float — the number and its within-run standard error (NaN if none)
reference, reference_error : float — a reference measured in the same run (e.g. a Monte Carlo Δ
    at the flow's own temperature); NaN when the registry states a fixed reference
tolerance : float — a tolerance measured in the run (e.g. the thermometer's resolution at T_c);
    NaN when the registry's tolerance applies; ``tolerance_source`` says where it comes from
censored : bool — the value is only a lower limit (e.g. a run that never reached its target)
chi2_dof : float — goodness of fit for fitted values (NaN otherwise)
n : int — how many samples/configurations/points the number rests on
n_seeds : int — 0 for a per-seed row (the usual case); k > 0 when the stage has already
    aggregated k training seeds into this one row (value = mean, error = between-seed standard
    error). Prefer per-seed rows: only they let the table count seeds reproducing a claim.
detail : str — how this particular number was obtained
"""

from __future__ import annotations

import math

import pandas as pd

COLUMNS = ["claim", "seed", "value", "error", "reference", "reference_error", "tolerance",
           "tolerance_source", "censored", "chi2_dof", "n", "n_seeds", "detail"]

NO_SEED = -1


def measurement(claim: str, value, error=math.nan, *, seed: int = NO_SEED, reference=math.nan,
                reference_error=math.nan, tolerance=math.nan, tolerance_source: str = "",
                censored: bool = False, chi2_dof=math.nan, n: int = 0, n_seeds: int = 0,
                detail: str = "") -> dict:
    """One measurement row (see the module docstring for the meaning of each field)."""
    if not isinstance(claim, str) or not claim or " " in claim:
        raise ValueError(f"claim id must be a non-empty string without spaces; got {claim!r}")

    def f(x):
        return float(x) if x is not None else math.nan

    return {"claim": claim, "seed": int(seed), "value": f(value), "error": f(error),
            "reference": f(reference), "reference_error": f(reference_error),
            "tolerance": f(tolerance), "tolerance_source": str(tolerance_source),
            "censored": bool(censored), "chi2_dof": f(chi2_dof), "n": int(n), "n_seeds": int(n_seeds),
            "detail": str(detail)}


def measurements_frame(rows: list[dict]) -> pd.DataFrame:
    """DataFrame with :data:`COLUMNS` in order (an empty frame with those columns if no rows)."""
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.astype({"seed": "int64", "censored": "bool", "n": "int64",
                      "n_seeds": "int64"}) if len(df) else df


def with_seed(rows: list[dict], seed: int) -> list[dict]:
    """The rows with their ``seed`` set (stages that run once per training seed)."""
    return [{**r, "seed": int(seed)} for r in rows]
