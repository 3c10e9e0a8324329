"""Spectral analyses on synthetic weights and data with known spectra."""

import numpy as np
import pytest
import torch

from coarsegrain.analysis import spectral as sp


def _orthonormal(n, k, rng):
    q, _ = np.linalg.qr(rng.standard_normal((n, k)))
    return q


def _strided_gaussian(L, b=2, sigma=1.0):
    """Weights of a strided Gaussian 'convolution' on an L×L torus: hidden unit a sits at the
    centre of block a (row-major) and sees exp(-d²/2σ²)."""
    x = np.arange(L)
    pos = (np.arange(L // b) + 0.5) * b - 0.5
    d = np.abs(x[:, None] - pos[None, :])
    g = np.exp(-np.minimum(d, L - d) ** 2 / (2 * sigma**2))
    return np.einsum("xa,yb->xyab", g, g).reshape(L * L, (L // b) ** 2)


def test_svd_of_hand_built_weights():
    rng = np.random.default_rng(0)
    U0, V0 = _orthonormal(50, 20, rng), _orthonormal(20, 20, rng)
    s0 = np.linspace(5, 0.5, 20)
    W = U0 @ np.diag(s0) @ V0.T
    U, s, V = sp.svd_weights(torch.tensor(W, dtype=torch.float64))
    np.testing.assert_allclose(s, s0, atol=1e-10)
    np.testing.assert_allclose(sp.singular_spectrum(W), s0, atol=1e-10)
    np.testing.assert_allclose(np.abs(np.sum(U * U0, axis=0)), 1, atol=1e-10)
    np.testing.assert_allclose((U * s) @ V.T, W, atol=1e-10)
    # sign convention: largest-magnitude entry of each visible vector is positive
    assert (U[np.argmax(np.abs(U), axis=0), np.arange(20)] > 0).all()
    U2, _, _ = sp.svd_weights(-W)
    np.testing.assert_allclose(U2, U, atol=1e-10)


def test_pruning():
    rng = np.random.default_rng(1)
    U0, V0 = _orthonormal(30, 10, rng), _orthonormal(10, 10, rng)
    s0 = 2.0 ** -np.arange(10)
    W = U0 @ np.diag(s0) @ V0.T
    W3 = sp.prune_weights(W, 3)
    np.testing.assert_allclose(W3, U0[:, :3] @ np.diag(s0[:3]) @ V0[:, :3].T, atol=1e-12)
    assert np.linalg.matrix_rank(W3) == 3 and not sp.prune_weights(W, 0).any()
    curve = sp.pruning_curve(W, [1, 3, 10], evaluate=lambda w: np.linalg.norm(W - w))
    frac = np.cumsum(s0**2) / np.sum(s0**2)
    np.testing.assert_allclose(curve["weight_fraction"], frac[[0, 2, 9]])
    np.testing.assert_allclose(curve["relative_error"], curve["value"] / np.linalg.norm(W), atol=1e-9)
    assert curve["n_parameters"].tolist() == [41, 123, 410]


def test_fourier_power_of_plane_waves():
    L = 8
    x, y = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
    wave = np.cos(2 * np.pi * (1 * x + 2 * y) / L).ravel()
    p = sp.fourier_power(np.stack([wave, np.ones(L * L)]), (L, L))
    assert p.shape == (2, L, L)
    assert p[0, 1, 2] == pytest.approx(0.5) and p[0, -1, -2] == pytest.approx(0.5)
    assert p[1, 0, 0] == pytest.approx(1.0)
    k, mean_p, shell_p = sp.radial_power(np.stack([wave, np.ones(L * L)]), (L, L))
    np.testing.assert_allclose(shell_p.sum(axis=1), 1)
    dk = 2 * np.pi / L
    assert k[np.argmax(shell_p[0])] == pytest.approx(dk * np.rint(np.sqrt(5)))
    assert shell_p[1, 0] == pytest.approx(1) and mean_p[1, 0] == pytest.approx(1)
    # 1D chain, zero vector
    chain = np.cos(2 * np.pi * 3 * np.arange(32) / 32)
    k1, _, s1 = sp.radial_power(chain[None], (32,))
    assert k1[np.argmax(s1[0])] == pytest.approx(3 * 2 * np.pi / 32)
    assert not sp.fourier_power(np.zeros((1, 32)), (32,)).any()


def test_band_and_lowpass_fraction():
    L = 8
    m = sp.band_mask((L,), (4,))
    assert m.tolist() == [1, 1, 0.5, 0, 0, 0, 0.5, 1]  # FFT order 0,1,2,3,-4,-3,-2,-1
    low = np.cos(2 * np.pi * np.arange(L) / L)
    high = np.cos(np.pi * np.arange(L))
    np.testing.assert_allclose(sp.lowpass_fraction(np.stack([low, high]), (L,), (4,)), [1, 0],
                               atol=1e-12)
    assert sp.band_mask((6, 6), (6, 6)).min() == 1


def test_coarse_graining_operators():
    L, l = 16, 8
    pos = (np.arange(l) + 0.5) * 2 - 0.5
    m = 3  # inside the coarse band
    v = np.cos(2 * np.pi * m * np.arange(L) / L + 0.3)
    got = sp.coarse_grain_vectors(v[None], (L,), (l,), "fourier")
    np.testing.assert_allclose(got[0], np.cos(2 * np.pi * m * pos / L + 0.3), atol=1e-12)
    img = np.random.default_rng(2).standard_normal((L, L))
    blk = sp.coarse_grain_vectors(img.ravel()[None], (L, L), (l, l), "block")
    np.testing.assert_allclose(blk[0], img.reshape(l, 2, l, 2).mean(axis=(1, 3)).ravel())
    same = sp.coarse_grain_vectors(img.ravel()[None], (L, L), (L, L), "fourier")
    np.testing.assert_allclose(same[0], img.ravel(), atol=1e-12)
    # high-frequency content beyond the coarse band is discarded
    hi = np.cos(np.pi * np.arange(L))
    np.testing.assert_allclose(sp.coarse_grain_vectors(hi[None], (L,), (l,)), 0, atol=1e-12)


def test_hidden_grid_shape():
    assert sp.hidden_grid_shape((28, 28), 196) == (14, 14)
    assert sp.hidden_grid_shape((28, 28), 100) == (10, 10)
    assert sp.hidden_grid_shape((28, 28), 500) is None
    assert sp.hidden_grid_shape((4, 6), 6) == (2, 3)
    assert sp.hidden_grid_shape((64,), 32) == (32,)


def test_overlap_of_strided_weights_and_alignment():
    W = _strided_gaussian(16)
    ov = sp.hidden_visible_overlap(W, (16, 16), n_modes=20)
    np.testing.assert_allclose(ov, 1, atol=1e-6)
    np.testing.assert_allclose(sp.hidden_visible_overlap(W, (16, 16), n_modes=20, method="block"),
                               1, atol=1e-6)
    # hidden units are exchangeable: a permutation destroys the index layout, the receptive
    # field alignment recovers it
    rng = np.random.default_rng(3)
    perm = rng.permutation(W.shape[1])
    Wp = W[:, perm] * rng.choice([-1.0, 1.0], W.shape[1])  # permuted and sign-flipped units
    assert sp.hidden_visible_overlap(Wp, (16, 16), n_modes=20)[1:].mean() < 0.4
    np.testing.assert_allclose(
        sp.hidden_visible_overlap(Wp, (16, 16), n_modes=20, align="receptive_field"), 1, atol=1e-6)
    order = sp.receptive_field_order(Wp, (16, 16), (8, 8))
    np.testing.assert_array_equal(perm[order], np.arange(64))
    with pytest.raises(ValueError, match="pass hidden_shape"):
        sp.hidden_visible_overlap(W[:, :50], (16, 16))


def test_overlap_of_unrelated_hidden_vectors_is_at_baseline():
    rng = np.random.default_rng(4)
    L, n_h = 16, 64
    x, y = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
    modes = [np.cos(2 * np.pi * (a * x + b * y) / L + 0.1 * a).ravel() for a in range(4) for b in range(4)]
    U0, _ = np.linalg.qr(np.stack(modes, axis=1))
    V0 = _orthonormal(n_h, 16, rng)
    W = U0 @ np.diag(np.linspace(4, 1, 16)) @ V0.T
    ov = sp.hidden_visible_overlap(W, (L, L), n_modes=16)
    base = sp.random_overlap_baseline(n_h)
    assert base == pytest.approx(np.sqrt(2 / (np.pi * n_h)), rel=0.02)
    assert abs(ov.mean() - base) < 3 * 0.6 * base / np.sqrt(16)
    # visible vectors entirely above the coarse band: nothing survives the low-pass
    hi = np.cos(np.pi * (x + y)).ravel() / L
    W_hi = np.outer(hi, V0[:, 0])
    assert sp.hidden_visible_overlap(W_hi, (L, L), n_modes=1)[0] == 0


def test_random_overlap_baseline_monte_carlo():
    rng = np.random.default_rng(5)
    n = 30
    a = rng.standard_normal((20000, n))
    b = rng.standard_normal((20000, n))
    cos = np.abs((a * b).sum(1)) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.mean() == pytest.approx(sp.random_overlap_baseline(n), abs=4 * cos.std() / 141)


def test_covariance_spectrum():
    rng = np.random.default_rng(6)
    n, N = 10, 40000
    Q = _orthonormal(n, n, rng)
    lam = np.array([10, 6, 3, 1, 0.5, 0.3, 0.2, 0.1, 0.05, 0.01])
    X = rng.standard_normal((N, n)) * np.sqrt(lam) @ Q.T + 3.0
    vals, vecs = sp.covariance_spectrum(X.reshape(N, 2, 5))
    np.testing.assert_allclose(vals, lam, rtol=0.05, atol=0.005)
    assert sp.subspace_agreement(vecs[:, :3], Q[:, :3]) > 0.999
    vals_nc, _ = sp.covariance_spectrum(X, center=False)
    assert vals_nc[0] > 9 * n  # the mean (3 in every feature) dominates the second moment


def test_principal_angles():
    rng = np.random.default_rng(7)
    n, k = 200, 20
    A = rng.standard_normal((n, k))
    assert sp.subspace_agreement(A, A @ rng.standard_normal((k, k))) == pytest.approx(1)
    Q = _orthonormal(n, 2 * k, rng)
    assert sp.subspace_agreement(Q[:, :k], Q[:, k:]) == pytest.approx(0, abs=1e-12)
    theta = 0.4
    e = np.eye(n)
    c = sp.principal_cosines(e[:, :1], np.cos(theta) * e[:, :1] + np.sin(theta) * e[:, 1:2])
    assert c[0] == pytest.approx(np.cos(theta))
    rand = [sp.subspace_agreement(rng.standard_normal((n, k)), rng.standard_normal((n, k)))
            for _ in range(20)]
    assert np.mean(rand) == pytest.approx(k / n, abs=0.01)


def test_subspace_agreement_curve():
    rng = np.random.default_rng(8)
    n, n_h = 40, 12
    E = _orthonormal(n, n, rng)
    W = E[:, :n_h] @ np.diag(np.linspace(3, 1, n_h)) @ _orthonormal(n_h, n_h, rng).T
    curve = sp.subspace_agreement_curve(E, W, [1, 4, 12, 50])
    assert curve["k"].tolist() == [1, 4, 12]
    np.testing.assert_allclose(curve["mean_cos2"], 1)
    np.testing.assert_allclose(curve["random_baseline"], np.array([1, 4, 12]) / n)
    # covariance modes listed in reverse: for k <= n_h/2 the two top-k subspaces are
    # orthogonal, at k = n_h they coincide
    rev = sp.subspace_agreement_curve(E[:, n_h - 1::-1], W, [4, 12])
    assert rev["mean_cos2"].tolist() == pytest.approx([0, 1], abs=1e-10)


def test_spectral_tables():
    W = _strided_gaussian(8)
    t = sp.spectral_tables(W, (8, 8), n_modes=5)
    assert set(t) == {"singular", "fourier", "overlap"}
    assert len(t["singular"]) == 16 and t["singular"]["variance_fraction"].sum() == pytest.approx(1)
    assert set(t["fourier"]["side"]) == {"visible", "hidden"}
    np.testing.assert_allclose(t["fourier"].groupby(["mode", "side"])["shell_power"].sum(), 1)
    np.testing.assert_allclose(t["overlap"]["overlap"], 1, atol=1e-6)
    t2 = sp.spectral_tables(W[:, :10], (8, 8), n_modes=5)
    assert t2["overlap"]["overlap"].isna().all() and set(t2["fourier"]["side"]) == {"visible"}


def test_eigengap_ks_pick_the_gaps_of_a_constructed_spectrum():
    # a top mode, then a near-degenerate pair (5.586, 5.525 — splitting it at k = 2 is unstable),
    # then a clear gap after 5 modes, then a slowly decaying tail
    lam = np.array([20.0, 5.586, 5.525, 5.0, 4.8, 1.0, 0.95, 0.9, 0.85, 0.8])
    assert sp.eigengap_ks(lam, n_gaps=1) == [5]
    ks = sp.eigengap_ks(lam, n_gaps=2)
    assert ks == [1, 5] and 2 not in ks
    assert sp.eigengap_ks(lam, n_gaps=2, k_max=4) == [1, 3]
    # degenerate zero modes are never split
    assert sp.eigengap_ks(np.array([3.0, 2.0, 0.0, 0.0, 0.0]), n_gaps=5) == [1, 2]
    with pytest.raises(ValueError, match="descending"):
        sp.eigengap_ks(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="n_gaps must be >= 1; got 0"):
        sp.eigengap_ks(lam, n_gaps=0)
