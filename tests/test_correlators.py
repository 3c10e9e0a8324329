"""Two-point correlators, the energy operator and power-law fits."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from coarsegrain.analysis.correlators import (
    energy_operator,
    fit_power_law,
    scaling_dimension,
    two_point,
)


def ising_ring(n, N, K, seed=0):
    """Exact samples of the periodic nearest-neighbour Ising ring at coupling K = βJ.

    Bond variables b_i = s_i s_{i+1} are independent with P(b = +1) = (1 + tanh K)/2 (the
    Markov-chain construction of the open chain); the ring needs Π b_i = +1, imposed by
    rejection. The first spin is ±1 at random.
    """
    rng = np.random.default_rng(seed)
    p_up = (1 + math.tanh(K)) / 2
    out = []
    while sum(len(o) for o in out) < n:
        b = np.where(rng.random((2 * n, N)) < p_up, 1, -1).astype(np.int8)
        b = b[np.prod(b, axis=1) == 1]
        s0 = rng.choice(np.array([-1, 1], dtype=np.int8), size=(b.shape[0], 1))
        s = s0 * np.cumprod(np.concatenate([np.ones((b.shape[0], 1), np.int8), b[:, :-1]], 1), 1)
        out.append(s.astype(np.int8))
    return np.concatenate(out)[:n]


def direct_two_point(x, max_r):
    axes = range(1, x.ndim)
    return np.array([np.mean([(x * np.roll(x, -r, axis=a)).mean() for a in axes])
                     for r in range(max_r + 1)])


def test_all_up_is_one():
    for shape in [(5, 8, 8), (5, 16)]:
        df = two_point(np.ones(shape, dtype=np.int8))
        assert list(df.columns) == ["r", "value", "error"]
        np.testing.assert_allclose(df["value"], 1.0)
        np.testing.assert_allclose(df["error"], 0.0, atol=1e-12)
        assert df["r"].tolist() == list(range(shape[-1] // 2 + 1))
        dc = two_point(np.ones(shape), connected=True)
        np.testing.assert_allclose(dc["value"], 0.0, atol=1e-12)


def test_random_spins_uncorrelated_beyond_zero():
    rng = np.random.default_rng(0)
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(400, 16, 16))
    df = two_point(x, seed=1)
    assert df["value"][0] == 1.0
    z = df["value"][1:] / df["error"][1:]
    assert np.all(np.abs(z) < 4.5)


def test_matches_direct_sum_on_rectangular_and_chain():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 6, 10))
    np.testing.assert_allclose(two_point(x, n_boot=0)["value"], direct_two_point(x, 3))
    y = rng.normal(size=(6, 9))
    np.testing.assert_allclose(two_point(y, max_r=3, n_boot=0)["value"], direct_two_point(y, 3))
    # connected: subtract the site-averaged product of per-site means
    m = x.mean(axis=0, keepdims=True)
    np.testing.assert_allclose(two_point(x, connected=True, n_boot=0)["value"],
                               direct_two_point(x, 3) - direct_two_point(m, 3))


def test_torch_input_and_bootstrap_error_scale():
    rng = np.random.default_rng(3)
    x = rng.choice([-1.0, 1.0], size=(300, 12))
    a = two_point(x, seed=0)
    b = two_point(torch.as_tensor(x), seed=0)
    pd.testing.assert_frame_equal(a, b)
    # For independent ±1 products the error of the mean is 1/√(n N) at 1 ≤ r < N/2; at r = N/2
    # each pair is counted twice, so only N/2 products are independent.
    np.testing.assert_allclose(a["error"][1:6], 1 / math.sqrt(300 * 12), rtol=0.3)
    assert a["error"][6] == pytest.approx(1 / math.sqrt(300 * 6), rel=0.3)


@pytest.mark.parametrize("K", [0.5, 1.0])
def test_exact_periodic_ising_ring(K):
    N, n = 32, 4000
    x = ising_ring(n, N, K, seed=int(K * 10))
    df = two_point(x, seed=2)
    t = math.tanh(K)
    r = df["r"].to_numpy()
    exact = (t**r + t ** (N - r)) / (1 + t**N)
    z = (df["value"] - exact) / df["error"].clip(lower=1e-12)
    assert np.abs(z[1:]).max() < 4.5
    assert df["value"][0] == 1.0


def test_energy_operator():
    up = np.ones((2, 4, 4), dtype=np.int8)
    np.testing.assert_array_equal(energy_operator(up), 1.0)
    checker = np.indices((4, 4)).sum(axis=0) % 2 * 2 - 1
    np.testing.assert_array_equal(energy_operator(checker[None]), -1.0)
    stripes = np.tile(np.array([1, 1, -1, -1])[:, None], (1, 4))[None]  # uniform along x
    eps = energy_operator(stripes)
    # ε = (s·s_{x+1} + s·s_{y+1})/2 with x bonds all +1 and y bonds alternating.
    np.testing.assert_array_equal(eps[0, :, 0], [1, 0, 1, 0])
    # ⟨ε⟩ = −e (energy per site over 2 bonds per site)
    rng = np.random.default_rng(0)
    s = rng.choice([-1, 1], size=(3, 8, 8))
    e = -(s * (np.roll(s, 1, -1) + np.roll(s, 1, -2))).mean(axis=(1, 2))
    np.testing.assert_allclose(energy_operator(s).mean(axis=(1, 2)), -e / 2)
    chain = np.array([[1, 1, -1, -1, 1]])
    np.testing.assert_array_equal(energy_operator(chain), [[1, -1, 1, -1, 1]])
    assert energy_operator(torch.ones(2, 6)).shape == (2, 6)


def synthetic(delta, L, form, noise=0.0, seed=0):
    r = np.arange(L // 2 + 1)
    with np.errstate(divide="ignore"):
        v = 0.7 * r ** (-2 * delta) + (0.7 * (L - r) ** (-2 * delta) if form == "periodic" else 0)
    v[0] = 1.0
    rng = np.random.default_rng(seed)
    err = np.full(r.size, max(noise, 1e-6))
    df = pd.DataFrame({"r": r, "value": v + noise * rng.normal(size=r.size), "error": err})
    df.attrs["L"] = L
    return df


def test_fit_torus_form():
    r = np.arange(33)
    with np.errstate(divide="ignore"):
        v = 0.7 * r**-0.25 * (1 + 0.5 * r / 64)
    df = pd.DataFrame({"r": r, "value": v, "error": 1e-6})
    df.attrs["L"] = 64
    res = fit_power_law(df, form="torus")
    assert res["delta"] == pytest.approx(0.125, abs=1e-6)
    assert res["correction"] == pytest.approx(0.5, abs=1e-5)
    with np.errstate(divide="ignore"):
        v2 = 0.7 * r**-0.25 * (1 + 0.5 * (r / 64) ** 0.5)
    res2 = fit_power_law(df.assign(value=v2), form="torus", kappa=0.5)
    assert res2["delta"] == pytest.approx(0.125, abs=1e-6)
    with pytest.raises(ValueError, match="kappa"):
        fit_power_law(df, form="torus", kappa=0)


@pytest.mark.parametrize("form", ["power", "periodic"])
def test_fit_recovers_exponent(form):
    res = fit_power_law(synthetic(0.125, 64, form), rmin=1, form=form)
    assert res["delta"] == pytest.approx(0.125, abs=1e-6)
    assert res["amplitude"] == pytest.approx(0.7, rel=1e-5)
    assert res["rmin"] == 1 and res["rmax"] == 32
    noisy = fit_power_law(synthetic(1.0, 64, form, noise=1e-4, seed=1), rmin=2, rmax=20,
                          form=form)
    assert abs(noisy["delta"] - 1.0) < 4 * noisy["delta_err"]
    assert 0.2 < noisy["chi2_dof"] < 3


def test_fit_bad_input():
    df = synthetic(0.125, 16, "power")
    with pytest.raises(ValueError, match="form"):
        fit_power_law(df, form="cosh")
    with pytest.raises(ValueError, match="rmin"):
        fit_power_law(df, rmin=0)
    with pytest.raises(ValueError, match="rmax"):
        fit_power_law(df, rmin=3, rmax=3)
    with pytest.raises(ValueError, match="max_r"):
        two_point(np.ones((2, 8, 8)), max_r=5)
    with pytest.raises(ValueError, match="configs"):
        two_point(np.ones(8))
    neg = df.copy()
    neg.loc[3, "value"] = -1.0
    assert math.isnan(fit_power_law(neg)["delta"])


def test_scaling_dimension_of_ising_ring_is_zero_like():
    """Exponential decay has no power law, but the jackknife machinery must run and give a
    finite error; at K large the ring is nearly ordered (Δ ≈ 0)."""
    x = ising_ring(400, 32, 3.0, seed=5)
    res = scaling_dimension(x, operator="spin", rmin=1, form="periodic", n_groups=5)
    assert abs(res["delta"]) < 0.01 and np.isfinite(res["delta_err"])
    assert set(res["table"].columns) == {"r", "value", "error"}
    with pytest.raises(ValueError, match="operator"):
        scaling_dimension(x, operator="magnetic")


@pytest.mark.slow
def test_spin_and_energy_dimensions_2d_ising_at_tc():
    """Δ_σ within 0.02 of 1/8 at L = 64 and T_c (Wolff samples); Δ_ε reported near 1."""
    from coarsegrain.lattice.cluster import sample_ising2d
    from coarsegrain.lattice.ising2d import T_CRITICAL

    res = sample_ising2d(64, T_CRITICAL, 4000, sampler="wolff", seed=11, progress=False)
    spin = scaling_dimension(res.configs, "spin", rmin=1, form="torus", n_groups=10)
    assert abs(spin["delta"] - 0.125) < 0.02
    # the statistical error itself must be small enough for the check to mean something
    assert spin["delta_err"] < 0.005
    assert spin["amplitude"] == pytest.approx(0.7034, abs=0.01)  # infinite-lattice amplitude
    # the nearest-image form is biased on the torus (documented): it must be the worse one
    periodic = scaling_dimension(res.configs, "spin", rmin=1, form="periodic", n_groups=10)
    assert abs(periodic["delta"] - 0.125) > abs(spin["delta"] - 0.125)
    # The connected energy correlator falls as r^(−2Δ_ε) ≈ r^−2: near r = L/2 it is within ~1σ of
    # zero with 4000 samples, and a power-law fit needs positive data, so fit up to L/4.
    energy = scaling_dimension(res.configs, "energy", rmin=2, rmax=16, form="torus", n_groups=10)
    assert abs(energy["delta"] - 1.0) < max(4 * energy["delta_err"], 0.1)


@pytest.fixture(scope="module")
def wolff_tc_16():
    from coarsegrain.lattice.cluster import sample_ising2d
    from coarsegrain.lattice.ising2d import T_CRITICAL

    return sample_ising2d(16, T_CRITICAL, 300, sampler="wolff", seed=4, progress=False).configs


@pytest.mark.parametrize("connected", [False, True])
def test_chunked_two_point_equals_unchunked(connected):
    rng = np.random.default_rng(6)
    for x in (rng.normal(size=(53, 6, 10)), rng.choice(np.array([-1, 1], np.int8), (41, 14))):
        whole = two_point(x, connected=connected, seed=3, chunk=x.shape[0])
        for chunk in (1, 5, None):
            part = two_point(x, connected=connected, seed=3, chunk=chunk)
            np.testing.assert_allclose(part["value"], whole["value"], rtol=0, atol=1e-13)
            np.testing.assert_allclose(part["error"], whole["error"], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("operator", ["spin", "energy"])
def test_chunked_scaling_dimension_equals_unchunked(wolff_tc_16, operator):
    x = wolff_tc_16
    whole = scaling_dimension(x, operator, form="torus", n_groups=6, chunk=x.shape[0])
    part = scaling_dimension(x, operator, form="torus", n_groups=6, chunk=7)
    np.testing.assert_allclose(part["table"]["value"], whole["table"]["value"], atol=1e-13)
    np.testing.assert_allclose(part["table"]["error"], whole["table"]["error"], atol=1e-13)
    # The fits converge to curve_fit's tolerance (and the 3-parameter torus fit of the noisy
    # energy correlator is poorly conditioned), so round-off in the data moves them slightly.
    for key in ("delta", "delta_err", "delta_err_fit", "amplitude"):
        assert part[key] == pytest.approx(whole[key], rel=1e-4), key


@pytest.mark.parametrize("operator", ["spin", "energy"])
def test_scaling_dimension_jackknife_matches_refits_on_reduced_sets(wolff_tc_16, operator):
    """The leave-one-group-out correlators from the one-pass sums equal two_point on the
    configurations with that group removed, so the jackknife error is that of the refits."""
    x, n_groups = wolff_tc_16, 5
    res = scaling_dimension(x, operator, rmin=1, form="torus", n_groups=n_groups, seed=2)
    field = energy_operator(x) if operator == "energy" else x
    full = two_point(field, connected=operator == "energy", n_boot=100, seed=2)
    pd.testing.assert_frame_equal(res["table"], full, check_exact=False, atol=1e-13)
    groups = np.arange(len(x)) * n_groups // len(x)
    deltas = []
    for g in range(n_groups):
        d = two_point(field[groups != g], connected=operator == "energy", n_boot=0)
        d["error"] = full["error"].to_numpy()
        deltas.append(fit_power_law(d, rmin=1, form="torus", L=16)["delta"])
    deltas = np.array(deltas)
    jk = math.sqrt((n_groups - 1) / n_groups * np.sum((deltas - deltas.mean()) ** 2))
    assert res["delta_err"] == pytest.approx(jk, rel=1e-6)


def test_bad_chunk():
    x = np.ones((4, 8))
    for bad in (0, -1, 2.5, "all"):
        with pytest.raises(ValueError, match="chunk"):
            two_point(x, chunk=bad)
        with pytest.raises(ValueError, match="chunk"):
            scaling_dimension(x, chunk=bad, n_groups=2)
