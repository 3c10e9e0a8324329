"""P3 measurements: RBM weights against a null, and the covariance-spectrum measures."""

import numpy as np
import pandas as pd
import pytest

from coarsegrain.analysis import p3
from coarsegrain.analysis import spectral as sp


def _lowpass_rbm(L=16, l=8, n_modes=12, seed=0):
    """W = U diag(s) Vᵀ with U orthonormal visible vectors inside the coarse grid's band
    (|m_d| < l/2) and V = D U (normalised), their low-passed, downsampled images, hidden unit a
    at coarse site a. On that band D is √(l²/L²) times an isometry, so V is orthonormal too and
    (U, s, V) is the SVD of W."""
    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
    band = range(-(l // 2) + 1, l // 2)
    waves = [f(2 * np.pi * (a * x + b * y) / L).ravel() for a in band for b in band
             for f in (np.cos, np.sin)]
    basis, sv, _ = np.linalg.svd(np.stack(waves, axis=1), full_matrices=False)
    waves = basis[:, sv > 1e-8 * sv[0]]  # orthonormal basis of the band (cos/sin pairs repeat)
    U = np.linalg.qr(waves @ rng.standard_normal((waves.shape[1], n_modes)))[0]
    V = sp.coarse_grain_vectors(U.T, (L, L), (l, l)).T
    V /= np.linalg.norm(V, axis=0)
    np.testing.assert_allclose(V.T @ V, np.eye(n_modes), atol=1e-10)
    return (U * np.linspace(5.0, 1.0, n_modes)) @ V.T


def test_lowpass_overlap_is_one_for_a_hand_built_rbm_and_chance_for_a_random_one():
    L, l = 16, 8
    W = _lowpass_rbm(L, l)
    U, s, V = sp.svd_weights(W)
    n = int(np.sum(s > 1e-8 * s[0]))
    ov = sp.hidden_visible_overlap(W, (L, L), (l, l), n_modes=n, align="index")
    np.testing.assert_allclose(ov, 1.0, atol=1e-6)
    rnd = p3.null_weights(W, "gaussian", seed=1)
    ov_null = sp.hidden_visible_overlap(rnd, (L, L), (l, l), n_modes=16, align="index")
    chance = sp.random_overlap_baseline(l * l)
    # |cos| of unrelated unit vectors: mean chance, sd ≈ 0.6·chance per mode
    assert abs(ov_null.mean() - chance) < 3 * 0.6 * chance / 4
    tables = p3.weight_tables_with_null(W, (L, L), (l, l), n_modes=8, align="index", seed=1)
    summary = p3.overlap_summary(tables["overlap"], n_top=4)
    assert summary["trained"] == pytest.approx(1.0, abs=1e-6)
    assert summary["null"] < 3 * chance and summary["chance"] == pytest.approx(chance)
    assert set(tables["singular"]["model"]) == {"trained", "null"}


def test_null_weights():
    W = np.arange(12.0).reshape(4, 3)
    a = p3.null_weights(W, "shuffle", seed=3)
    assert a.shape == W.shape and sorted(a.ravel()) == sorted(W.ravel())
    np.testing.assert_array_equal(a, p3.null_weights(W, "shuffle", seed=3))
    g = p3.null_weights(np.zeros((200, 100)), "gaussian", std=0.05, seed=0)
    assert g.std() == pytest.approx(0.05, rel=0.02)
    with pytest.raises(ValueError, match="null='zeros'"):
        p3.null_weights(W, "zeros")


def test_solvability_measures():
    lam = np.array([5.0, 3.0, 1.0, 0.5, 0.5])
    m = p3.solvability(lam, n_hidden=2, fraction=0.9)
    assert m["variance_fraction_nh"] == pytest.approx(8 / 10)
    assert m["n_modes_q"] == 3 and not m["solvable"]
    assert p3.solvability(lam, n_hidden=3)["solvable"]
    assert m["participation_ratio"] == pytest.approx(100 / 35.5)
    flat = p3.solvability(np.ones(10), n_hidden=3)
    assert flat["participation_ratio_fraction"] == pytest.approx(1.0) and flat["n_modes_q"] == 9
    with pytest.raises(ValueError, match="fraction must be in"):
        p3.solvability(lam, 2, fraction=1.5)


def _block_rbm(L=16, b=2, seed=0):
    """(L², (L/b)²) weights: hidden unit a (row-major coarse site) sees its b×b block."""
    rng = np.random.default_rng(seed)
    l = L // b
    x, y = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
    block = ((x // b) * l + y // b).ravel()
    W = 0.01 * rng.standard_normal((L * L, l * l))
    W[np.arange(L * L), block] += rng.uniform(0.5, 1.5, L * L)
    return W


def test_stack_tables_read_upper_layers_on_the_lattice_the_layer_below_looks_at():
    L = 16
    W0, W1 = _block_rbm(L), _lowpass_rbm(8, 4, n_modes=6)  # 256 -> 64 (8x8) -> 16 (4x4)
    kw = dict(n_modes=6, seed=2)
    ref = p3.stack_weight_tables([W0, W1], (L, L), **kw)
    assert set(ref["overlap"]["layer"]) == {0, 1}
    assert set(ref["singular"]["hidden_shape"]) == {"8x8", "4x4"}
    # layer 1 is analysed on the 8x8 lattice of layer 0's receptive fields: the same tables as
    # W1 read directly on that lattice
    direct = p3.weight_tables_with_null(W1, (8, 8), (4, 4), seed=2, stream=("layer", 1),
                                        n_modes=6)
    up = ref["overlap"][ref["overlap"]["layer"] == 1].drop(columns=["layer", "visible_shape",
                                                                    "hidden_shape"])
    pd.testing.assert_frame_equal(up.reset_index(drop=True), direct["overlap"])
    # hidden units of layer 0 permuted and sign-flipped (W1's rows with them): nothing changes
    rng = np.random.default_rng(5)
    perm, signs = rng.permutation(64), rng.choice([-1.0, 1.0], 64)
    W0s, W1s = W0[:, perm] * signs, W1[perm] * signs[:, None]
    scrambled = p3.stack_weight_tables([W0s, W1s], (L, L), **kw)
    for key in ("singular", "fourier", "overlap"):
        pd.testing.assert_frame_equal(scrambled[key], ref[key], atol=1e-10)
    # read in row-major order instead (the old artefact), layer 1's overlap is lost
    naive = p3.weight_tables_with_null(W1s, (8, 8), (4, 4), seed=2, n_modes=6)
    assert (p3.overlap_summary(naive["overlap"])["trained"]
            < p3.overlap_summary(direct["overlap"])["trained"] - 0.2)
