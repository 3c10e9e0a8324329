"""Claims: each thesis result the workflow checks becomes one row with a computed verdict.

Columns: ``name, value, error, reference, tolerance, verdict, detail, source``.
Verdicts are derived from the numbers, never written by hand:

- ``agrees``: |value − reference| ≤ tolerance, where tolerance = max(n_sigma·error, abs_tol,
  rel_tol·|reference|) — the extra tolerances state known systematic effects (finite size),
  and are recorded in the row.
- ``disagrees``: outside the tolerance.
- ``inconclusive``: the value (or its error, when no other tolerance is given) is not finite.
"""

from __future__ import annotations

import math

import pandas as pd

COLUMNS = ["name", "value", "error", "reference", "tolerance", "verdict", "detail", "source"]


def make_claim(name: str, value: float, error: float, reference: float, *, n_sigma: float = 3.0,
               abs_tol: float = 0.0, rel_tol: float = 0.0, detail: str = "",
               source: str = "") -> dict:
    """One claim row comparing ``value ± error`` with ``reference``."""
    value, error, reference = float(value), float(error), float(reference)
    tol = max(n_sigma * error if math.isfinite(error) else 0.0, abs_tol, rel_tol * abs(reference))
    if not math.isfinite(value) or (tol == 0.0 and not math.isfinite(error)):
        verdict = "inconclusive"
    else:
        verdict = "agrees" if abs(value - reference) <= tol else "disagrees"
    return {"name": name, "value": value, "error": error, "reference": reference,
            "tolerance": tol, "verdict": verdict, "detail": detail, "source": source}


def make_bound_claim(name: str, value: float, error: float, bound: float, *, upper: bool = True,
                     n_sigma: float = 3.0, detail: str = "", source: str = "") -> dict:
    """A claim that ``value`` lies below (``upper=True``) or above a bound.

    ``agrees`` when value − n_sigma·error < bound (upper) / value + n_sigma·error > bound (lower);
    the reference column holds the bound.
    """
    value, error = float(value), float(error)
    e = n_sigma * error if math.isfinite(error) else 0.0
    if not math.isfinite(value):
        verdict = "inconclusive"
    elif upper:
        verdict = "agrees" if value - e < bound else "disagrees"
    else:
        verdict = "agrees" if value + e > bound else "disagrees"
    return {"name": name, "value": value, "error": error, "reference": float(bound),
            "tolerance": e, "verdict": verdict,
            "detail": (("upper" if upper else "lower") + " bound; " + detail).strip("; "),
            "source": source}


def claims_frame(rows: list[dict]) -> pd.DataFrame:
    """DataFrame with the claim columns in order (empty frame with those columns if no rows)."""
    return pd.DataFrame(rows, columns=COLUMNS)
