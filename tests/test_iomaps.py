"""Input–output correlators ⟨v h⟩ and locality measures."""

import itertools

import numpy as np
import pytest
import torch

from coarsegrain.analysis.iomaps import (
    block_fraction,
    io_correlator,
    linear_response,
    locality_contrast,
    locality_table,
    participation_ratio,
    radius,
    rbm_io_maps,
    rg_io_maps,
    stack_io_maps,
)
from coarsegrain.rbm import RBM


def make_rbm(W, b=None):
    W = torch.as_tensor(W, dtype=torch.float32)
    rbm = RBM(W.shape[0], W.shape[1], units="pm1", seed=0)
    with torch.no_grad():
        rbm.W.copy_(W)
        rbm.b.copy_(torch.zeros(W.shape[1]) if b is None else torch.as_tensor(b))
        rbm.a.zero_()
    return rbm


def all_configs(L):
    """Every ±1 configuration of an L×L lattice: exactly independent fair spins."""
    bits = np.array(list(itertools.product((-1, 1), repeat=L * L)), dtype=np.int8)
    return bits.reshape(-1, L, L)


def test_rg_maps_exactly_local_on_independent_spins():
    v = all_configs(4)  # 65536 configurations
    (maps,) = rg_io_maps(v, n_steps=1)
    assert maps.shape == (4, 4, 4)
    # ⟨v_i s'_X⟩ = 1/4 inside the block, exactly 0 outside
    np.testing.assert_allclose(maps[0], [[.25, .25, 0, 0], [.25, .25, 0, 0], [0] * 4, [0] * 4],
                               atol=1e-12)
    np.testing.assert_allclose(block_fraction(maps, 2), 1.0, atol=1e-12)
    np.testing.assert_allclose(block_fraction(maps, 2, aligned=True), 1.0, atol=1e-12)
    np.testing.assert_allclose(participation_ratio(maps), 4.0, atol=1e-9)
    np.testing.assert_allclose(radius(maps), np.sqrt(0.5), atol=1e-9)


def test_rg_maps_per_step_on_sampled_spins():
    rng = np.random.default_rng(0)
    v = rng.choice(np.array([-1, 1], dtype=np.int8), size=(20000, 8, 8))
    maps = rg_io_maps(v, n_steps=2)
    assert [m.shape for m in maps] == [(16, 8, 8), (4, 8, 8)]
    assert np.all(block_fraction(maps[0], 2) > 0.85)
    assert np.all(block_fraction(maps[1], 4) > 0.85)


def test_random_dense_weights_are_not_local():
    rng = np.random.default_rng(1)
    L, M = 8, 16
    v = rng.choice(np.array([-1, 1], dtype=np.int8), size=(4000, L, L))
    rbm = make_rbm(rng.normal(0, 0.2, size=(L * L, M)))
    maps = rbm_io_maps(rbm, v)
    assert maps.shape == (M, L, L)
    bf = block_fraction(maps, 2)
    assert np.median(bf) < 0.25  # a uniform map gives 4/64; a 2×2 block gives 1
    assert np.median(participation_ratio(maps)) > 15
    assert np.median(radius(maps)) > 2.0


def test_synthetic_local_weights_are_local():
    rng = np.random.default_rng(2)
    L = 8
    W = np.zeros((L * L, 16))
    for a, (bx, by) in enumerate(itertools.product(range(0, L, 2), repeat=2)):
        for dx, dy in itertools.product(range(2), repeat=2):
            W[(bx + dx) * L + (by + dy), a] = 0.5
    v = rng.choice(np.array([-1, 1], dtype=np.int8), size=(4000, L, L))
    maps = rbm_io_maps(make_rbm(W), v)
    assert np.all(block_fraction(maps, 2) > 0.85)
    assert np.all(radius(maps) < 1.2)
    # mean-field output: ⟨v_i tanh(½ Σ_block v)⟩ averaged over the 16 block states
    block = list(itertools.product((-1, 1), repeat=4))
    expected = np.mean([np.tanh(0.5 * sum(c)) * c[0] for c in block])
    assert maps[0, 0, 0] == pytest.approx(expected, abs=0.05)


