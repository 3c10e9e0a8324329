"""Long-range Ising chain: couplings, cluster vs exact and Metropolis, critical behaviour."""

import numpy as np
import pytest
from scipy.special import zeta

from coarsegrain.analysis.correlators import scaling_dimension
from coarsegrain.lattice.autocorr import mean_and_error
from coarsegrain.lattice.longrange import (
    LongRangeCluster,
    LongRangeMetropolis,
    couplings,
    energy_per_site,
    locate_tc,
    mean_field_tc,
    observables_table,
    sample_longrange,
    scan_longrange,
)


def exact_chain(N, sigma, T, images="ewald"):
    """⟨e⟩ and ⟨m²⟩ by enumerating all 2^N states."""
    idx = np.arange(2**N)
    s = ((idx[:, None] >> np.arange(N)) & 1) * 2 - 1
    e = energy_per_site(s, couplings(N, sigma, images))
    w = np.exp(-(e - e.min()) * N / T)
    w /= w.sum()
    return (w * e).sum(), (w * s.mean(axis=1) ** 2).sum()


def test_couplings_ewald_and_minimum_image():
    N, sigma = 16, 0.75
    J = couplings(N, sigma)
    assert J[0] == 0 and np.allclose(J[1:], J[1:][::-1])
    direct = sum(abs(3 + n * N) ** -1.75 for n in range(-200_000, 200_000))
    assert J[3] == pytest.approx(direct, rel=5e-5)  # truncated sum: tail ≈ 2e-6
    # Σ_k J(k) = 2ζ(1+σ)(1 − N^−(1+σ)): all images but the site's own
    assert J.sum() == pytest.approx(2 * zeta(1.75) * (1 - N**-1.75), rel=1e-12)
    assert mean_field_tc(sigma) == pytest.approx(2 * zeta(1.75))
    assert mean_field_tc(0.5) == pytest.approx(5.2248, abs=1e-4)
    Jm = couplings(N, sigma, "minimum")
    np.testing.assert_allclose(Jm[1:5], np.arange(1, 5) ** -1.75)
    assert Jm[8] == 8**-1.75 and mean_field_tc(sigma, N, "minimum") == pytest.approx(Jm.sum())


def test_energy_matches_double_sum():
    rng = np.random.default_rng(0)
    N = 12
    s = rng.choice([-1, 1], size=(3, N))
    J = couplings(N, 0.6)
    direct = [-sum(J[(j - i) % N] * c[i] * c[j] for i in range(N) for j in range(i + 1, N)) / N
              for c in s]
    np.testing.assert_allclose(energy_per_site(s, J), direct)
    np.testing.assert_allclose(energy_per_site(np.ones(N), J), -J.sum() / 2)


@pytest.mark.parametrize("sampler", ["cluster", "metropolis"])
@pytest.mark.parametrize("images", ["ewald", "minimum"])
def test_samplers_match_exact_enumeration(sampler, images):
    N, sigma, T = 10, 0.75, 2.5
    e_ex, m2_ex = exact_chain(N, sigma, T, images)
    res = sample_longrange(N, sigma, T, 4000, sampler=sampler, images=images, seed=5,
                           progress=False)
    e, de = mean_and_error(res.observables["energy"])
    m2, dm2 = mean_and_error(res.configs.mean(axis=1) ** 2)
    assert abs(e - e_ex) < 4 * de, (e, de, e_ex)
    assert abs(m2 - m2_ex) < 4 * dm2, (m2, dm2, m2_ex)


def test_cluster_and_metropolis_agree():
    N, sigma, T = 64, 0.75, 3.0
    c = sample_longrange(N, sigma, T, 2000, sampler="cluster", seed=2, progress=False)
    m = sample_longrange(N, sigma, T, 2000, sampler="metropolis", seed=2, progress=False)
    tc, tm = observables_table(c.configs, T, sigma), observables_table(m.configs, T, sigma)
    for name in ("energy", "abs_magnetization", "binder"):
        a, da = tc.loc[tc.observable == name, ["value", "error"]].iloc[0]
        b, db = tm.loc[tm.observable == name, ["value", "error"]].iloc[0]
        assert abs(a - b) < 4 * np.hypot(da, db), (name, a, da, b, db)


