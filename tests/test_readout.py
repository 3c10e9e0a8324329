"""Hidden-layer readout: invariance under the RBM's symmetries, placement of a local RBM."""

import numpy as np
import pytest
import torch

from coarsegrain.flow.rbmflow import stack_outputs
from coarsegrain.flow.readout import (
    coarse_lattice_shape,
    layer_readout,
    reconstruct_visible,
    stack_readouts,
    unit_placement,
    unit_signs,
)
from coarsegrain.rbm import RBM


def random_spins(n, shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=(n, *shape))


def random_stack(sizes, seed, std=0.3):
    layers = []
    for i, (nv, nh) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        rbm = RBM(nv, nh, init_std=std, seed=seed * 10 + i)
        g = torch.Generator().manual_seed(seed * 10 + i)
        with torch.no_grad():
            rbm.a.copy_(0.2 * torch.randn(nv, generator=g))
            rbm.b.copy_(0.2 * torch.randn(nh, generator=g))
        layers.append(rbm)
    return layers


def transform_pm1(layers, seed):
    """The same model with every layer's hidden units flipped at random and permuted."""
    rng = np.random.default_rng(seed)
    new, prev_perm, prev_sign = [], None, None
    for rbm in layers:
        W, a, b = (t.clone() for t in (rbm.W.data, rbm.a.data, rbm.b.data))
        if prev_perm is not None:  # this layer's visible units are the previous hidden ones
            W = (W * prev_sign[:, None])[prev_perm]
            a = (a * prev_sign)[prev_perm]
        sign = torch.as_tensor(rng.choice([-1.0, 1.0], size=rbm.n_hidden), dtype=W.dtype)
        perm = torch.as_tensor(rng.permutation(rbm.n_hidden))
        W, b = (W * sign)[:, perm], (b * sign)[perm]
        out = RBM(rbm.n_visible, rbm.n_hidden, init_std=0.0)
        with torch.no_grad():
            out.W.copy_(W)
            out.a.copy_(a)
            out.b.copy_(b)
        new.append(out)
        prev_perm, prev_sign = perm, sign
    return new


@pytest.mark.parametrize("seed,sizes,shape", [
    (0, [64, 16, 4], (8, 8)),
    (1, [144, 36, 9], (12, 12)),
    (2, [100, 25], (10, 10)),
    (3, [32, 16, 8], (32,)),
    (4, [256, 64, 16, 4], (16, 16)),
])
def test_readout_invariant_under_unit_flips_and_permutations(seed, sizes, shape):
    layers = random_stack(sizes, seed)
    other = transform_pm1(layers, seed + 100)
    v = random_spins(40, shape, seed)
    # the transformed model is the same model: same mean-field free energy of the data
    torch.testing.assert_close(other[0].free_energy(v.reshape(40, -1)),
                               layers[0].free_energy(v.reshape(40, -1)), rtol=1e-5, atol=1e-4)
    for readout in ("placed", "reconstruction"):
        a = stack_outputs(layers, v, sample=False, readout=readout)
        b = stack_outputs(other, v, sample=False, readout=readout)
        for k in a:
            np.testing.assert_allclose(a[k], b[k], atol=1e-5, err_msg=f"{readout} layer {k}")
    raw_a = stack_outputs(layers, v, sample=False, readout="raw")
    raw_b = stack_outputs(other, v, sample=False, readout="raw")
    assert not np.allclose(raw_a[1], raw_b[1], atol=1e-3)  # the artefact the readout removes


def test_signs_and_placement_follow_the_units():
    rng = np.random.default_rng(5)
    W = rng.normal(size=(36, 9))
    sign = rng.choice([-1.0, 1.0], size=9)
    perm = rng.permutation(9)
    W2 = (W * sign)[:, perm]
    for rule in ("sum", "max"):
        np.testing.assert_array_equal(unit_signs(W2, rule), (unit_signs(W, rule) * sign)[perm])
    o1, o2 = unit_placement(W, (6, 6)), unit_placement(W2, (6, 6))
    np.testing.assert_array_equal(perm[o2], o1)  # same unit at every site
    with pytest.raises(ValueError, match="sign_rule"):
        unit_signs(W, "largest")
    with pytest.raises(ValueError, match="visible_shape"):
        layer_readout(W, (5, 5))


