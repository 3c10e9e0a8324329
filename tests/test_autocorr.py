"""Integrated autocorrelation times, thinning and the sampling discipline."""

import math

import numpy as np
import pytest

from coarsegrain.lattice.autocorr import (
    autocorrelation,
    blocking_error,
    effective_sample_size,
    integrated_time,
    mean_and_error,
    sample_chain,
    thin,
    thin_interval,
)


def ar1(phi, n, n_chains=1, seed=0):
    """AR(1) series x_t = φ x_{t−1} + ε_t started in equilibrium: τ_int = (1+φ)/(2(1−φ))."""
    rng = np.random.default_rng(seed)
    eps = rng.normal(size=(n_chains, n))
    x = np.empty((n_chains, n))
    x[:, 0] = eps[:, 0] / math.sqrt(1 - phi**2)
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + eps[:, t]
    return x


class AR1Chain:
    """A MarkovChain whose 'configuration' is the sign pattern of AR(1) processes."""

    def __init__(self, phi, n_chains, seed=0, size=6):
        self.phi, self.n_chains = phi, n_chains
        self.rng = np.random.default_rng(seed)
        self.x = self.rng.normal(size=n_chains) / math.sqrt(1 - phi**2)
        self.sweeps = 0
        self.size = size

    def sweep(self, n=1):
        for _ in range(n):
            self.x = self.phi * self.x + self.rng.normal(size=self.n_chains)
        self.sweeps += n

    def observables(self):
        return {"x2": self.x**2, "absx": np.abs(self.x)}

    def configurations(self):
        return np.ones((self.n_chains, self.size), dtype=np.int8)


def test_autocorrelation_of_ar1_is_geometric():
    x = ar1(0.7, 20_000, n_chains=4)
    rho = autocorrelation(x)
    assert rho[0] == 1.0
    np.testing.assert_allclose(rho[1:6], 0.7 ** np.arange(1, 6), atol=0.03)


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8])
def test_integrated_time_matches_ar1_exact(phi):
    exact = (1 + phi) / (2 * (1 - phi))
    res = integrated_time(ar1(phi, 20_000, n_chains=4, seed=int(10 * phi)))
    assert res.reliable
    assert res.window >= 5 * res.tau - 1
    # Madras–Sokal error; 4σ plus the window's truncation bias φ^(M+1)/(1−φ).
    bias = phi ** (res.window + 1) / (1 - phi) if phi else 0.0
    assert abs(res.tau - exact) < 4 * res.error + bias


def test_short_series_is_flagged_unreliable():
    res = integrated_time(ar1(0.99, 200))
    assert not res.reliable


def test_constant_series_has_tau_one_half():
    res = integrated_time(np.ones(100))
    assert res.tau == 0.5


def test_thinning_helpers():
    assert thin_interval(0.5) == 1
    assert thin_interval(4.5) == 9
    assert thin_interval(4.51) == 10
    assert thin_interval(0.2) == 1
    np.testing.assert_array_equal(thin(np.arange(10), 3), [0, 3, 6, 9])
    np.testing.assert_array_equal(thin(np.arange(12).reshape(2, 6), 2, axis=1), [[0, 2, 4], [6, 8, 10]])
    assert effective_sample_size(1000, 5.0) == 100.0
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="tau"):
            thin_interval(bad)
    with pytest.raises(ValueError, match="interval"):
        thin(np.arange(3), 0)
    with pytest.raises(ValueError, match="series"):
        integrated_time(np.zeros((2, 2, 2)))


def test_errors_of_correlated_mean_agree():
    phi = 0.8
    x = ar1(phi, 2**16, seed=3)[0]
    exact_err = math.sqrt(2 * 4.5 * x.var() / x.size)
    m, e = mean_and_error(x)
    mb, eb = blocking_error(x)
    assert m == pytest.approx(mb)
    assert e == pytest.approx(exact_err, rel=0.2)
    assert eb == pytest.approx(exact_err, rel=0.3)


def test_sample_chain_discipline():
    phi = 0.9  # τ_int of x² is (1+φ²)/(2(1−φ²)) ≈ 4.76
    chain = AR1Chain(phi, n_chains=8)
    res = sample_chain(chain, 100, rng=np.random.default_rng(1), n_thermalize=10, n_pilot=400,
                       progress=False)
    info = res.info
    tau_x2 = (1 + phi**2) / (2 * (1 - phi**2))
    assert abs(info["tau_int"] - tau_x2) < 4 * info["tau_int_error"] + 0.5
    assert info["thin"] == thin_interval(info["tau_int"])
    assert info["n_thermalize"] >= 20 * info["tau_int"]
    assert res.configs.shape == (100, 6) and res.configs.dtype == np.int8
    assert set(res.observables) == {"x2", "absx"} and res.observables["x2"].shape == (100,)
    np.testing.assert_array_equal(res.chain[:10], np.arange(10) % 8)
    # Random global flip: every stored all-up configuration becomes ±1 as a whole.
    signs = res.configs[:, 0]
    assert np.all(res.configs == signs[:, None])
    assert 20 < (signs > 0).sum() < 80
    total = info["n_thermalize"] + -(-100 // 8) * info["thin"]
    assert chain.sweeps == total


def test_sample_chain_fixed_thin_and_bad_input():
    chain = AR1Chain(0.5, n_chains=2)
    res = sample_chain(chain, 10, rng=np.random.default_rng(0), n_thermalize=0, thin=3,
                       n_pilot=0, global_flip=False, progress=False)
    assert res.info["thin"] == 3 and np.all(res.configs == 1)
    with pytest.raises(ValueError, match="n_samples"):
        sample_chain(chain, 0, rng=np.random.default_rng(0), progress=False)
    with pytest.raises(ValueError, match="thin"):
        sample_chain(chain, 5, rng=np.random.default_rng(0), thin=0, progress=False)
    with pytest.raises(ValueError, match="n_pilot"):
        sample_chain(chain, 5, rng=np.random.default_rng(0), n_pilot=0, progress=False)
