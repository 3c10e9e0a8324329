"""CD/PCD training: likelihood goes up, determinism, resume, divergence guard, Ising physics."""

import math

import numpy as np
import pytest
import torch

from coarsegrain.rbm import (
    RBM,
    RBMMonitor,
    RBMTrainer,
    TrainingDivergedError,
    evaluate_rbm,
    exact_log_likelihood,
    train_rbm,
)
from coarsegrain.rbm.train import log_spaced
from coarsegrain.runtime import torch_generator

pytestmark = pytest.mark.usefixtures("one_thread")


def prototype_data(n=1000, nv=16, flip=0.1, seed=0):
    """Two random ±1 prototypes, each unit flipped with probability ``flip``. The data
    entropy is log 2 + nv·H(flip) nats, so the best possible mean log-likelihood is about
    −(0.69 + 16·0.325) = −5.9."""
    g = torch.Generator().manual_seed(seed)
    proto = torch.where(torch.rand(2, nv, generator=g) < 0.5, -1.0, 1.0)
    lab = torch.randint(0, 2, (n,), generator=g)
    noise = torch.where(torch.rand(n, nv, generator=g) < flip, -1.0, 1.0)
    return proto[lab] * noise


@pytest.mark.parametrize("method,optimizer,lr", [("cd", "sgd", 0.1), ("pcd", "adam", 0.01)])
def test_training_increases_exact_log_likelihood(method, optimizer, lr):
    data = prototype_data()
    train, held = data[:800], data[800:]
    rbm = RBM(16, 8, seed=0)
    before = float(exact_log_likelihood(rbm, held).mean())
    curve = train_rbm(rbm, train, held, method=method, optimizer=optimizer, lr=lr,
                      n_updates=600, progress=False, monitor_every=200)
    after = float(exact_log_likelihood(rbm, held).mean())
    # start: ≈ −16 log 2 = −11.1 (nearly uniform); optimum ≈ −5.9
    assert before < -10.5
    assert after > -6.8, after
    ll = curve[curve.metric == "loglik_heldout"].set_index("update")["value"]
    assert ll.index.tolist() == [0, 200, 400, 600]
    assert ll.iloc[-1] > ll.iloc[0] + 4
    assert ll.iloc[-1] == pytest.approx(after, abs=1e-4)


def test_curve_is_tidy_with_expected_metrics():
    data = prototype_data(300)
    rbm = RBM(16, 6, seed=1)
    curve = train_rbm(rbm, data[:200], data[200:], n_updates=20, progress=False,
                      monitor_every=10, batch_size=50)
    assert list(curve.columns) == ["update", "epoch", "metric", "value", "error"]
    assert curve["update"].dtype == np.int64 and curve["value"].dtype == np.float64
    assert set(curve.metric) == {"reconstruction_error", "free_energy_train",
                                 "free_energy_heldout", "free_energy_gap", "pseudo_loglik",
                                 "log_z", "loglik_train", "loglik_heldout"}
    last = curve[curve["update"] == 20].set_index("metric")
    assert last.loc["free_energy_gap", "value"] == pytest.approx(
        last.loc["free_energy_heldout", "value"] - last.loc["free_energy_train", "value"])
    assert last.loc["log_z", "error"] == 0.0  # exact
    assert math.isnan(last.loc["reconstruction_error", "error"])
    assert last.loc["free_energy_train", "value"] == pytest.approx(
        float(rbm.free_energy(data[:200]).mean()), abs=1e-4)
    assert curve.epoch.max() == pytest.approx(20 / 4)  # 4 batches of 50 per epoch


