"""RBM model: conditionals, sampling, energies, validation, persistence."""

import itertools
import math

import numpy as np
import pytest
import torch
from helpers import random_rbm  # noqa: E402

from coarsegrain.io import CoarsegrainIOError
from coarsegrain.rbm import RBM, StackedRBM, as_visible

pytestmark = pytest.mark.usefixtures("one_thread")


def states(n, units):
    s = torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)))
    return 2 * s - 1 if units == "pm1" else s


def test_shapes_and_defaults():
    rbm = RBM(12, 5, seed=1)
    assert rbm.W.shape == (12, 5) and rbm.a.shape == (12,) and rbm.b.shape == (5,)
    assert rbm.W.dtype == torch.float32 and not rbm.W.requires_grad
    assert torch.all(rbm.a == 0) and torch.all(rbm.b == 0)
    # init_std is the standard deviation: 60 draws, so the sample std is within ~30%
    assert 0.035 < float(rbm.W.std()) < 0.065
    assert torch.equal(RBM(12, 5, seed=1).W, rbm.W)
    assert not torch.equal(RBM(12, 5, seed=2).W, rbm.W)
    v = torch.ones(7, 12)
    assert rbm.hidden_field(v).shape == (7, 5)
    assert rbm.visible_field(torch.ones(7, 5)).shape == (7, 12)
    assert rbm.free_energy(v).shape == (7,)
    assert rbm.gibbs(v, k=3).shape == (7, 12)