def test_locality_table_and_contrast():
    rng = np.random.default_rng(3)
    v = rng.choice(np.array([-1, 1], dtype=np.int8), size=(3000, 8, 8))
    rg = locality_table(rg_io_maps(v)[0], b=2, kind="rg", layer=1)
    rbm = locality_table(rbm_io_maps(make_rbm(rng.normal(0, .2, (64, 16))), v), b=2, kind="rbm")
    assert list(rg.columns[:6]) == ["unit", "block_fraction", "participation_ratio", "radius",
                                    "block", "uniform_fraction"]
    assert len(rg) == 16 and (rg["kind"] == "rg").all()
    c = locality_contrast(rg["block_fraction"], rbm["block_fraction"], n_boot=200)
    assert c["diff"] > 0.5 and c["diff"] > 5 * c["error"] and c["p_greater"] == 0.0


def test_stack_maps_against_input():
    rng = np.random.default_rng(4)
    v = rng.choice(np.array([-1, 1], dtype=np.int8), size=(500, 8, 8))
    layers = [make_rbm(rng.normal(0, .1, (64, 16))), make_rbm(rng.normal(0, .1, (16, 4)))]
    maps = stack_io_maps(layers, v)
    assert [m.shape for m in maps] == [(16, 8, 8), (4, 8, 8)]
    np.testing.assert_allclose(maps[0], rbm_io_maps(layers[0], v), atol=1e-6)


def test_io_correlator_connected_and_1d():
    v = np.array([[1, 1], [1, -1], [1, 1], [1, -1]], dtype=float)
    h = np.array([[1.0], [0.0], [1.0], [0.0]])
    np.testing.assert_allclose(io_correlator(v, h), [[0.5, 0.5]])
    np.testing.assert_allclose(io_correlator(v, h, connected=True), [[0.0, 0.5]])
    m = np.zeros((1, 16))
    m[0, [15, 0]] = 1.0  # a pair straddling the periodic boundary
    assert block_fraction(m, 2)[0] == 1.0 and radius(m)[0] == pytest.approx(0.5)


def test_noise_debiasing_and_power():
    rng = np.random.default_rng(5)
    v = rng.choice(np.array([-1, 1], dtype=np.int8), size=(1000, 16, 16))
    (maps,), (err,) = rg_io_maps(v, return_error=True)
    assert err.shape == maps.shape and np.all(err > 0)
    plain = block_fraction(maps, 2, power=1)
    squared = block_fraction(maps, 2)
    debiased = block_fraction(maps, 2, noise=err)
    # noise on 252 far sites swamps the |m| share; squared and debiased weights recover the block
    assert np.median(plain) < 0.6 < np.median(squared) < np.median(debiased)
    assert np.median(debiased) > 0.95
    uniform = np.ones((1, 16, 16))
    assert block_fraction(uniform, 2)[0] == pytest.approx(4 / 256)
    assert participation_ratio(uniform)[0] == pytest.approx(256)


def test_linear_response_removes_input_correlations():
    from coarsegrain.lattice.ising2d import metropolis_sample
    from coarsegrain.rg.blockspin import block_kernel

    spins, _, _ = metropolis_sample(8, [2.3], 800, n_chains=40, n_therm=200, thin=2, seed=0,
                                    device="cpu", progress=False)
    v = spins[0]
    (corr,) = rg_io_maps(v)
    (resp,) = rg_io_maps(v, response=True, ridge=1e-9)
    # near T_c ⟨v s'⟩ is broad (it carries ⟨v_i v_j⟩); the receptive field is the block kernel
    assert np.median(block_fraction(corr, 2)) < 0.5
    np.testing.assert_allclose(resp, block_kernel((8, 8)), atol=1e-5)
    np.testing.assert_allclose(block_fraction(resp, 2), 1.0, atol=1e-8)
    # a linear map's receptive field is recovered exactly from any full-rank data
    W = np.random.default_rng(0).normal(size=(64, 3))
    beta = linear_response(v, v.reshape(800, -1) @ W, ridge=1e-12)
    np.testing.assert_allclose(beta.reshape(3, -1), W.T, atol=1e-6)