def test_sgd_and_adam_updates_follow_the_gradient_estimate():
    """One full-batch update moves W by lr·g (SGD) or lr·g/(|g|+eps) (Adam's first step),
    with g the trainer's own positive-minus-negative estimate from the same random stream."""
    data = prototype_data(64)
    for method in ("cd", "pcd"):
        for opt in ("sgd", "adam"):
            ref, new = RBM(16, 5, seed=2), RBM(16, 5, seed=2)
            kw = {"method": method, "optimizer": opt, "batch_size": 64, "n_updates": 1,
                  "lr": 0.1, "eps": 0.01, "monitor": False, "progress": False, "seed": 3,
                  "chain_init": "random"}  # PCD chains must not depend on the row order
            # fit visits the batch in its epoch-0 order; hand the estimate the same order
            perm = torch.randperm(64, generator=torch_generator(3, "rbm-shuffle", 0))
            g = RBMTrainer(ref, **kw).gradient_estimate(data[perm])
            RBMTrainer(new, **kw).fit(data)
            step = {"sgd": lambda x: 0.1 * x, "adam": lambda x: 0.1 * x / (x.abs() + 0.01)}[opt]
            for name in ("W", "a", "b"):
                delta = getattr(new, name) - getattr(ref, name)
                torch.testing.assert_close(delta, step(g[name]), atol=2e-5, rtol=1e-4)


def test_same_seed_same_run_and_different_seed_differs():
    data = prototype_data(400)
    runs = []
    for seed in (5, 5, 6):
        rbm = RBM(16, 6, seed=0)
        curve = train_rbm(rbm, data, n_updates=50, seed=seed, progress=False, monitor_every=25)
        runs.append((rbm.W.clone(), curve))
    assert torch.equal(runs[0][0], runs[1][0])
    assert runs[0][1].equals(runs[1][1])
    assert not torch.equal(runs[0][0], runs[2][0])


def test_resume_gives_the_uninterrupted_run(tmp_path):
    data = prototype_data(500)
    kw = {"lr": 0.01, "batch_size": 64, "monitor_every": 25, "progress": False, "seed": 1,
          "monitor": RBMMonitor(metrics=("free_energy", "loglik"))}
    full = RBM(16, 6, seed=0)
    curve_full = RBMTrainer(full, n_updates=120, checkpoint_dir=tmp_path / "a", **kw).fit(data)

    part = RBM(16, 6, seed=0)
    RBMTrainer(part, n_updates=50, checkpoint_dir=tmp_path / "b", **kw).fit(data)
    resumed = RBM(16, 6, seed=0)  # fresh weights: everything must come from the checkpoint
    curve_res = RBMTrainer(resumed, n_updates=120, checkpoint_dir=tmp_path / "b",
                           **kw).fit(data, resume=True)
    assert torch.equal(full.W, resumed.W) and torch.equal(full.b, resumed.b)
    assert curve_full.equals(curve_res)

    # model checkpoints at exponentially spaced updates, loadable as RBMs
    names = sorted(p.name for p in (tmp_path / "a").glob("rbm_update*.pt"))
    assert names == [f"rbm_update{u:07d}.pt" for u in (1, 2, 4, 8, 16, 32, 64, 120)]
    ck = RBM.load(tmp_path / "a" / "rbm_update0000064.pt")
    assert ck.meta["update"] == 64 and not torch.equal(ck.W, full.W)
    assert torch.equal(RBM.load(tmp_path / "a" / "resume.pt").W, full.W)

    with pytest.raises(ValueError, match="settings differ in lr"):
        RBMTrainer(RBM(16, 6), n_updates=120, checkpoint_dir=tmp_path / "b",
                   **{**kw, "lr": 0.02}).fit(data, resume=True)


def test_log_spaced():
    assert log_spaced(100) == [1, 2, 4, 8, 16, 32, 64, 100]
    assert log_spaced(10, per_octave=2) == [1, 2, 3, 4, 6, 8, 10]


