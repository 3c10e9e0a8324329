"""Thermodynamic observables with error bars from Monte Carlo configurations.

Errors come from a jackknife over *independent chains* (or over contiguous blocks when there
is a single chain), so they include the effect of autocorrelation without needing τ_int. The
nonlinear estimators (C, χ: variances; U4: a ratio of moments) are biased at O(1/n) and get the
standard jackknife bias correction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from coarsegrain.lattice.ising2d import energy_per_site, magnetization

OBSERVABLES = ("energy", "abs_magnetization", "specific_heat", "susceptibility", "binder")


def _estimates(e: np.ndarray, m: np.ndarray, T: float, N: int) -> np.ndarray:
    """Observables from per-configuration energy and magnetisation per site (1D arrays)."""
    am = np.abs(m)
    m2, m4 = np.mean(m**2), np.mean(m**4)
    return np.array([
        e.mean(),
        am.mean(),
        N * e.var() / T**2,                  # c = N β² (⟨e²⟩ − ⟨e⟩²)
        N * (m2 - am.mean() ** 2) / T,       # χ = N β (⟨m²⟩ − ⟨|m|⟩²)
        1.0 - m4 / (3.0 * m2**2) if m2 > 0 else np.nan,
    ])


# C, χ and U4 are nonlinear in the sample moments, so their full-sample values are biased
# at O(1/n); E and |m| are sample means, for which the correction is zero with equal groups
# and would only add the noise of unequal group sizes.
BIAS_CORRECTED = np.array([o in ("specific_heat", "susceptibility", "binder")
                           for o in OBSERVABLES])


def jackknife(groups: np.ndarray, e: np.ndarray, m: np.ndarray, T: float, N: int):
    """Jackknife estimate and error of :data:`OBSERVABLES` over the distinct values of ``groups``.

    Parameters
    ----------
    groups : (n,) group label per configuration (chain, or contiguous block in time); the
        delete-one-group formulas assume groups of (nearly) equal size
    e, m : (n,) energy and magnetisation per site of each configuration
    T : temperature (units of J)
    N : number of sites

    Returns
    -------
    ``(estimate, error)``, each of shape (len(OBSERVABLES),). For C, χ and U4 the estimate is
    bias-corrected, G·θ̂ − (G−1)·mean_g θ̂_(g), with θ̂ the full-sample value and θ̂_(g) the value
    without group g (G groups); for E and |m| it is the full-sample mean. The error is the
    jackknife standard error. With one group: the full-sample values and NaN errors.
    """
    full = _estimates(e, m, T, N)
    labels = np.unique(groups)
    G = labels.size
    if G < 2:
        return full, np.full_like(full, np.nan)
    reps = np.stack([_estimates(e[groups != g], m[groups != g], T, N) for g in labels])
    rep_mean = reps.mean(axis=0)
    err = np.sqrt((G - 1) / G * ((reps - rep_mean) ** 2).sum(axis=0))
    est = np.where(BIAS_CORRECTED, G * full - (G - 1) * rep_mean, full)
    return est, err


def observables_table(spins: np.ndarray, temperature: float, chain: np.ndarray | None = None,
                      n_blocks: int = 20) -> pd.DataFrame:
    """Tidy table of E, |m|, C, χ and the Binder cumulant U4 at one temperature.

    Parameters
    ----------
    spins : int8 array (n, L, L) of ±1
    temperature : T of these configurations
    chain : int array (n,) of chain labels for the jackknife; None → ``n_blocks`` contiguous blocks

    Returns
    -------
    DataFrame with columns L, temperature, observable, value, error, n
    """
    n, L = spins.shape[0], spins.shape[-1]
    if chain is None:
        chain = np.arange(n) * n_blocks // n
    e = energy_per_site(spins)
    m = magnetization(spins)
    est, err = jackknife(np.asarray(chain), e, m, float(temperature), L * L)
    return pd.DataFrame({
        "L": L, "temperature": float(temperature), "observable": list(OBSERVABLES),
        "value": est, "error": err, "n": n,
    })