def test_cluster_size_identity_and_metadata():
    res = sample_longrange(128, 0.75, 3.0, 1500, seed=3, progress=False)
    c, dc = mean_and_error(res.observables["cluster_fraction"])
    m2, dm2 = mean_and_error(res.configs.mean(axis=1, dtype=np.float64) ** 2)
    assert abs(c - m2) < 4 * np.hypot(dc, dm2)
    for key in ("tau_int", "thin", "sampler", "N", "sigma", "images", "temperature", "model",
                "seed", "clusters_per_sweep"):
        assert key in res.info
    assert res.configs.shape == (1500, 128) and res.configs.dtype == np.int8
    again = sample_longrange(128, 0.75, 3.0, 1500, seed=3, progress=False)
    np.testing.assert_array_equal(res.configs, again.configs)


def test_cluster_limits():
    # T → 0: one cluster takes the whole aligned chain; T → ∞: single spins.
    ch = LongRangeCluster(32, 0.5, 1e-3, 2, seed=0, start="cold", clusters_per_sweep=1)
    assert np.all(ch.flip(1) == 32)
    ch = LongRangeCluster(32, 0.5, 1e6, 2, seed=0, clusters_per_sweep=1)
    assert np.all(ch.flip(5) == 1)


@pytest.mark.parametrize("bad", [0, -0.5, 2.5, float("nan"), "x"])
def test_bad_sigma(bad):
    with pytest.raises(ValueError, match="sigma"):
        couplings(16, bad)
    with pytest.raises(ValueError, match="sigma"):
        sample_longrange(16, bad, 2.0, 10, progress=False)


def test_bad_input():
    with pytest.raises(ValueError, match="temperature"):
        sample_longrange(16, 0.75, 0.0, 10, progress=False)
    with pytest.raises(ValueError, match="temperature"):
        LongRangeMetropolis(16, 0.75, -1.0)
    with pytest.raises(ValueError, match="N"):
        sample_longrange(3, 0.75, 2.0, 10, progress=False)
    with pytest.raises(ValueError, match="N"):
        couplings(16.0, 0.75)
    with pytest.raises(ValueError, match="images"):
        couplings(16, 0.75, images="ewalds")
    with pytest.raises(ValueError, match="sampler"):
        sample_longrange(16, 0.75, 2.0, 10, sampler="wolff", progress=False)
    with pytest.raises(ValueError, match="temperatures"):
        scan_longrange(0.75, [16], [2.0, 0.0], 10)
    assert couplings(16, 2.0, "minimum")[1] == 1.0  # σ = 2 is allowed


@pytest.mark.slow
def test_longrange_sigma_075_tc_and_spin_dimension():
    """σ = 0.75: T_c from Binder crossings over N = 64..512 (located without a prior guess) lies
    below the mean-field bound 2ζ(1.75); at that T_c the spin correlator of N = 1024 gives Δ_σ
    within 20% of (1 − σ)/2 = 1/8."""
    sigma = 0.75
    res = locate_tc(sigma, [64, 128, 256, 512], 1500, seed=1)
    tc, err = res["t_c"], res["error"]
    assert np.isfinite(tc) and 0 < err < 0.05
    assert tc + 3 * err < 2 * zeta(1 + sigma), (tc, err)
    temps = res["table"]["temperature"]
    assert temps.min() < tc < temps.max()
    assert res["runs"]["tau_int"].notna().all()
    samples = sample_longrange(1024, sigma, tc, 3000, seed=2, progress=False)
    # Nearest-image form (the torus form with κ = 1 assumes Δ_ε = 1, which is 2D-specific).
    spin = scaling_dimension(samples.configs, "spin", rmin=1, form="periodic")
    assert abs(spin["delta"] - (1 - sigma) / 2) < 0.2 * (1 - sigma) / 2, spin
    assert spin["delta_err"] < 0.01


@pytest.mark.parametrize("T", [2.645, 2.7])
def test_calibrated_sweep_flips_about_n_spins_from_random_start(T):
    """σ = 0.75 near its T_c (≈ 2.645), N = 8192, random start: the calibrated sweep flips about
    N spins per chain (within a factor of 2), not the ~10 N of a calibration that measures ⟨|C|⟩
    before the chain has ordered."""
    n_sweeps = 40
    ch = LongRangeCluster(8192, 0.75, T, 2, seed=1, start="random")
    flipped = np.zeros(ch.n_chains)
    for _ in range(n_sweeps):
        ch.sweep()
        flipped += ch.last_sizes.sum(axis=1)
    per_sweep = flipped / n_sweeps / ch.N
    assert np.all((per_sweep > 0.5) & (per_sweep < 2.0)), (per_sweep, ch.clusters_per_sweep)
