"""Wolff cluster sampler for the 2D Ising model: exactness, agreement with Metropolis, scaling."""

import numpy as np
import pytest

from coarsegrain.analysis.critical import binder_crossings, estimate_tc
from coarsegrain.lattice.autocorr import mean_and_error
from coarsegrain.lattice.cluster import (
    WolffIsing2D,
    choose_sampler,
    sample_ising2d,
    scan_ising2d,
    wolff_flip,
)
from coarsegrain.lattice.exact import enumerate_thermo, finite_size_thermo
from coarsegrain.lattice.ising2d import T_CRITICAL
from coarsegrain.lattice.observables import observables_table

TC = T_CRITICAL


def obs(table, name):
    row = table[table["observable"] == name].iloc[0]
    return row["value"], row["error"]


def test_wolff_flip_keeps_spins_and_counts_sizes():
    rng = np.random.default_rng(0)
    s = np.ones((3, 8, 8), dtype=np.int8)
    sizes = wolff_flip(s, TC, 5, rng=rng)
    assert sizes.shape == (3, 5) and sizes.min() >= 1 and sizes.max() <= 64
    assert s.dtype == np.int8 and set(np.unique(s)) <= {-1, 1}
    # At T → 0 the bond probability is 1: one cluster is the whole (aligned) lattice.
    s = np.ones((2, 6, 6), dtype=np.int8)
    np.testing.assert_array_equal(wolff_flip(s, 1e-6, 1, rng=rng), [[36], [36]])
    assert np.all(s == -1)
    # At T → ∞ the bond probability → 0: single-spin clusters.
    np.testing.assert_array_equal(wolff_flip(s, 1e9, 3, rng=rng), 1)


def test_wolff_reproducible_from_seed():
    a = sample_ising2d(8, 2.5, 50, sampler="wolff", seed=3, progress=False)
    b = sample_ising2d(8, 2.5, 50, sampler="wolff", seed=3, progress=False)
    c = sample_ising2d(8, 2.5, 50, sampler="wolff", seed=4, progress=False)
    np.testing.assert_array_equal(a.configs, b.configs)
    assert not np.array_equal(a.configs, c.configs)
    for key in ("tau_int", "thin", "n_thermalize", "sampler", "L", "temperature", "seed",
                "model", "clusters_per_sweep"):
        assert key in a.info
    assert a.info["sampler"] == "wolff" and a.info["model"] == "ising2d"
    assert a.info["thin"] >= 2 * a.info["tau_int"]


@pytest.mark.parametrize("L,T", [(4, 2.0), (4, TC), (8, TC), (16, 2.0), (16, TC), (32, TC),
                                 (32, 3.0)])
def test_wolff_energy_matches_exact_finite_size(L, T):
    """Exact finite-L energy (L = 4 by enumeration, L = 8..32 from Kaufman's Z) and specific
    heat, within 4 standard errors."""
    exact = enumerate_thermo([T], L) if L == 4 else finite_size_thermo([T], L)
    res = sample_ising2d(L, T, 3000, sampler="wolff", seed=L, progress=False)
    e, de = mean_and_error(res.observables["energy"])
    assert abs(e - exact["energy"][0]) < 4 * de, (e, de, exact["energy"][0])
    table = observables_table(res.configs, T)
    c, dc = obs(table, "specific_heat")
    assert abs(c - exact["specific_heat"][0]) < 4 * dc + 0.02 * exact["specific_heat"][0]


def test_wolff_and_metropolis_agree():
    """Same E, |m| and U4 at T_c, L = 16, within the combined errors (4σ)."""
    w = sample_ising2d(16, TC, 2000, sampler="wolff", seed=1, progress=False)
    m = sample_ising2d(16, TC, 2048, sampler="metropolis", seed=1, device="cpu", n_chains=64,
                       progress=False)
    assert m.info["sampler"] == "metropolis" and m.info["thin"] >= 2 * m.info["tau_int"]
    # Metropolis decorrelates far more slowly at T_c (z ≈ 2.17 vs ≈ 0.25)
    assert m.info["tau_int"] > 2 * w.info["tau_int"]
    tw, tm = observables_table(w.configs, TC), observables_table(m.configs, TC)
    for name in ("energy", "abs_magnetization", "binder"):
        (a, da), (b, db) = obs(tw, name), obs(tm, name)
        assert abs(a - b) < 4 * np.hypot(da, db), (name, a, da, b, db)


