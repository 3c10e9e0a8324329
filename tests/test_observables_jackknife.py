"""Jackknife of the per-temperature observables: bias correction of C, χ and U4."""

import numpy as np
import pytest

from coarsegrain.lattice.observables import OBSERVABLES, _estimates, jackknife, observables_table

IDX = {o: i for i, o in enumerate(OBSERVABLES)}


def _many(n=12, group=2, reps=2000, seed=0):
    """Raw and jackknifed estimates for ``reps`` synthetic samples of n Gaussian (e, m) pairs
    (N = 1, T = 1, so C = var(e), χ = var(|m|) and U4 = 1 − ⟨m⁴⟩/(3⟨m²⟩²))."""
    rng = np.random.default_rng(seed)
    groups = np.arange(n) // group
    raw, jk = [], []
    for _ in range(reps):
        e, m = rng.standard_normal(n), rng.standard_normal(n)
        raw.append(_estimates(e, m, 1.0, 1))
        jk.append(jackknife(groups, e, m, 1.0, 1)[0])
    return np.array(raw), np.array(jk)


def test_bias_correction_removes_known_bias():
    """Known truths for e, m ~ N(0, 1): C = 1, χ = 1 − 2/π, U4 = 0 (Gaussian kurtosis 3).
    With n = 12 the plain estimates are biased by −1/n (variances) and ≈ +2/(n+1) (U4); the
    jackknife leaves no bias in the variances and an O(1/n²) one in U4."""
    raw, jk = _many()
    se = jk.std(axis=0, ddof=1) / np.sqrt(len(jk))
    se_raw = raw.std(axis=0, ddof=1) / np.sqrt(len(raw))
    truth = {"specific_heat": 1.0, "susceptibility": 1.0 - 2.0 / np.pi, "binder": 0.0}
    for name, t in truth.items():
        i = IDX[name]
        bias_raw, bias_jk = raw[:, i].mean() - t, jk[:, i].mean() - t
        assert abs(bias_raw) > 5 * se_raw[i], (name, bias_raw)  # the plain estimate is biased
        assert abs(bias_jk) < 4 * se[i] and abs(bias_jk) < abs(bias_raw) / 4, (name, bias_jk)
    # the plain variance is low by the factor (n − 1)/n on average
    assert raw[:, IDX["specific_heat"]].mean() == pytest.approx(11 / 12, abs=4 * se_raw[2])


def test_means_and_errors_are_not_corrected():
    rng = np.random.default_rng(1)
    e, m = rng.standard_normal(40), rng.standard_normal(40)
    groups = np.repeat(np.arange(8), 5)
    est, err = jackknife(groups, e, m, 2.0, 16)
    full = _estimates(e, m, 2.0, 16)
    assert est[IDX["energy"]] == full[IDX["energy"]]
    assert est[IDX["abs_magnetization"]] == full[IDX["abs_magnetization"]]
    reps = np.stack([_estimates(e[groups != g], m[groups != g], 2.0, 16) for g in range(8)])
    want = np.sqrt(7 / 8 * ((reps - reps.mean(0)) ** 2).sum(0))
    np.testing.assert_allclose(err, want, rtol=1e-12)
    np.testing.assert_allclose(est[2:], 8 * full[2:] - 7 * reps.mean(0)[2:], rtol=1e-12)
    # one group: no jackknife, plain values and NaN errors
    est1, err1 = jackknife(np.zeros(40), e, m, 2.0, 16)
    np.testing.assert_array_equal(est1, full)
    assert np.isnan(err1).all()


def test_observables_table_uses_corrected_values():
    rng = np.random.default_rng(2)
    spins = rng.choice(np.array([-1, 1], dtype=np.int8), size=(200, 4, 4))
    tab = observables_table(spins, 3.0, n_blocks=10).set_index("observable")
    from coarsegrain.lattice.ising2d import energy_per_site, magnetization

    est, err = jackknife(np.arange(200) * 10 // 200, energy_per_site(spins),
                         magnetization(spins), 3.0, 16)
    np.testing.assert_allclose(tab.loc[list(OBSERVABLES), "value"], est)
    np.testing.assert_allclose(tab.loc[list(OBSERVABLES), "error"], err)
