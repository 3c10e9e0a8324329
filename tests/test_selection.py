"""Checkpoint selection on held-out data; parameter snapshots; the Iso protocol's RBM settings."""

import numpy as np
import pandas as pd
import pytest
import torch

from coarsegrain.rbm import RBM, RBMTrainer, exact_log_likelihood
from coarsegrain.rbm.selection import rbm_at, select_checkpoint, select_rbm

pytestmark = pytest.mark.usefixtures("one_thread")


def curve_from(updates, **metrics):
    rows = []
    for name, (values, errors) in metrics.items():
        for u, v, e in zip(updates, values, errors, strict=True):
            rows.append((int(u), u / 10, name, float(v), float(e)))
    return pd.DataFrame(rows, columns=["update", "epoch", "metric", "value", "error"])


UPDATES = np.arange(0, 8001, 250)


def overfitting_curve(errors=0.0):
    """Held-out LL peaks at update 2000 then falls; training LL keeps rising."""
    held = -10 + 4 * np.exp(-((UPDATES - 2000) / 1500.0) ** 2) - 1e-4 * UPDATES
    train = -10 + 6 * (1 - np.exp(-UPDATES / 1500.0))
    e = np.full(UPDATES.size, errors)
    return curve_from(UPDATES, loglik_heldout=(held, e), loglik_train=(train, e),
                      free_energy_gap=(UPDATES / 500.0, np.full(UPDATES.size, np.nan)))


def test_picks_heldout_optimum_not_the_last_or_the_training_optimum():
    curve = overfitting_curve()
    c = select_checkpoint(curve)
    assert c.update == 2000 and c.rule == "heldout_loglik" and c.metric == "loglik_heldout"
    assert c.table["candidate"].sum() == 1
    train_best = curve[curve.metric == "loglik_train"].sort_values("value")["update"].iloc[-1]
    assert train_best == UPDATES[-1] != c.update
    assert select_checkpoint(curve, prefer="best").update == 2000
    # only stored snapshots are candidates
    assert select_checkpoint(curve, available=[0, 1000, 4000, 8000]).update == 1000


def test_noise_tolerance_prefers_the_earliest_equivalent_update():
    curve = overfitting_curve(errors=0.2)
    c = select_checkpoint(curve, n_sigma=1.0)
    # margin √2·0.2 = 0.28 nats below the peak value ≈ −6.2: updates 1500 … 2500 qualify
    held = curve[curve.metric == "loglik_heldout"].set_index("update")["value"]
    ok = held[held >= held.max() - np.sqrt(2) * 0.2].index
    assert c.update == ok.min() < 2000
    assert select_checkpoint(curve, n_sigma=1.0, prefer="best").update == 2000
    assert select_checkpoint(curve, n_sigma=0.0).update == 2000
    assert select_checkpoint(overfitting_curve(), tolerance=1.0).update < c.update


def test_fallbacks_without_heldout_likelihood():
    curve = overfitting_curve()
    no_ll = curve[curve.metric != "loglik_heldout"]
    c = select_checkpoint(no_ll, gap_max=3.0)
    assert (c.rule, c.update) == ("free_energy_gap", 1500)
    assert select_checkpoint(no_ll, gap_max=0.0).update == 0
    last = select_checkpoint(curve[curve.metric == "loglik_train"])
    assert (last.rule, last.update) == ("last", 8000)
    nan_ll = curve.copy()
    nan_ll.loc[nan_ll.metric == "loglik_heldout", "value"] = np.nan
    assert select_checkpoint(nan_ll, gap_max=3.0).rule == "free_energy_gap"


def test_bad_arguments_are_named():
    curve = overfitting_curve()
    with pytest.raises(ValueError, match="prefer"):
        select_checkpoint(curve, prefer="latest")
    with pytest.raises(ValueError, match="n_sigma"):
        select_checkpoint(curve, n_sigma=-1)
    with pytest.raises(ValueError, match="layer"):
        select_checkpoint(pd.concat([curve.assign(layer=0), curve.assign(layer=1)]))
    assert select_checkpoint(pd.concat([curve.assign(layer=0), curve.assign(layer=1)]),
                             layer=1).update == 2000
    with pytest.raises(ValueError, match="columns"):
        select_checkpoint(curve.drop(columns="metric"))


def prototype_data(n, nv=16, flip=0.15, seed=0):
    g = torch.Generator().manual_seed(seed)
    proto = torch.where(torch.rand(3, nv, generator=g) < 0.5, -1.0, 1.0)
    lab = torch.randint(0, 3, (n,), generator=g)
    noise = torch.where(torch.rand(n, nv, generator=g) < flip, -1.0, 1.0)
    return proto[lab] * noise