def test_divergence_guard_names_update_and_statistic():
    data = prototype_data(200)
    rbm = RBM(16, 6, seed=0)
    with pytest.raises(TrainingDivergedError, match=r"update 1: max\|W\| = .*max_weight"):
        train_rbm(rbm, data, optimizer="sgd", lr=1e6, n_updates=10, progress=False,
                  monitor=False)
    rbm = RBM(16, 6, seed=0)
    with torch.no_grad():
        rbm.b[2] = float("nan")
    with pytest.raises(TrainingDivergedError) as err:
        train_rbm(rbm, data, n_updates=10, progress=False, monitor=False)
    assert err.value.update == 1 and "positive-phase" in err.value.statistic


def test_bad_input_errors():
    rbm = RBM(16, 4)
    with pytest.raises(ValueError, match=r"expected shape \(n_samples, 16\)"):
        train_rbm(rbm, np.ones((10, 15)), n_updates=1, progress=False)
    with pytest.raises(ValueError, match="exactly -1 or \\+1"):
        train_rbm(rbm, np.zeros((10, 16)), n_updates=1, progress=False)
    bad = np.ones((10, 16))
    bad[4, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        train_rbm(rbm, bad, n_updates=1, progress=False)
    with pytest.raises(ValueError, match="heldout"):
        train_rbm(rbm, np.ones((10, 16)), np.ones((10, 17)), n_updates=1, progress=False)
    with pytest.raises(ValueError, match="exactly one of n_updates and n_epochs"):
        RBMTrainer(rbm, n_updates=5, n_epochs=5)
    with pytest.raises(ValueError, match="method"):
        RBMTrainer(rbm, method="pt")
    with pytest.raises(ValueError, match="unknown monitor metric"):
        RBMMonitor(metrics=("accuracy",))


def test_epochs_and_01_units_with_probability_data():
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(300, 10, generator=g)  # {0,1} RBMs accept probabilities as data
    rbm = RBM(10, 4, units="01", seed=0)
    curve = train_rbm(rbm, probs, n_epochs=2, batch_size=100, progress=False, monitor_every=3,
                      optimizer="sgd", lr=0.05, method="cd")
    assert curve["update"].max() == 6
    # likelihood-type metrics need binary data and are skipped
    assert "pseudo_loglik" not in set(curve.metric)


def test_rbm_on_ising_T3_reproduces_energy_and_magnetisation():
    """P1/Iso check: an RBM trained on 2D Ising samples at T = 3.0 (L = 6) generates
    configurations whose energy per site and |m| agree with the Monte Carlo data within 5%.

    MC data: checkerboard Metropolis, validated against the exact finite-L energy (Kaufman).
    Model samples: 2000 Gibbs chains from random starts, 300 steps each (T = 3 mixes fast).
    """
    from coarsegrain.lattice.exact import finite_size_thermo
    from coarsegrain.lattice.ising2d import metropolis_sample

    L, T = 6, 3.0
    spins, _, _ = metropolis_sample(L, [T], 6000, n_chains=200, n_therm=300, thin=5, seed=1,
                                    device="cpu", progress=False)
    x = spins[0]
    e_exact = float(finite_size_thermo([T], L)["energy"][0])
    rbm = RBM(L * L, 64, seed=0)
    train_rbm(rbm, x, lr=1e-2, schedule="exponential", lr_final=1e-4, n_updates=10000,
              n_chains=500, progress=False, monitor=False, seed=0)
    ev = evaluate_rbm(rbm, x, seed=5, lattice_shape=(L, L), metrics=("ising",),
                      n_model_samples=2000, n_gibbs=300).set_index("metric")
    e_data, e_model = ev.loc["energy_data", "value"], ev.loc["energy_model", "value"]
    m_data, m_model = ev.loc["abs_mag_data", "value"], ev.loc["abs_mag_model", "value"]
    assert e_data == pytest.approx(e_exact, abs=4 * ev.loc["energy_data", "error"])
    assert abs(e_model / e_data - 1) < 0.05, (e_model, e_data)
    assert abs(m_model / m_data - 1) < 0.05, (m_model, m_data)
    # the untrained model is far off: the check can fail
    ev0 = evaluate_rbm(RBM(L * L, 64, seed=0), x, seed=5, lattice_shape=(L, L),
                       metrics=("ising",), n_model_samples=1000, n_gibbs=100).set_index("metric")
    assert abs(ev0.loc["energy_model", "value"] / e_data - 1) > 0.5


def test_bernoulli_stream_frequencies_threads_and_resume():
    """The CPU Gibbs sampler: P(s = 1) = p, results independent of the thread count, and a
    stream restarted from its counter continues exactly where it stopped."""
    from coarsegrain.rbm.kernels import BernoulliStream

    p = torch.tensor([0.0, 0.03, 0.5, 0.97, 1.0]).repeat(40_000, 1)
    one = BernoulliStream(11).sample(p, torch.empty_like(p), n_threads=1)
    two = BernoulliStream(11).sample(p, torch.empty_like(p), n_threads=2)
    assert torch.equal(one, two)
    freq, q = one.double().mean(0), p[0].double()
    se = (q * (1 - q) / p.shape[0]).sqrt()
    assert ((freq - q).abs() <= 5 * se + 1e-12).all(), freq
    assert BernoulliStream(12).sample(p, torch.empty_like(p)).ne(one).any()  # keys differ
    # lag-1 dependence along the stream would show as a correlation of neighbours
    flat = BernoulliStream(13).sample(torch.full((1000, 1000), 0.5), torch.empty(1000, 1000),
                                      low=-1.0).flatten()
    assert abs(float((flat[1:] * flat[:-1]).mean())) < 5e-3
    s = BernoulliStream(5)
    a, b = s.sample(p[:3], torch.empty(3, 5)), s.sample(p[:3], torch.empty(3, 5))
    both = BernoulliStream(5).sample(p[:6], torch.empty(6, 5))
    assert torch.equal(torch.cat([a, b]), both) and s.counter == 30
    assert torch.equal(BernoulliStream(5, counter=15).sample(p[:3], torch.empty(3, 5)), b)
    with pytest.raises(ValueError, match="contiguous"):
        s.sample(p[:, :3].t(), torch.empty(3, 40_000))
    with pytest.raises(ValueError, match="shape and dtype"):
        s.sample(p[:3], torch.empty(3, 5, dtype=torch.float64))


def test_default_monitors_are_cheap_and_record_the_cheap_metrics():
    """A library user's default run: 100×81 RBM, 300 updates. The AIS likelihood cost ~2 s per
    monitor point and ran at every one of ~30 points; it is opt-in now, so the run takes seconds
    (measured ~6 s on one busy core) while the cheap metrics are still recorded."""
    import time

    g = torch.Generator().manual_seed(3)
    x = torch.where(torch.rand(1200, 100, generator=g) < 0.5, -1.0, 1.0)
    rbm = RBM(100, 81, seed=0)
    t0 = time.perf_counter()
    curve = train_rbm(rbm, x[:1000], x[1000:], n_updates=300, progress=False)
    elapsed = time.perf_counter() - t0
    assert elapsed < 45, f"default train_rbm took {elapsed:.1f} s for 300 updates"
    assert set(curve.metric) == {"reconstruction_error", "free_energy_train",
                                 "free_energy_heldout", "free_energy_gap", "pseudo_loglik"}
    at = sorted(set(curve["update"]))
    assert at[0] == 0 and at[-1] == 300 and len(at) == len(log_spaced(300, 2)) + 1
    assert curve.groupby("metric").size().eq(len(at)).all()
    # the costly metrics are one argument away
    mon = RBMMonitor(ais=True, ais_chains=10, ais_betas=50)
    small = train_rbm(RBM(100, 81, seed=0), x[:1000], n_updates=2, progress=False, monitor=mon)
    assert {"log_z", "loglik_train"} <= set(small.metric)
