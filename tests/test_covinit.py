"""Covariance-initialisation experiment helpers on hand-built curves and tiny data."""

import math

import numpy as np
import pandas as pd
import pytest

from coarsegrain.analysis import covinit as ci

pytestmark = pytest.mark.usefixtures("one_thread")


def _curve(scheme, seed, loss, updates):
    rows = []
    for u in updates:
        rows.append((scheme, seed, u, u / 10, "reconstruction_error", loss(u)))
        rows.append((scheme, seed, u, u / 10, "wall_time", 0.01 * u))
    return pd.DataFrame(rows, columns=["scheme", "seed", "update", "epoch", "metric", "value"])


def test_first_crossing():
    x = [0, 10, 20, 40]
    y = [1.0, 0.8, 0.4, 0.2]
    assert ci.first_crossing(x, y, 0.6) == pytest.approx(15)
    assert ci.first_crossing(x, y, 1.5) == 0
    assert math.isnan(ci.first_crossing(x, y, 0.1))
    assert ci.first_crossing(x, y, 0.2) == 40


def test_speedups_on_known_curves():
    updates = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    curves = pd.concat([
        _curve("random", 0, lambda u: 1 / (1 + u / 100), updates),
        _curve("covariance", 0, lambda u: 1 / (1 + u / 10), updates),
        _curve("random", 1, lambda u: 1 / (1 + u / 100), updates),
        _curve("covariance", 1, lambda u: 1.0, updates),            # never gets there
        _curve("random", 2, lambda u: 1 / (1 + u / 100), updates),
        _curve("covariance", 2, lambda u: 0.01, updates),           # starts below the target
    ])
    sp = ci.speedups(curves).set_index("seed")
    assert sp.loc[0, "target_loss"] == pytest.approx(1 / 11)
    assert sp.loc[0, "updates_covariance"] == pytest.approx(100)
    assert sp.loc[0, "speedup_updates"] == pytest.approx(10)
    assert sp.loc[0, "speedup_seconds"] == pytest.approx(10)
    assert sp.loc[1, "flag"] == "not reached" and math.isnan(sp.loc[1, "speedup_updates"])
    assert sp.loc[2, "flag"] == "lower bound" and sp.loc[2, "speedup_updates"] == pytest.approx(1000)
    summary = ci.summarize_speedups(sp.loc[[0]].reset_index())
    assert summary["updates"][0] == pytest.approx(10) and summary["n_seeds"] == 1


def test_geometric_mean():
    g, err = ci.geometric_mean([2.0, 8.0])
    assert g == pytest.approx(4)
    assert err == pytest.approx(4 * np.std(np.log([2, 8]), ddof=1) / np.sqrt(2))
    assert all(math.isnan(v) for v in ci.geometric_mean([1.0, math.nan]))


def _low_rank_data(n, dim, rank, seed=0, spread=0.1):
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, rank)))
    return 0.5 + spread * rng.standard_normal((n, rank)) @ basis.T / np.sqrt(rank)


def test_pca_reconstructor_rejects_orthogonal_noise():
    x = _low_rank_data(2000, 16, 4)
    pca = ci.PCAReconstructor(x, 4)
    np.testing.assert_allclose(ci.reconstruct(pca, x.astype(np.float32)), x, atol=1e-4)
    # noise is isotropic; the rank-4 projection keeps 4/16 of it
    nr = ci.noise_rejection({"pca": pca, "full": ci.PCAReconstructor(x, 16)}, x[:500], [0.01],
                            seed=1).set_index("model")
    assert nr.loc["pca", "ratio"] == pytest.approx(4 / 16, rel=0.1)
    assert nr.loc["full", "ratio"] == pytest.approx(1, rel=1e-3)


def test_add_noise():
    rng = np.random.default_rng(0)
    spins = np.ones((200, 50))
    flipped = ci.add_noise(spins, 0.2, "flip", rng)
    assert set(np.unique(flipped)) == {-1.0, 1.0} and (flipped < 0).mean() == pytest.approx(0.2, abs=0.02)
    assert ci.add_noise(np.zeros((3, 3)), 5.0, "gaussian", rng).min() >= 0
    with pytest.raises(ValueError, match="noise kind 'salt'"):
        ci.add_noise(spins, 0.1, "salt", rng)


def test_run_covinit_tiny():
    x = np.clip(_low_rank_data(400, 16, 3, spread=0.6), 0, 1).astype(np.float32)
    kw = dict(n_hidden=4, seeds=[0, 1], n_updates=60, batch_size=50, lr=1e-2, n_monitor=100)
    res = ci.run_covinit(x[:300], x[300:], snapshot_updates=[20], **kw)
    assert set(res.curves["metric"]) == {"reconstruction_error", "reconstruction_error_heldout",
                                         "wall_time"}
    assert set(res.models) == {("random", 0), ("covariance", 0), ("random", 1), ("covariance", 1)}
    assert {(s, 0, u) for s in ("random", "covariance") for u in (0, 20, 60)} <= set(res.snapshots)
    # stopping for a snapshot does not change the trajectory
    plain = ci.run_covinit(x[:300], x[300:], **kw)
    np.testing.assert_allclose(plain.snapshots[("random", 1, 60)], res.snapshots[("random", 1, 60)],
                               rtol=1e-5, atol=1e-6)
    # covariance-initialised columns start on the top principal directions
    from coarsegrain.analysis.spectral import covariance_spectrum, subspace_agreement

    _, vecs = covariance_spectrum(x[:300])
    assert subspace_agreement(res.snapshots[("covariance", 0, 0)][:, :3], vecs[:, :3]) > 0.999
    sp = ci.speedups(res.curves)
    assert len(sp) == 2 and (sp["updates_random"] <= 60).all()
    curve = ci.pruned_loss_curve(res.models[("random", 0)], x[300:], [1, 4])
    full = float(np.mean((ci.reconstruct(res.models[("random", 0)], x[300:]) - x[300:]) ** 2))
    assert curve["value"].iloc[-1] == pytest.approx(full, rel=1e-5)
    with pytest.raises(ValueError, match="scheme 'zeros'"):
        ci.run_covinit(x, n_hidden=2, schemes=["zeros"])
