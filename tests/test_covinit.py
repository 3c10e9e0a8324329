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


# ----------------------------------------------------------------------------- data-set AE


def _known_rank_data(n=3000, dim=20, rank=4, seed=0):
    """Data whose covariance has rank ``rank`` exactly, with distinct eigenvalues."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, rank)))
    scales = 0.1 * np.linspace(3.0, 0.5, rank)
    return (0.5 + (rng.standard_normal((n, rank)) * scales) @ basis.T), basis


def _dataset_ae(x, n_hidden, activation, alpha, cov=None):
    import torch

    from coarsegrain.rbm.autoencoder import Autoencoder
    from coarsegrain.rbm.init import dataset_autoencoder_init

    ae = Autoencoder(x.shape[1], n_hidden, tied=False, activation=activation,
                     output_activation="linear", dtype=torch.float64)
    dataset_autoencoder_init(ae, x, cov, alpha=alpha)
    return ae


def test_dataset_autoencoder_is_pca_with_a_linear_hidden_layer():
    from coarsegrain.rbm.init import DataCovariance

    x, basis = _known_rank_data()
    cov = DataCovariance.from_data(x)
    # rank 4: the 4-component PCA reconstruction is the data itself
    np.testing.assert_allclose(cov.pca_reconstruction(x, 4), x, atol=1e-10)
    for k in (2, 4):
        ae = _dataset_ae(x, k, "linear", 0.5, cov)
        np.testing.assert_allclose(ci.reconstruct(ae, x), cov.pca_reconstruction(x, k), atol=1e-10)
    # more hidden units than variance directions: the extra units get zero decoder rows
    ae = _dataset_ae(x, 6, "linear", 0.5, cov)
    np.testing.assert_allclose(ci.reconstruct(ae, x), x, atol=1e-10)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_dataset_autoencoder_approaches_pca_in_the_linear_regime(activation):
    x, _ = _known_rank_data()
    pca = x  # the rank-4 PCA reconstruction
    spread = np.sqrt(np.mean((x - x.mean(axis=0)) ** 2))
    errs = []
    for alpha in (0.2, 0.05):
        rec = ci.reconstruct(_dataset_ae(x, 4, activation, alpha), x)
        err = np.sqrt(np.mean((rec - pca) ** 2)) / spread
        # the units' curvature costs O(alpha²) relatively
        assert err < alpha ** 2, (alpha, err)
        errs.append(err)
    assert errs[1] < errs[0] / 8


def test_dataset_autoencoder_rejects_architectures_it_cannot_represent():
    import torch

    from coarsegrain.rbm.autoencoder import Autoencoder
    from coarsegrain.rbm.init import dataset_autoencoder_init, init_weights

    x, _ = _known_rank_data(n=200)
    with pytest.raises(ValueError, match="untied"):
        dataset_autoencoder_init(Autoencoder(20, 4, tied=True), x)
    with pytest.raises(ValueError, match="output_activation='linear'"):
        dataset_autoencoder_init(Autoencoder(20, 4, tied=False, activation="tanh"), x)
    ae = Autoencoder(20, 4, tied=False, output_activation="linear", dtype=torch.float64)
    with pytest.raises(ValueError, match="alpha must be a positive number; got -1"):
        dataset_autoencoder_init(ae, x, alpha=-1)
    with pytest.raises(ValueError, match="n_visible=20"):
        dataset_autoencoder_init(ae, x[:, :10])
    with pytest.raises(ValueError, match="needs the training data"):
        init_weights(ae, "dataset")


def test_run_covinit_computes_the_covariance_once(monkeypatch):
    from coarsegrain.rbm import init as rinit

    x = np.clip(_low_rank_data(400, 16, 3, spread=0.6), 0, 1).astype(np.float32)
    cov = rinit.DataCovariance.from_data(x[:300])

    def forbidden(*a, **k):
        raise AssertionError("covariance recomputed")

    monkeypatch.setattr(rinit, "covariance_eigh", forbidden)
    res = ci.run_covinit(x[:300], x[300:], n_hidden=3, seeds=[0], n_updates=20, batch_size=50,
                         n_monitor=100, schemes=["random", "dataset", "covariance"],
                         covariance=cov, **ci.p3_autoencoder_kwargs("01"))
    # the data-set AE evaluated as is: close to PCA at the same rank
    pca_loss = ci.loss_of(res.pca, x[300:])
    ds_loss = ci.loss_of(res.initial[("dataset", 0)], x[300:])
    rnd_loss = ci.loss_of(res.initial[("random", 0)], x[300:])
    assert pca_loss <= ds_loss < 0.2 * rnd_loss
    start = res.curves[(res.curves["update"] == 0) & (res.curves["metric"] == ci.LOSS_METRIC)]
    start = start.set_index("scheme")["value"]
    assert start["dataset"] < start["random"] and start["dataset"] < start["covariance"]


# ----------------------------------------------------------------------------- fixed target


def _loss_curves(spec, updates=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)):
    return pd.concat([_curve(scheme, seed, f, list(updates)) for scheme, seed, f in spec])


def test_fixed_target_and_censored_runs_are_reported_as_censored():
    slow = lambda u: 1 / (1 + u / 100)            # noqa: E731  reaches 1/11 at update 1000
    never = lambda u: 1.0                          # noqa: E731
    fast = lambda u: 0.05 + 1 / (1 + u / 10)       # noqa: E731
    curves = _loss_curves([("random", 0, slow), ("dataset", 0, fast),
                           ("random", 1, never), ("dataset", 1, fast),
                           ("random", 2, never), ("dataset", 2, never),
                           ("random", 3, slow), ("dataset", 3, lambda u: 0.001),
                           ("random", 4, slow), ("dataset", 4, never)])
    target = ci.fixed_target(curves, margin=0.0)
    assert target == pytest.approx(0.001)
    target = 0.2                                   # a stated target, for readable numbers
    t = ci.time_to_target(curves, target).set_index(["scheme", "seed"])
    assert not t.loc[("random", 0), "censored"]
    # 1/(1 + u/100) = 0.2 at u = 400; linear interpolation between updates 200 and 500
    assert t.loc[("random", 0), "updates_to_target"] == pytest.approx(440)
    assert t.loc[("random", 1), "censored"] and t.loc[("random", 1), "updates_to_target"] == 1000
    assert t.loc[("random", 1), "seconds_to_target"] == pytest.approx(10)
    assert t.loc[("dataset", 3), "at_start"] and t.loc[("dataset", 3), "updates_to_target"] == 0
    sp = ci.target_speedups(t.reset_index()).set_index("seed")
    u_fast = ci.first_crossing([0, 1, 2, 5, 10, 20, 50, 100], [fast(u) for u in
                                                              [0, 1, 2, 5, 10, 20, 50, 100]], 0.2)
    assert sp.loc[0, "bound_updates"] == "exact"
    assert sp.loc[0, "speedup_updates"] == pytest.approx(440 / u_fast)
    # random censored: only a lower bound, N / u
    assert sp.loc[1, "bound_updates"] == "lower" and sp.loc[1, "censored_random"]
    assert sp.loc[1, "speedup_updates_lower"] == pytest.approx(1000 / u_fast)
    assert sp.loc[1, "speedup_updates_upper"] == np.inf
    assert sp.loc[2, "bound_updates"] == "unknown" and np.isnan(sp.loc[2, "speedup_updates"])
    # reached before the first update: > u_random / 1
    assert sp.loc[3, "bound_updates"] == "lower"
    assert sp.loc[3, "speedup_updates_lower"] == pytest.approx(440)
    assert sp.loc[4, "bound_updates"] == "upper" and sp.loc[4, "speedup_updates_upper"] == \
        pytest.approx(440 / 1000)
    assert sp.loc[1, "bound_seconds"] == "lower"
    s = ci.summarize_target_speedups(sp.loc[[0, 1]].reset_index())
    assert s["n_censored"] == 1 and np.isnan(s["value"]) and s["upper"] == np.inf
    assert s["lower"] == pytest.approx(np.sqrt(440 / u_fast * 1000 / u_fast))
    s0 = ci.summarize_target_speedups(sp.loc[[0]].reset_index())
    assert s0["value"] == pytest.approx(440 / u_fast) and s0["n_censored"] == 0
    with pytest.raises(ValueError, match="margin must be"):
        ci.fixed_target(curves, margin=-0.1)


def test_convergence_table():
    curves = _loss_curves([("random", 0, lambda u: 1 / (1 + u / 100)),
                           ("dataset", 0, lambda u: 0.1 + 0.001 * np.exp(-u))])
    c = ci.convergence_table(curves, rel_tol=0.01).set_index("scheme")
    assert not c.loc["random", "converged"]
    assert c.loc["random", "relative_drop"] == pytest.approx(1 - 6 / 11)
    assert c.loc["dataset", "converged"]


def test_pruning_of_an_untied_autoencoder():
    x, _ = _known_rank_data(n=500)
    ae = _dataset_ae(x, 6, "linear", 0.5)
    curve = ci.pruned_loss_curve(ae, x, [1, 2, 4, 6])
    full = ci.loss_of(ae, x)
    assert curve["value"].iloc[-1] == pytest.approx(full, abs=1e-12)
    assert curve["value"].is_monotonic_decreasing
    # 20 visible, 6 hidden: m·(20 + 6 + 1) per matrix, two matrices, plus 26 biases
    assert curve.set_index("n_modes").loc[2, "n_parameters"] == 2 * 2 * 27 + 26
    n_full = ci.full_parameter_count(ae)
    assert n_full == 2 * 20 * 6 + 26
    # all 6 modes: the factored form (6 * 27 per matrix) is larger than the dense one
    assert curve.set_index("n_modes").loc[6, "n_parameters"] == n_full
    s = ci.pruning_summary(curve, full_loss=full + 1e-3, margin=0.0, n_full_parameters=n_full)
    # rank-4 data: 4 modes reconstruct it exactly
    assert s["n_modes"] == 4 and s["n_parameters"] == 2 * 4 * 27 + 26
    none = ci.pruning_summary(curve, full_loss=-1.0, margin=0.1)
    assert none["n_modes"] is None


def test_pruning_keeps_the_removed_modes_mean_in_the_output_bias():
    from coarsegrain.rbm.init import DataCovariance

    x, _ = _known_rank_data(n=1000)
    cov = DataCovariance.from_data(x)
    ae = _dataset_ae(x, 4, "sigmoid", 0.05, cov)   # sigmoid units: mean output 1/2 each
    curve = ci.pruned_loss_curve(ae, x, [0, 2, 4]).set_index("n_modes")["value"]
    # pruned to m modes, the sigmoid data-set AE is (nearly) the rank-m PCA reconstruction
    for m in (0, 2):
        pca_m = float(np.mean((cov.pca_reconstruction(x, m) - x) ** 2))
        assert curve[m] == pytest.approx(pca_m, rel=0.01)
    assert curve[4] == pytest.approx(ci.loss_of(ae, x), rel=1e-9)


def test_seconds_to_target_include_the_initialisation_cost():
    updates = [0, 1, 2, 5, 10, 100, 1000]
    slow = _curve("random", 0, lambda u: 1 / (1 + u / 100), updates)
    fast = _curve("dataset", 0, lambda u: 0.01, updates)
    fast.loc[fast["metric"] == "wall_time", "value"] += 2.0   # 2 s to compute the initial condition
    t = ci.time_to_target(pd.concat([slow, fast]), 0.5).set_index("scheme")
    assert t.loc["dataset", "at_start"] and t.loc["dataset", "seconds_to_target"] == 2.0
    sp = ci.target_speedups(t.reset_index()).iloc[0]
    # random: 100 updates = 1 s; data-set: 2 s + less than one update (0.01 s)
    assert sp["bound_seconds"] == "lower"
    assert sp["speedup_seconds_lower"] == pytest.approx(1.0 / 2.01)
    assert sp["speedup_updates_lower"] == pytest.approx(100)