def test_snapshots_restore_the_selected_model_and_survive_resume(tmp_path):
    data = prototype_data(1040)
    train, held = data[:40], data[40:540]  # few training samples: the model overfits
    kw = dict(method="pcd", optimizer="adam", lr=0.03, n_updates=400, monitor_every=25,
              batch_size=20, progress=False, seed=1, snapshot_at="heavy")
    trainer = RBMTrainer(RBM(16, 12, seed=0), **kw)
    curve = trainer.fit(train, held)
    assert sorted(trainer.snapshots) == list(range(0, 401, 25))
    rbm, choice = select_rbm(trainer, curve)
    assert choice.rule == "heldout_loglik"
    held_ll = curve[curve.metric == "loglik_heldout"].set_index("update")["value"]
    assert choice.update == held_ll.idxmax()  # exact likelihood: no noise margin
    assert float(exact_log_likelihood(rbm, held).mean()) == pytest.approx(
        held_ll[choice.update], abs=1e-4)
    if choice.update != 400:  # the final model is a different one
        assert not torch.equal(rbm.W, trainer.rbm.W)
    with pytest.raises(ValueError, match="no snapshot"):
        rbm_at(trainer, 13)
    # a resumed run carries the snapshots of its first part
    first = RBMTrainer(RBM(16, 12, seed=0), checkpoint_dir=tmp_path, resume_every=200,
                       **{**kw, "n_updates": 200})
    first.fit(train, held)
    second = RBMTrainer(RBM(16, 12, seed=0), checkpoint_dir=tmp_path, **kw)
    second.fit(train, held, resume=True)
    assert sorted(second.snapshots) == sorted(trainer.snapshots)
    torch.testing.assert_close(second.snapshots[100]["W"], trainer.snapshots[100]["W"])
    with pytest.raises(ValueError, match="snapshot_at"):
        RBMTrainer(RBM(4, 2), snapshot_at="always")


@pytest.mark.parametrize("units", ["01", "pm1"])
def test_iso_protocol_no_biases_cd1_plain_sgd(units):
    data = prototype_data(400)
    if units == "01":
        data = (data + 1) / 2
    rbm = RBM(16, 16, units=units, bias=False, seed=0)
    w0 = rbm.W.clone()
    RBMTrainer(rbm, method="cd", k=1, optimizer="sgd", lr=0.01, batch_size=100, n_updates=40,
               monitor=False, progress=False).fit(data)
    assert torch.all(rbm.a == 0) and torch.all(rbm.b == 0)
    assert not torch.allclose(rbm.W, w0)
    # the same run with biases moves them: the test above can fail
    rbm_b = RBM(16, 16, units=units, bias=True, seed=0)
    RBMTrainer(rbm_b, method="cd", k=1, optimizer="sgd", lr=0.01, batch_size=100, n_updates=40,
               monitor=False, progress=False).fit(data)
    assert rbm_b.b.abs().max() > 0


def test_stack_layers_hold_their_heldout_checkpoint_before_the_next_layer_trains():
    from coarsegrain.rbm.stack import StackedRBM, train_stack

    data = prototype_data(1040)
    train, held = data[:40], data[40:540]  # few training samples: layer 0 overfits
    kw = dict(method="pcd", optimizer="adam", lr=0.03, n_updates=400, monitor_every=25,
              batch_size=20, progress=False, seed=1)
    rule = {"snapshot_at": "heavy", "prefer": "best"}
    st = StackedRBM([16, 12, 6], seed=0)
    curve = train_stack(st, train, held, select=rule, **kw)
    chosen = curve.groupby("layer")["selected_update"].first()
    assert set(curve["rule"]) == {"heldout_loglik"}
    # layer 0 holds the held-out optimum of its own curve, which is not the last update here
    held0 = curve[(curve.layer == 0) & (curve.metric == "loglik_heldout")].set_index("update")
    assert chosen[0] == held0["value"].idxmax() < 400
    assert float(exact_log_likelihood(st.layers[0], held).mean()) == pytest.approx(
        held0["value"][chosen[0]], abs=1e-4)
    # layer 1 learned from the selected layer 0: the same stack without selection differs
    plain = StackedRBM([16, 12, 6], seed=0)
    curve_plain = train_stack(plain, train, held, **kw)
    assert "selected_update" not in curve_plain
    assert not torch.equal(plain.layers[0].W, st.layers[0].W)
    assert not torch.equal(plain.layers[1].W, st.layers[1].W)
    # no held-out data: nothing to select on, every layer keeps its last update
    curve_none = train_stack(StackedRBM([16, 12, 6], seed=0), train, None, select=rule, **kw)
    assert "selected_update" not in curve_none