def test_cluster_size_is_susceptibility():
    """Improved estimator: ⟨|C|⟩/N = ⟨m²⟩ (Wolff's cluster-size identity)."""
    for L in (8, 16):
        res = sample_ising2d(L, TC, 3000, sampler="wolff", seed=L + 1, progress=False)
        c, dc = mean_and_error(res.observables["cluster_fraction"])
        m2, dm2 = mean_and_error(res.configs.mean(axis=(1, 2), dtype=np.float64) ** 2)
        assert abs(c - m2) < 4 * np.hypot(dc, dm2), (L, c, dc, m2, dm2)


def test_mean_cluster_fraction_scaling():
    """⟨|C|⟩/N = χ/N ∝ L^(−2Δ_σ) = L^(−1/4) at T_c (slope of a weighted log–log fit)."""
    sizes = np.array([16, 32, 64])
    vals, errs = [], []
    for L in sizes:
        res = sample_ising2d(int(L), TC, 1500, sampler="wolff", seed=int(L), progress=False)
        v, e = mean_and_error(res.observables["cluster_fraction"])
        vals.append(v)
        errs.append(e)
    y, dy = np.log(vals), np.array(errs) / np.array(vals)
    (slope, _), cov = np.polyfit(np.log(sizes), y, 1, w=1 / dy, cov="unscaled")
    assert abs(slope + 0.25) < 4 * np.sqrt(cov[0, 0]), (slope, np.sqrt(cov[0, 0]))


def test_choose_sampler():
    assert choose_sampler(TC) == "wolff"
    assert choose_sampler(2.6, window=0.5) == "wolff"
    assert choose_sampler(1.0) == "metropolis"
    assert choose_sampler(4.0) == "metropolis"
    assert choose_sampler(1.0, "wolff") == "wolff"
    assert choose_sampler(TC, "metropolis") == "metropolis"


def test_bad_input():
    with pytest.raises(ValueError, match="temperature"):
        sample_ising2d(8, 0.0, 10, progress=False)
    with pytest.raises(ValueError, match="temperature"):
        sample_ising2d(8, -1.0, 10, progress=False)
    with pytest.raises(ValueError, match="temperature"):
        choose_sampler(float("nan"))
    with pytest.raises(ValueError, match="L"):
        sample_ising2d(8.5, TC, 10, progress=False)
    with pytest.raises(ValueError, match="L"):
        sample_ising2d(1, TC, 10, progress=False)
    with pytest.raises(ValueError, match="L must be even"):
        sample_ising2d(9, 1.0, 10, sampler="metropolis", progress=False)
    with pytest.raises(ValueError, match="sampler"):
        sample_ising2d(8, TC, 10, sampler="heatbath", progress=False)
    with pytest.raises(ValueError, match="n_samples"):
        sample_ising2d(8, TC, 0, progress=False)
    with pytest.raises(ValueError, match="n_chains"):
        WolffIsing2D(8, TC, 0)
    with pytest.raises(ValueError, match="spins"):
        wolff_flip(np.ones((2, 4, 4)), TC, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="temperature"):
        wolff_flip(np.ones((2, 4, 4), np.int8), 0, rng=np.random.default_rng(0))


@pytest.mark.slow
def test_binder_crossing_tc_2d():
    """T_c from Binder-cumulant crossings of L = 16, 32, 64 within 0.5% of 2/ln(1+√2)."""
    temps = np.round(np.arange(2.23, 2.311, 0.01), 4)
    table, runs = scan_ising2d([16, 32, 64], temps, 2000, sampler="wolff", seed=7)
    assert (runs["sampler"] == "wolff").all() and runs["tau_int"].notna().all()
    crossings = binder_crossings(table, n_boot=200)
    tc, err = estimate_tc(crossings, n_largest=2)
    assert abs(tc - TC) < 0.005 * TC, (tc, err, crossings)
    assert err < 0.005 * TC


@pytest.mark.parametrize("T", [TC, 2.3])
def test_calibrated_sweep_flips_about_n_spins_from_random_start(T):
    """From a disordered start at and just above T_c (L = 128), the calibrated sweep flips about
    N spins per chain (within a factor of 2) once the chain has equilibrated. A calibration that
    measures ⟨|C|⟩ while the lattice is still disordered gives sweeps of hundreds of N."""
    n_sweeps = 40
    ch = WolffIsing2D(128, T, 2, seed=11, start="random")
    flipped = np.zeros(ch.n_chains)
    for _ in range(n_sweeps):
        ch.sweep()
        flipped += ch.last_sizes.sum(axis=1)
    per_sweep = flipped / n_sweeps / ch.N
    assert np.all((per_sweep > 0.5) & (per_sweep < 2.0)), (per_sweep, ch.clusters_per_sweep)
