import numpy as np
import pytest
import torch

from coarsegrain.lattice import exact
from coarsegrain.lattice.ising2d import (
    CheckerboardMetropolis,
    energy_per_site,
    magnetization,
    metropolis_sample,
)
from coarsegrain.lattice.observables import observables_table


def test_energy_and_magnetization_by_hand():
    up = np.ones((1, 4, 4), dtype=np.int8)
    assert energy_per_site(up)[0] == -2.0 and magnetization(up)[0] == 1.0
    checker = np.indices((4, 4)).sum(0) % 2 * 2 - 1
    assert energy_per_site(checker[None])[0] == 2.0 and magnetization(checker[None])[0] == 0.0
    stripe = np.ones((4, 4)); stripe[:2] = -1  # noqa: E702
    # 2 domain walls of 4 broken bonds each: E = -(32 - 2*8)/16 = -1
    assert energy_per_site(stripe[None])[0] == -1.0
    t = torch.as_tensor(stripe[None], dtype=torch.float32)
    assert energy_per_site(t).item() == -1.0


def test_sampled_energy_matches_exact_L16():
    """Sampled <e>(T) at L=16 within 3 standard errors of the exact finite-L value."""
    temps = [1.8, 2.27, 2.6, 3.5]
    spins, chain, _ = metropolis_sample(16, temps, 1200, n_chains=40, n_therm=600, thin=5,
                                        seed=11, device="cpu", progress=False)
    ex = exact.finite_size_thermo(temps, 16)["energy"]
    for k, T in enumerate(temps):
        obs = observables_table(spins[k], T, chain=chain).set_index("observable")
        val, err = obs.loc["energy", "value"], obs.loc["energy", "error"]
        assert err > 0
        assert abs(val - ex[k]) < 3 * err, (T, val, err, ex[k])


def test_low_temperature_magnetization_matches_onsager():
    spins, chain, _ = metropolis_sample(32, [1.6], 400, n_chains=20, n_therm=300, thin=5,
                                        seed=5, device="cpu", progress=False)
    obs = observables_table(spins[0], 1.6, chain=chain).set_index("observable")
    m, err = obs.loc["abs_magnetization", "value"], obs.loc["abs_magnetization", "error"]
    # finite-size corrections are exponentially small below T_c at L=32
    assert abs(m - exact.onsager_magnetization(1.6)) < 3 * err + 1e-3


def test_same_seed_same_chains_and_global_flip():
    a = metropolis_sample(8, [2.0, 3.0], 40, n_chains=10, n_therm=20, thin=2, seed=3, progress=False)
    b = metropolis_sample(8, [2.0, 3.0], 40, n_chains=10, n_therm=20, thin=2, seed=3, progress=False)
    c = metropolis_sample(8, [2.0, 3.0], 40, n_chains=10, n_therm=20, thin=2, seed=4, progress=False)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    # cold start + random global flip: at T=2.0 both signs of m appear
    m = magnetization(a[0][0])
    assert (m > 0.5).any() and (m < -0.5).any()


def test_detailed_balance_on_2x2_enumeration():
    """Long-run state frequencies of a 4x4 lattice at T=3 match the Boltzmann weights' energy
    distribution (a direct check of the acceptance rule)."""
    T = 3.0
    mc = CheckerboardMetropolis(4, [T], n_chains=4000, seed=9, device="cpu", cold_start=False)
    mc.sweep(50)
    e_mc = mc.energy().numpy().ravel()
    ref = exact.enumerate_thermo([T], 4)["energy"][0]
    assert abs(e_mc.mean() - ref) < 4 * e_mc.std() / np.sqrt(e_mc.size)


@pytest.mark.parametrize("kwargs,msg", [
    (dict(L=7, temperatures=[2.0]), "even"),
    (dict(L=8, temperatures=[0.0]), "> 0"),
    (dict(L=8, temperatures=[-1.0]), "> 0"),
    (dict(L=8, temperatures=[]), "non-empty"),
])
def test_bad_input(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        metropolis_sample(n_samples=10, n_chains=10, progress=False, **kwargs)


def test_n_samples_must_fit_chains():
    with pytest.raises(ValueError, match="multiple of n_chains"):
        metropolis_sample(8, [2.0], 15, n_chains=10, progress=False)
