"""Exact enumeration, AIS and the log-likelihood gradient."""

import itertools

import pytest
import torch
from helpers import random_rbm  # noqa: E402

from coarsegrain.rbm import (
    RBM,
    RBMTrainer,
    ais_log_partition,
    exact_gradient,
    exact_log_likelihood,
    exact_log_partition,
    exact_model_statistics,
    rbm_gradient,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def states(n, units):
    s = torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)
    return 2 * s - 1 if units == "pm1" else s


def brute_force_log_z(rbm):
    V, H = states(rbm.n_visible, rbm.units), states(rbm.n_hidden, rbm.units)
    W, a, b = (t.double() for t in (rbm.W, rbm.a, rbm.b))
    neg_e = (V @ a)[:, None] + (H @ b)[None, :] + V @ W @ H.T
    return float(torch.logsumexp(neg_e.flatten(), 0))


@pytest.mark.parametrize("units", ["pm1", "01"])
@pytest.mark.parametrize("shape", [(7, 5), (5, 8)])
def test_exact_log_z_matches_brute_force(units, shape):
    """Enumerating either layer (whichever is smaller) gives the double-sum value."""
    rbm = random_rbm(*shape, units=units)
    assert float(exact_log_partition(rbm)) == pytest.approx(brute_force_log_z(rbm), abs=1e-9)


def test_exact_refuses_large_models():
    with pytest.raises(ValueError, match="min\\(n_visible, n_hidden\\) <= 20"):
        exact_log_partition(RBM(30, 25))


@pytest.mark.parametrize("units", ["pm1", "01"])
def test_ais_within_tenth_of_a_nat(units):
    """AIS log Z of a random 40×12 RBM is within 0.1 nats of enumeration, and the reported
    standard error covers the difference (4σ)."""
    rbm = random_rbm(40, 12, units=units, std=0.3, seed=4)
    exact = float(exact_log_partition(rbm))
    res = ais_log_partition(rbm, n_chains=100, n_betas=3000, seed=0)
    diff = res.log_z - exact
    assert abs(diff) < 0.1, (res, exact)
    assert abs(diff) < 4 * res.error + 0.01, (res, exact)
    assert res.log_z_lo < res.log_z < res.log_z_hi
    # an independent run differs (it is random) but agrees just as well
    res2 = ais_log_partition(rbm, n_chains=100, n_betas=3000, seed=1)
    assert res2.log_z != res.log_z and abs(res2.log_z - exact) < 0.1


def test_ais_data_base_rate_and_schedule_validation():
    """A base rate matched to samples of the model: accurate with a short schedule."""
    rbm = random_rbm(20, 14, std=0.3, seed=2)
    g = torch.Generator().manual_seed(0)
    data = rbm.gibbs(torch.ones(500, 20), k=100, generator=g)
    res = ais_log_partition(rbm, n_chains=100, n_betas=1000, data=data, seed=0)
    assert res.log_z_base != pytest.approx(20 * 0.6931 + 14 * 0.6931, abs=0.1)
    assert abs(res.log_z - float(exact_log_partition(rbm))) < 0.1
    with pytest.raises(ValueError, match="betas"):
        ais_log_partition(rbm, betas=torch.linspace(0.1, 1, 10))


@pytest.mark.parametrize("units", ["pm1", "01"])
def test_exact_gradient_matches_autograd(units):
    rbm = random_rbm(6, 4, units=units)
    g = torch.Generator().manual_seed(0)
    data = (torch.rand(50, 6, generator=g) < 0.7).float()
    data = 2 * data - 1 if units == "pm1" else data
    grad = exact_gradient(rbm, data)
    for p in (rbm.W, rbm.a, rbm.b):
        p.requires_grad_(True)
    exact_log_likelihood(rbm, data).mean().backward()
    for name in ("W", "a", "b"):
        torch.testing.assert_close(getattr(rbm, name).grad.double(), grad[name],
                                   atol=1e-6, rtol=1e-5)


def _z_scores(estimates, exact, n_blocks=20):
    """z-scores of the mean of correlated estimates, errors from block means."""
    s = torch.stack(estimates).double()
    blocks = s.view(n_blocks, -1, *s.shape[1:]).mean(1)
    se = blocks.std(0) / n_blocks**0.5
    return ((s.mean(0) - exact) / se).abs()


@pytest.mark.parametrize("units", ["pm1", "01"])
def test_gradient_estimates_match_exact_in_expectation(units):
    """(1) rbm_gradient with exact model samples and (2) the PCD trainer's estimate, averaged,
    agree with the exact gradient within 5 standard errors (max over all 34 parameters)."""
    rbm = random_rbm(6, 4, units=units)
    g = torch.Generator().manual_seed(1)
    data = (torch.rand(50, 6, generator=g) < 0.7).float()
    data = 2 * data - 1 if units == "pm1" else data
    ex = exact_gradient(rbm, data)

    # exact samples: enumerate p(v) for the 64 visible states
    V = states(6, units)
    logp = -rbm.free_energy(V).double()
    idx = torch.multinomial(torch.softmax(logp, 0), 400 * 500, replacement=True, generator=g)
    samples = V[idx].float().view(400, 500, 6)
    direct = [rbm_gradient(rbm, data, s) for s in samples]

    tr = RBMTrainer(rbm, method="pcd", k=1, n_chains=1000, batch_size=50, monitor=False,
                    progress=False, n_updates=1, seed=0)
    for _ in range(50):  # burn in the persistent chains
        tr.gradient_estimate(data)
    pcd = [tr.gradient_estimate(data) for _ in range(400)]
    for name in ("W", "a", "b"):
        for est in (direct, pcd):
            z = _z_scores([e[name] for e in est], ex[name])
            assert float(z.max()) < 5, (name, z)
    # the estimates are not trivially equal to the exact value
    assert float((pcd[0]["W"].double() - ex["W"]).abs().max()) > 1e-3


def test_model_statistics_sum_rules():
    rbm = random_rbm(5, 9, "01")
    st = exact_model_statistics(rbm)
    V = states(5, "01")
    p = torch.softmax(-rbm.free_energy(V).double(), 0)
    torch.testing.assert_close(st["v"], p @ V)
    torch.testing.assert_close(st["h"], p @ rbm.mean_h(V).double(), atol=1e-6, rtol=1e-6)
