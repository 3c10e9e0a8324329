import numpy as np
import pytest

from coarsegrain.lattice import exact


@pytest.mark.parametrize("L", [2, 3, 4])
def test_kaufman_matches_enumeration(L):
    temps = [0.8, 1.5, 2.0, exact.T_CRITICAL, 2.6, 4.0, 10.0]
    ref = exact.enumerate_thermo(temps, L)
    got = exact.finite_size_thermo(temps, L)
    for key in ("log_z", "energy", "specific_heat"):
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-10, atol=1e-10, err_msg=key)


def test_large_L_approaches_onsager():
    temps = np.array([1.5, 2.0, 2.6, 3.5])
    e64 = exact.finite_size_thermo(temps, 64)["energy"]
    np.testing.assert_allclose(e64, exact.onsager_energy(temps), atol=2e-4)


def test_onsager_values():
    assert exact.T_CRITICAL == pytest.approx(2.269185314, abs=1e-9)
    assert exact.onsager_energy(exact.T_CRITICAL) == pytest.approx(-np.sqrt(2))
    # m(T=2.0) = (1 - sinh(1)^-4)^(1/8) = 0.911319...
    assert exact.onsager_magnetization(2.0) == pytest.approx(0.9113194, abs=1e-6)
    assert exact.onsager_magnetization(2.5) == 0.0
    assert exact.onsager_magnetization(0.1) == pytest.approx(1.0, abs=1e-12)


def test_specific_heat_peak_grows_logarithmically():
    # c_max(L) ≈ (8/π) K_c² ln L + const for the torus (Ferdinand–Fisher): slope 0.4945
    grid = np.linspace(2.2, 2.4, 81)
    cmax = [exact.finite_size_thermo(grid, L)["specific_heat"].max() for L in (16, 32)]
    slope = (cmax[1] - cmax[0]) / np.log(2)
    assert slope == pytest.approx(8 / np.pi * np.log1p(np.sqrt(2)) ** 2 / 4, rel=0.03)


def test_bad_input():
    with pytest.raises(ValueError, match="T must be > 0"):
        exact.log_partition_function(0.0, 4)
    with pytest.raises(ValueError, match="L <= 4"):
        exact.enumerate_thermo([1.0], 5)


def test_onsager_energy_is_finite_and_continuous_near_tc():
    # within ~1e-8 of T_c, forming kappa^2 first rounded it to 1 and gave +-inf / NaN
    from coarsegrain.lattice.exact import T_CRITICAL, onsager_energy

    d = np.array([-1e-6, -1e-8, -1e-9, -1e-11, 0.0, 1e-11, 1e-9, 1e-8, 1e-6])
    u = onsager_energy(T_CRITICAL + d)
    assert np.isfinite(u).all()
    # u(T) is continuous at T_c with u(T_c) = -sqrt(2); |u - u_c| ~ |dT| log|dT|
    assert np.abs(u + np.sqrt(2.0)).max() < 1e-4
    assert np.all(np.diff(u) >= -1e-12)  # energy increases with T