def local_rbm(L=8, w=4.0, seed=0, units="pm1"):
    """Hidden unit a looks only at one 2×2 block, with a random sign, units in random order."""
    rng = np.random.default_rng(seed)
    l = L // 2
    block_of_unit = rng.permutation(l * l)
    signs = rng.choice([-1.0, 1.0], size=l * l)
    W = np.zeros((L * L, l * l))
    for a, blk in enumerate(block_of_unit):
        bi, bj = divmod(int(blk), l)
        for di in (0, 1):
            for dj in (0, 1):
                W[(2 * bi + di) * L + 2 * bj + dj, a] = w * signs[a]
    rbm = RBM(L * L, l * l, units=units, bias=False, init_std=0.0)
    with torch.no_grad():
        rbm.W.copy_(torch.as_tensor(W, dtype=torch.float32))
    return rbm, block_of_unit


def block_sum(v, b=2):
    n, L, _ = v.shape
    return v.reshape(n, L // b, b, L // b, b).sum(axis=(2, 4))


def test_local_rbm_placed_on_its_blocks_and_reads_like_block_spin():
    L = 8
    rbm, block_of_unit = local_rbm(L)
    ro = layer_readout(rbm, (L, L))
    assert ro.shape == (4, 4)
    np.testing.assert_array_equal(block_of_unit[ro.order], np.arange(16))
    v = random_spins(200, (L, L), seed=1)
    s = block_sum(v).astype(np.float64)
    # mean field: the oriented unit reads tanh(w · block sum) = 2×2 averaging up to tanh
    mf = stack_outputs([rbm], v, sample=False)[1]
    np.testing.assert_allclose(mf, np.tanh(4.0 * s), atol=1e-5)
    # sampled: majority rule wherever the block has a majority (P(wrong) <= 1/(1+e^16))
    smp = stack_outputs([rbm], v, sample=True, seed=3)[1]
    maj = s != 0
    np.testing.assert_array_equal(smp[maj], np.sign(s[maj]))
    # reconstruction: each block filled with its majority spin
    rec = stack_outputs([rbm], v, sample=False, readout="reconstruction")[1]
    expect = np.repeat(np.repeat(np.tanh(4.0 * np.tanh(4.0 * s)), 2, axis=1), 2, axis=2)
    np.testing.assert_allclose(rec, expect, atol=1e-5)


def test_local_rbm_01_units_placed_and_sign_fixed():
    L = 8
    rbm, block_of_unit = local_rbm(L, units="01")
    v = random_spins(100, (L, L), seed=2)
    out = stack_outputs([rbm], v, sample=False)[1]
    # {0,1} units see (s+1)/2; an oriented unit is above ½ exactly when its block has spins up
    up = block_sum((v + 1) // 2) > 0
    assert np.all((out > 0) == up)


def test_stack_readouts_chain_and_shapes():
    assert coarse_lattice_shape(16, (8, 8)) == (4, 4)
    assert coarse_lattice_shape(8, (16,)) == (8,)
    assert coarse_lattice_shape(32, (16, 8)) == (8, 4)
    with pytest.raises(ValueError, match="n_units"):
        coarse_lattice_shape(8, (4, 4))
    layers = random_stack([32, 16, 8], 0)
    ros = stack_readouts(layers, (32,))
    assert [r.shape for r in ros] == [(16,), (8,)]
    h = torch.ones(3, 8)
    assert reconstruct_visible(layers, h, 2, sample=False).shape == (3, 32)
    with pytest.raises(ValueError, match="layer"):
        reconstruct_visible(layers, h, 3)
    with pytest.raises(ValueError, match="readout"):
        stack_outputs(layers, random_spins(2, (32,)), readout="rowmajor")
