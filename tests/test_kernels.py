"""Numba checkerboard Metropolis kernel (the CPU path of CheckerboardMetropolis)."""

import numpy as np
import pytest

from coarsegrain.lattice.exact import enumerate_thermo
from coarsegrain.lattice.ising2d import energy_per_site
from coarsegrain.lattice.kernels import checkerboard_sweeps, seed_states


def table(T, nT=1):
    k = np.arange(-4, 5)
    with np.errstate(over="ignore"):  # T → 0: exp(+large) for k < 0, clipped to 1
        return np.tile(np.minimum(1.0, np.exp(-2.0 * k / T)), (nT, 1))


def test_limits_and_reproducibility():
    rng = np.random.default_rng(0)
    s0 = (rng.integers(0, 2, (1, 3, 8, 8)) * 2 - 1).astype(np.float32)
    # every move accepted: each site flips exactly once per sweep
    s = s0.copy()
    checkerboard_sweeps(s, np.ones((1, 9)), 1, seed_states(3, rng=rng))
    np.testing.assert_array_equal(s, -s0)
    # T → 0 from the ground state: nothing moves
    up = np.ones((1, 2, 6, 6), np.float32)
    checkerboard_sweeps(up, table(1e-6), 5, seed_states(2, rng=rng))
    assert np.all(up == 1)
    a, b = s0.copy(), s0.copy()
    checkerboard_sweeps(a, table(2.3), 7, seed_states(3, seeds=np.arange(3)))
    checkerboard_sweeps(b, table(2.3), 7, seed_states(3, seeds=np.arange(3)))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, s0)


def test_energy_matches_enumeration_4x4():
    T = 2.5
    s = np.ones((1, 2000, 4, 4), np.float32)
    states = seed_states(2000, rng=np.random.default_rng(1))
    checkerboard_sweeps(s, table(T), 30, states)
    e = []
    for _ in range(20):
        checkerboard_sweeps(s, table(T), 3, states)
        e.append(energy_per_site(s[0]))
    e = np.concatenate(e)
    ref = enumerate_thermo([T], 4)["energy"][0]
    # 20 measurements 3 sweeps apart per chain: allow for their correlation (≤ 20 per chain)
    assert abs(e.mean() - ref) < 4 * e.std() / np.sqrt(2000)


def test_bad_input():
    s = np.ones((1, 2, 6, 6), np.float32)
    st = seed_states(2, seeds=[1, 2])
    with pytest.raises(ValueError, match="even L"):
        checkerboard_sweeps(np.ones((1, 2, 5, 5), np.float32), table(2.0), 1, st)
    with pytest.raises(ValueError, match="table"):
        checkerboard_sweeps(s, np.ones((2, 9)), 1, st)
    with pytest.raises(ValueError, match="states"):
        checkerboard_sweeps(s, table(2.0), 1, np.zeros(3, np.uint64))
    with pytest.raises(ValueError, match="seeds or rng"):
        seed_states(2)
