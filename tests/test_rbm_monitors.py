"""Monitors, stacks, autoencoders, covariance initialisation and the workflow stages."""

import itertools
import json

import numpy as np
import pytest
import torch
from helpers import random_rbm  # noqa: E402

from coarsegrain import io
from coarsegrain.cli import main as cli_main
from coarsegrain.io import CoarsegrainIOError
from coarsegrain.rbm import (
    RBM,
    Autoencoder,
    StackedRBM,
    covariance_eigh,
    covariance_init,
    evaluate_rbm,
    init_weights,
    pseudo_log_likelihood,
    train_autoencoder,
    train_stack,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def spins(n, shape, p_up=0.7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.where(torch.rand(n, *shape, generator=g) < p_up, 1.0, -1.0)


@pytest.mark.parametrize("units", ["pm1", "01"])
def test_pseudo_likelihood_matches_conditionals(units):
    """Σ_i log p(v_i | v_-i) from the exact joint of a 5-unit model."""
    rbm = random_rbm(5, 3, units)
    V = torch.tensor(list(itertools.product([0.0, 1.0], repeat=5)))
    V = 2 * V - 1 if units == "pm1" else V
    logp = -rbm.free_energy(V).double()  # unnormalised log p(v)
    index = {tuple(v.tolist()): k for k, v in enumerate(V)}
    expect = []
    for v in V:
        tot = 0.0
        for i in range(5):
            w = v.clone()
            w[i] = -w[i] if units == "pm1" else 1 - w[i]
            lv, lw = logp[index[tuple(v.tolist())]], logp[index[tuple(w.tolist())]]
            tot += float(lv - torch.logaddexp(lv, lw))
        expect.append(tot)
    got = pseudo_log_likelihood(rbm, V, max_elements=40)  # force several chunks
    np.testing.assert_allclose(got.numpy(), expect, atol=1e-6)


@pytest.mark.parametrize("units", ["pm1", "01"])
def test_sampled_pseudo_likelihood_is_unbiased(units):
    """Averaged over many draws of the random units, the sampled estimate converges to the
    exact per-sample sum (5 of 30 units per sample, so a single draw is far off)."""
    rbm = random_rbm(30, 7, units)
    x = spins(4, (30,), seed=3)
    x = x if units == "pm1" else (x + 1) / 2
    exact = pseudo_log_likelihood(rbm, x)
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([pseudo_log_likelihood(rbm, x, n_units=5, generator=g, max_elements=50)
                         for _ in range(2000)])
    se = draws.std(0) / np.sqrt(len(draws))
    assert (draws.std(0) > 0.1).all()  # the estimate really is random
    assert ((draws.mean(0) - exact).abs() < 4 * se).all()
    # n_units >= n_visible is the exact sum
    np.testing.assert_allclose(pseudo_log_likelihood(rbm, x, n_units=30, generator=g), exact)


def test_heavy_metrics_follow_their_own_schedule():
    """AIS likelihoods and model-sample observables only at the sparser heavy points."""
    from coarsegrain.rbm import RBMMonitor, RBMTrainer

    x = spins(300, (4, 4))
    mon = RBMMonitor(max_exact=4, ais=True, ais_chains=10, ais_betas=50, n_model_samples=20,
                     n_gibbs=5)
    tr = RBMTrainer(random_rbm(16, 8, std=0.05), n_updates=64, monitor=mon,
                    monitor_per_octave=2, monitor_heavy_per_octave=0.5, progress=False)
    curve = tr.fit(x.view(300, 16))
    at = {m: sorted(curve.loc[curve.metric == m, "update"]) for m in curve.metric.unique()}
    assert at["reconstruction_error"] == [0, 1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64]
    assert at["log_z"] == [0, 1, 4, 16, 64]
    assert at["pseudo_loglik"] == at["reconstruction_error"]
    with pytest.raises(ValueError, match="monitor_heavy_per_octave"):
        RBMTrainer(random_rbm(16, 8), monitor_heavy_per_octave=0)


def test_evaluate_rbm_ising_and_ais_paths():
    x = spins(300, (4, 4))
    rbm = random_rbm(16, 24, std=0.1)
    ev = evaluate_rbm(rbm, x, x[:100], lattice_shape=(4, 4), max_exact=10, ais_chains=20,
                      ais_betas=300, n_model_samples=200, n_gibbs=20).set_index("metric")
    assert ev.loc["log_z", "error"] > 0  # 16 and 24 units > max_exact: AIS
    # data observables computed directly
    e = -(x * (torch.roll(x, 1, -1) + torch.roll(x, 1, -2))).mean(dim=(1, 2))
    assert ev.loc["energy_data", "value"] == pytest.approx(float(e.mean()), abs=1e-5)
    assert ev.loc["abs_mag_data", "value"] == pytest.approx(
        float(x.mean(dim=(1, 2)).abs().mean()), abs=1e-5)
    with pytest.raises(ValueError, match="lattice_shape"):
        evaluate_rbm(rbm, x, lattice_shape=(3, 5))


def test_stack_up_down_train_save_load(tmp_path):
    x = spins(200, (8, 8))
    stack = StackedRBM([64, 16, 4], seed=0)
    assert stack.sizes == [64, 16, 4] and len(stack.layers) == 2
    assert isinstance(stack.layers[1], RBM)
    g = torch.Generator().manual_seed(0)
    ups = stack.up(x.view(200, 64), sample=True, generator=g)
    assert [u.shape for u in ups] == [(200, 16), (200, 4)]
    assert set(torch.unique(ups[1]).tolist()) <= {-1.0, 1.0}
    means = stack.up(x.view(200, 64), sample=False)
    assert float(means[0].abs().max()) < 1
    downs = stack.down(ups[1], generator=g)
    assert [d.shape for d in downs] == [(200, 16), (200, 64)]

    for propagate in ("sample", "mean"):
        st = StackedRBM([64, 16, 4], seed=0)
        curve = train_stack(st, x, x[:50], propagate=propagate, n_updates=10, batch_size=50,
                            progress=False, monitor_every=5, lattice_shape=(8, 8),
                            monitor_kwargs={"n_model_samples": 50, "n_gibbs": 5})
        assert list(curve.columns) == ["layer", "update", "epoch", "metric", "value", "error"]
        assert set(curve.layer) == {0, 1}
        assert "energy_model" in set(curve[curve.layer == 0].metric)
        assert "energy_model" not in set(curve[curve.layer == 1].metric)
        # with mean propagation layer 1 sees real-valued data: no likelihood metrics
        has_pl = "pseudo_loglik" in set(curve[curve.layer == 1].metric)
        assert has_pl == (propagate == "sample")
        assert not torch.equal(st.layers[1].W, StackedRBM([64, 16, 4], seed=0).layers[1].W)
    st.save(tmp_path / "s.pt", meta={"note": "x"})
    back = StackedRBM.load(tmp_path / "s.pt")
    assert back.sizes == st.sizes and back.meta["note"] == "x"
    assert all(torch.equal(a.W, b.W) for a, b in zip(back.layers, st.layers, strict=True))
    with pytest.raises(ValueError, match="n_hidden=16 but layer 1 has n_visible=8"):
        StackedRBM([RBM(64, 16), RBM(8, 4)])


@pytest.mark.parametrize("tied", [True, False])
def test_autoencoder_learns_and_round_trips(tied, tmp_path):
    x = spins(400, (16,), seed=1)
    x[:, 8:] = x[:, :8]  # redundancy that an 8-unit code can exploit
    ae = Autoencoder(16, 8, tied=tied, activation="tanh", seed=0)
    assert ae.W.shape == (16, 8) and ae.encode(x).shape == (400, 8)
    curve = train_autoencoder(ae, x[:300], x[300:], lr=1e-2, n_updates=400, batch_size=50,
                              progress=False, monitor_every=100)
    rec = curve[curve.metric == "reconstruction_error_heldout"]["value"].to_numpy()
    assert rec[-1] < 0.5 * rec[0]
    assert rec[-1] == pytest.approx(ae.loss(x[300:]).item(), rel=1e-5)
    ae.save(tmp_path / "ae.pt")
    back = Autoencoder.load(tmp_path / "ae.pt")
    torch.testing.assert_close(back(x), ae(x))
    with pytest.raises(CoarsegrainIOError, match="not an autoencoder"):
        Autoencoder.load(_rbm_file(tmp_path))
    with pytest.raises(ValueError, match="activation"):
        Autoencoder(4, 2, activation="relu")
    with pytest.raises(ValueError, match=r"\(n_samples, 16\)"):
        train_autoencoder(ae, np.ones((10, 15)), n_updates=1, progress=False)


def _rbm_file(tmp_path):
    RBM(4, 2).save(tmp_path / "r.pt")
    return tmp_path / "r.pt"


def test_covariance_init_eigenvectors():
    g = torch.Generator().manual_seed(0)
    # data with known principal axes: independent coordinates with variances 9, 4, 1, ...
    std = torch.tensor([3.0, 2.0, 1.0, 0.5, 0.25, 0.1])
    x = torch.randn(20000, 6, generator=g, dtype=torch.float64) * std
    evals, evecs = covariance_eigh(x)
    np.testing.assert_allclose(evals.numpy(), (std**2).numpy(), rtol=0.05)
    W = covariance_init(x, 3, scale=2.0, dtype=torch.float64)
    assert W.shape == (6, 3)
    np.testing.assert_allclose(W.abs().numpy(), 2 * np.eye(6)[:, :3], atol=0.03)
    assert torch.all(W.abs().argmax(0) == torch.arange(3))
    assert torch.all(W[W.abs().argmax(0), torch.arange(3)] > 0)  # sign convention
    # default scale matches a random init's column norm; "sqrt" follows the spectrum
    Wd = covariance_init(x, 3)
    np.testing.assert_allclose(Wd.norm(dim=0).numpy(), 0.05 * 6**0.5, rtol=1e-5)
    Ws = covariance_init(x, 2, scale=1.0, weighting="sqrt")
    np.testing.assert_allclose(Ws.norm(dim=0).numpy(), [1.0, 2 / 3], rtol=0.05)
    # more hidden units than visible: extra random columns
    assert covariance_init(x, 9, seed=0).shape == (6, 9)
    with pytest.raises(ValueError, match="weighting"):
        covariance_init(x, 2, weighting="log")


def test_covariance_init_speeds_up_a_linear_autoencoder():
    """P3's claim in its cleanest setting: a linear tied autoencoder's optimum is the PCA
    subspace, so covariance initialisation starts (nearly) at the optimum."""
    g = torch.Generator().manual_seed(0)
    mix = torch.randn(20, 20, generator=g) * torch.logspace(0, -2, 20)
    x = torch.randn(2000, 20, generator=g) @ mix.T
    losses = {}
    for scheme in ("random", "covariance"):
        ae = Autoencoder(20, 4, tied=True, activation="linear", bias=False, seed=0)
        init_weights(ae, scheme, data=x, scale=1.0, seed=0)
        c = train_autoencoder(ae, x, lr=1e-3, n_updates=200, batch_size=100, progress=False,
                              monitor_every=200)
        losses[scheme] = c[c.metric == "reconstruction_error"]["value"].to_numpy()
    # PCA residual: the discarded eigenvalues' share of the variance per unit
    evals, _ = covariance_eigh(x)
    pca_loss = float(evals[4:].sum()) / 20
    assert losses["covariance"][0] == pytest.approx(pca_loss, rel=0.05)
    assert losses["random"][-1] > 1.5 * losses["covariance"][0]


def test_init_weights_random_matches_constructor():
    rbm = RBM(10, 4, seed=7)
    other = RBM(10, 4, seed=1)
    init_weights(other, "random", seed=7)
    assert torch.equal(rbm.W, other.W)
    with pytest.raises(ValueError, match="needs the training data"):
        init_weights(other, "covariance")


def _spin_file(path, n, L, T, seed):
    x = spins(n, (L, L), seed=seed).numpy().astype(np.int8)
    io.write_spins(x, path, meta={"model": "ising2d", "temperature": T})
    return path


def test_stages_train_models_and_write_curves(tmp_path):
    files = [str(_spin_file(tmp_path / f"T{T}.parquet", 60, 4, T, k))
             for k, T in enumerate((2.0, 3.0))]
    common = {"seed": 3, "device": "cpu", "code": "abc", "n_updates": 6, "batch_size": 20,
              "monitor": {"every": 3, "n_model_samples": 20, "n_gibbs": 2}}
    p = {**common, "n_hidden": 9, "init": "covariance"}
    cli_main(["rbm.train", "--in", "spins", *files, "--out", "model", str(tmp_path / "m.pt"),
              "--out", "curve", str(tmp_path / "c.parquet"), "--out", "checkpoints",
              str(tmp_path / "ck"), "--params", json.dumps(p)])
    rbm = RBM.load(tmp_path / "m.pt")
    assert rbm.n_visible == 16 and rbm.meta["temperatures"] == [2.0, 3.0]
    assert rbm.meta["n_train"] == 96 and rbm.meta["code"] == "abc"
    curve, meta = io.read_table(tmp_path / "c.parquet")
    assert sorted(curve["update"].unique()) == [0, 3, 6] and meta["params"]["n_hidden"] == 9
    assert "energy_model" in set(curve.metric)
    assert (tmp_path / "ck" / "rbm_update0000006.pt").exists()

    cli_main(["rbm.train-stack", "--in", "spins", *files, "--out", "model",
              str(tmp_path / "s.pt"), "--out", "curve", str(tmp_path / "sc.parquet"),
              "--params", json.dumps({**common, "n_layers": 2})])
    assert StackedRBM.load(tmp_path / "s.pt").sizes == [16, 4, 1]
    assert set(io.read_table(tmp_path / "sc.parquet")[0]["layer"]) == {0, 1}

    cli_main(["rbm.train-autoencoder", "--in", "spins", *files, "--out", "model",
              str(tmp_path / "a.pt"), "--out", "curve", str(tmp_path / "ac.parquet"),
              "--params", json.dumps({**common, "n_hidden": 4, "tied": False})])
    assert Autoencoder.load(tmp_path / "a.pt").tied is False

    _spin_file(tmp_path / "L6.parquet", 10, 6, 2.0, 0)
    with pytest.raises(ValueError, match="differ"):
        cli_main(["rbm.train", "--in", "spins", files[0], str(tmp_path / "L6.parquet"),
                  "--out", "model", str(tmp_path / "x.pt"), "--out", "curve",
                  str(tmp_path / "x.parquet"), "--params", json.dumps(p)])


def test_chain_physics_monitor_uses_the_chains_couplings():
    from coarsegrain.lattice.longrange import couplings, energy_per_site
    from coarsegrain.rbm.monitors import RBMMonitor

    g = torch.Generator().manual_seed(0)
    N = 16
    data = torch.where(torch.rand(300, N, generator=g) < 0.8, 1.0, -1.0)  # mostly up
    rbm = RBM(N, 8, seed=0)
    mon = RBMMonitor(metrics=("ising",), chain_sigma=0.75, n_model_samples=50, n_gibbs=5)
    mon.prepare(rbm, data, None, generator=g)
    rows = {name: (v, e) for name, v, e in mon(rbm, generator=g)}
    e_data = energy_per_site(data.numpy().astype(np.float64), couplings(N, 0.75))
    assert rows["energy_data"][0] == pytest.approx(e_data.mean())
    assert rows["abs_mag_data"][0] == pytest.approx(float(data.mean(dim=1).abs().mean()))
    assert {"energy_model", "abs_mag_model"} <= set(rows)
    # neither a lattice nor a chain: no physics rows
    plain = RBMMonitor(metrics=("ising",))
    plain.prepare(rbm, data, None, generator=g)
    assert plain(rbm, generator=g) == []
