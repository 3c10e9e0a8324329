"""Block-spin RG: hand-computed blocks, majority tie-breaks, chains, repeated steps."""

import numpy as np
import pytest
import torch

from coarsegrain.rg.blockspin import (
    block_average,
    block_kernel,
    decimate,
    majority_rule,
    rg_flow,
    rg_step,
)

# one 4×4 configuration; its 2×2 blocks hold 4, 2, 0 and −2 up-spin excess
S = np.array([[[1, 1, 1, -1],
               [1, 1, 1, 1],
               [1, -1, -1, -1],
               [-1, 1, -1, -1]]], dtype=np.int8)


def test_block_average_by_hand():
    out = block_average(S)
    assert out.shape == (1, 2, 2)
    np.testing.assert_array_equal(out[0], [[1.0, 0.5], [0.0, -1.0]])
    assert out.dtype == np.float32


def test_block_average_values_are_quarters():
    rng = np.random.default_rng(1)
    s = rng.choice(np.array([-1, 1], dtype=np.int8), size=(50, 8, 8))
    vals = np.unique(block_average(s))
    assert set(vals.tolist()) <= {-1.0, -0.5, 0.0, 0.5, 1.0}


def test_majority_rule_by_hand_and_ties():
    # blocks: sum 4 → +1, sum 2 → +1, sum 0 → tie, sum −4 → −1
    outs = np.stack([majority_rule(S, seed=s)[0] for s in range(40)])
    assert outs.dtype == np.int8
    assert np.all(outs[:, 0, 0] == 1) and np.all(outs[:, 0, 1] == 1) and np.all(outs[:, 1, 1] == -1)
    ties = outs[:, 1, 0]
    assert set(ties.tolist()) == {-1, 1}  # a fair coin over 40 seeds shows both faces
    np.testing.assert_array_equal(majority_rule(S, seed=3), majority_rule(S, seed=3))


def test_majority_tie_break_is_fair():
    zero = np.tile(np.array([[1, -1], [-1, 1]], dtype=np.int8), (1, 32, 32))  # every block ties
    out = majority_rule(zero, rng=np.random.default_rng(0))
    assert abs(out.mean()) < 0.1  # 1024 coins: std of mean ≈ 0.03


def test_chain_rules_by_hand():
    c = np.array([[1, 1, 1, -1, -1, -1, -1, 1]], dtype=np.int8)
    np.testing.assert_array_equal(block_average(c)[0], [1.0, 0.0, -1.0, 0.0])
    np.testing.assert_array_equal(decimate(c)[0], [1, 1, -1, -1])
    np.testing.assert_array_equal(decimate(c, offset=1)[0], [1, -1, -1, 1])
    m = majority_rule(c, seed=0)[0]
    assert m[0] == 1 and m[2] == -1 and set(m[[1, 3]].tolist()) <= {-1, 1}
    np.testing.assert_array_equal(block_average(c, b=4)[0], [0.5, -0.5])


def test_decimation_2d_by_hand():
    np.testing.assert_array_equal(decimate(S)[0], [[1, 1], [1, -1]])


def test_repeated_steps_64_to_8():
    rng = np.random.default_rng(2)
    s = rng.choice(np.array([-1, 1], dtype=np.int8), size=(3, 64, 64))
    flow = rg_flow(s, 3, rule="average")
    assert [f.shape[1:] for f in flow] == [(64, 64), (32, 32), (16, 16), (8, 8)]
    # averaging twice over 2×2 = averaging once over 8×8 blocks
    np.testing.assert_allclose(flow[3], s.reshape(3, 8, 8, 8, 8).mean(axis=(2, 4)), atol=1e-6)
    maj = rg_flow(s, 3, rule="majority", seed=5, include_input=False)
    assert [m.shape[1:] for m in maj] == [(32, 32), (16, 16), (8, 8)]
    assert all(set(np.unique(m).tolist()) <= {-1, 1} for m in maj)
    maj2 = rg_flow(s, 3, rule="majority", seed=5, include_input=False)
    assert all(np.array_equal(a, b) for a, b in zip(maj, maj2, strict=True))


def test_torch_matches_numpy():
    rng = np.random.default_rng(3)
    s = rng.choice(np.array([-1, 1], dtype=np.int8), size=(4, 8, 8))
    t = torch.as_tensor(s)
    np.testing.assert_array_equal(block_average(t).numpy(), block_average(s))
    np.testing.assert_array_equal(decimate(t).numpy(), decimate(s))
    mt = majority_rule(t.float(), seed=1)
    assert mt.dtype == torch.float32 and set(mt.unique().tolist()) <= {-1.0, 1.0}
    # non-tied blocks agree between backends
    sums = s.reshape(4, 4, 2, 4, 2).sum(axis=(2, 4))
    mn = majority_rule(s, seed=1)
    np.testing.assert_array_equal(mt.numpy()[sums != 0], mn[sums != 0])


def test_block_kernel():
    K = block_kernel((4, 4))
    assert K.shape == (4, 4, 4)
    np.testing.assert_allclose(K[1], [[0, 0, .25, .25], [0, 0, .25, .25], [0, 0, 0, 0], [0, 0, 0, 0]])
    # the kernel is the linear map of block averaging
    v = S.astype(np.float64).reshape(1, -1)
    np.testing.assert_allclose(K.reshape(4, -1) @ v[0], block_average(S).ravel())


@pytest.mark.parametrize("bad", [
    lambda: block_average(np.ones((2, 6, 6)), b=4),
    lambda: block_average(np.ones((6, 6))[None, None]),
    lambda: rg_step(S, rule="median"),
    lambda: rg_flow(np.ones((1, 8, 8)), 4),
    lambda: decimate(S, offset=2),
])
def test_bad_input_raises(bad):
    with pytest.raises(ValueError):
        bad()