@pytest.mark.parametrize("units", ["pm1", "01"])
def test_conditionals(units):
    rbm = random_rbm(6, 4, units)
    v = states(6, units)[:20]
    f = v @ rbm.W + rbm.b
    expect = torch.tanh(f) if units == "pm1" else torch.sigmoid(f)
    torch.testing.assert_close(rbm.mean_h(v), expect, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(rbm.hidden_field(v), f)
    h = states(4, units)[:20]
    torch.testing.assert_close(rbm.visible_field(h), h @ rbm.W.T + rbm.a)


@pytest.mark.parametrize("units", ["pm1", "01"])
def test_sampling_frequencies(units):
    """Empirical means of sample_h match E[h|v] within 5 standard errors."""
    rbm = random_rbm(5, 3, units, std=1.0)
    v = states(5, units)[[3, 17]].repeat_interleave(20000, dim=0)
    g = torch.Generator().manual_seed(0)
    h = rbm.sample_h(v, generator=g)
    allowed = {-1.0, 1.0} if units == "pm1" else {0.0, 1.0}
    assert set(torch.unique(h).tolist()) <= allowed
    mean = h.view(2, 20000, 3).mean(1)
    expect = rbm.mean_h(v[[0, 20000]])
    var = (1 - expect**2) if units == "pm1" else expect * (1 - expect)
    z = (mean - expect) / torch.sqrt(var / 20000)
    assert float(z.abs().max()) < 5
    # the same generator state gives the same samples
    g2 = torch.Generator().manual_seed(0)
    assert torch.equal(rbm.sample_h(v, generator=g2), h)


@pytest.mark.parametrize("units", ["pm1", "01"])
def test_free_energy_and_energy(units):
    """F(v) = −log Σ_h exp(−E(v,h)) by brute force; F(h) likewise."""
    rbm = random_rbm(4, 3, units)
    V, H = states(4, units), states(3, units)
    E = torch.stack([rbm.energy(V, h.expand(len(V), -1)) for h in H], dim=1)  # (16, 8)
    torch.testing.assert_close(rbm.free_energy(V), -torch.logsumexp(-E, dim=1),
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(rbm.free_energy_hidden(H), -torch.logsumexp(-E, dim=0),
                               atol=1e-5, rtol=1e-5)
    # energy definition E = −aᵀv − bᵀh − vᵀWh
    v, h = V[5:6], H[2:3]
    e = -(v @ rbm.a) - (h @ rbm.b) - (v @ rbm.W @ h.T).flatten()
    torch.testing.assert_close(rbm.energy(v, h), e)


def test_bias_false_keeps_zero_biases_and_rejects_bad_args():
    rbm = RBM(4, 3, bias=False)
    assert torch.all(rbm.a == 0)
    with pytest.raises(ValueError, match="units"):
        RBM(4, 3, units="ising")
    with pytest.raises(ValueError, match="n_hidden"):
        RBM(4, 0)
    with pytest.raises(ValueError, match="init_std"):
        RBM(4, 3, init_std=-1)


def test_shape_mismatch_names_expected_shape():
    rbm = RBM(16, 4)
    with pytest.raises(ValueError, match=r"expected \(batch, 16\)"):
        rbm.hidden_field(torch.ones(3, 15))
    with pytest.raises(ValueError, match=r"expected \(batch, 4\)"):
        rbm.visible_field(torch.ones(3, 5))
    with pytest.raises(ValueError, match=r"\(n_samples, 16\)"):
        rbm.check_data(np.ones((10, 5, 5)))
    # a lattice with the right number of sites is accepted and flattened
    assert rbm.check_data(np.ones((10, 4, 4), dtype=np.int8)).shape == (10, 16)


def test_data_validation():
    with pytest.raises(ValueError, match="exactly -1 or \\+1"):
        as_visible(np.zeros((5, 4)), 4, "pm1")
    with pytest.raises(ValueError, match="NaN"):
        x = np.ones((5, 4))
        x[3, 1] = np.nan
        as_visible(x, 4, "pm1")
    with pytest.raises(ValueError, match="exactly 0 or 1"):
        as_visible(-np.ones((5, 4)), 4, "01")
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        as_visible(np.full((5, 4), 1.5), 4, "01", exact=False)
    with pytest.raises(ValueError, match="non-empty"):
        as_visible(np.ones((0, 4)), 4, "pm1")
    ok = as_visible(np.full((5, 4), 0.3), 4, "01", exact=False)
    assert ok.dtype == torch.float32


def test_save_load_roundtrip(tmp_path):
    rbm = random_rbm(9, 4, "01")
    rbm.save(tmp_path / "m.pt", meta={"seed": 3})
    back = RBM.load(tmp_path / "m.pt")
    for k in ("W", "a", "b"):
        assert torch.equal(getattr(back, k), getattr(rbm, k))
    assert back.units == "01" and back.meta["seed"] == 3
    # loads with weights_only=True
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    assert set(payload["state"]) == {"W", "a", "b"}


def test_corrupted_checkpoint(tmp_path):
    rbm = RBM(9, 4)
    p = tmp_path / "m.pt"
    rbm.save(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(CoarsegrainIOError, match="corrupted"):
        RBM.load(p)
    with pytest.raises(CoarsegrainIOError, match="no such"):
        RBM.load(tmp_path / "missing.pt")
    # a valid checkpoint of something else
    StackedRBM([9, 4, 2]).save(tmp_path / "s.pt")
    with pytest.raises(CoarsegrainIOError, match="not an RBM"):
        RBM.load(tmp_path / "s.pt")


def test_device_and_dtype():
    rbm = RBM(6, 3, device="cpu", dtype=torch.float64, seed=0)
    assert rbm.W.dtype == torch.float64 and rbm.device.type == "cpu"
    # int8 spins are converted to the model dtype
    v = torch.ones(2, 6, dtype=torch.int8)
    assert rbm.free_energy(v).dtype == torch.float64
    assert math.isfinite(float(rbm.free_energy(v)[0]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    cpu = random_rbm(10, 6)
    gpu = RBM(10, 6, device="cuda")
    gpu.load_state_dict(cpu.state_dict())
    v = states(10, "pm1")[:50]
    torch.testing.assert_close(gpu.free_energy(v).cpu(), cpu.free_energy(v), atol=1e-5, rtol=1e-5)
    g = torch.Generator(device="cuda").manual_seed(0)
    assert gpu.sample_h(v, generator=g).device.type == "cuda"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message seen without a GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda")])
def test_cuda_without_gpu_says_what_to_set(device):
    from coarsegrain.runtime import DeviceUnavailableError, resolve_device

    for make in (lambda: RBM(6, 3, device=device), lambda: resolve_device(device)):
        with pytest.raises(DeviceUnavailableError) as err:
            make()
        msg = str(err.value)
        assert "no CUDA GPU is visible" in msg and "device: auto" in msg and "device: cpu" in msg
        assert isinstance(err.value, ValueError)


def test_device_spellings():
    from coarsegrain.runtime import resolve_device

    assert RBM(4, 2, device="auto").device.type == ("cuda" if torch.cuda.is_available()
                                                    else "cpu")
    assert RBM(4, 2).device.type == "cpu" and resolve_device(None).type == "cpu"
    for bad in ("gpu", "cuda:x", 0):
        with pytest.raises(ValueError, match="device="):
            RBM(4, 2, device=bad)
