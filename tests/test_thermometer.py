"""Neural thermometer (calibration on held-out Monte Carlo data) and the physics estimator."""

import numpy as np
import pandas as pd
import pytest
import torch

from coarsegrain.flow.estimators import (
    estimate_temperature,
    invert_curve,
    observables_chain,
    observables_ising2d,
    temperature_predictions,
    temperature_table,
)
from coarsegrain.flow.thermometer import (
    LatticeShapeError,
    Thermometer,
    calibration,
    calibration_curve,
    select_thermometer,
    train_per_size,
    train_thermometer,
)
from coarsegrain.lattice.ising2d import metropolis_sample
from coarsegrain.lattice.observables import observables_table
from coarsegrain.rg.blockspin import majority_rule

GRID = [1.5, 2.0, 2.5, 3.0, 4.0]
L = 8


def sample(temps, n, seed):
    spins, chain, _ = metropolis_sample(L, temps, n, n_chains=n // 10, n_therm=200, thin=4,
                                        seed=seed, device="cpu", progress=False)
    return spins.reshape(-1, L, L), np.repeat(np.asarray(temps, float), n), chain


@pytest.fixture(scope="module")
def data():
    x_train, y_train, _ = sample(GRID, 400, seed=1)
    x_test, y_test, _ = sample(GRID, 200, seed=2)
    return x_train, y_train, x_test, y_test


@pytest.fixture(scope="module")
def mlp(data):
    x, y, _, _ = data
    return train_thermometer(x, y, arch="mlp", hidden=(128, 64), max_epochs=20, patience=3,
                             batch_size=200, lr=2e-3, seed=0, progress=False)


def test_mlp_thermometer_beats_chance_on_held_out_data(mlp, data):
    th, history = mlp
    _, _, x_test, y_test = data
    summary, confusion = calibration(th, x_test, y_test)
    assert summary["chance"] == pytest.approx(0.2)
    assert summary["accuracy"] > 0.45  # chance is 0.2; measured ≈ 0.53 at L=8
    assert summary["adjacent_accuracy"] > 0.85
    assert len(confusion) == len(GRID) ** 2
    assert set(confusion.columns) == {"true_temperature", "predicted_temperature", "count", "fraction"}
    np.testing.assert_allclose(confusion.groupby("true_temperature")["fraction"].sum(), 1.0)
    assert confusion["count"].sum() == len(y_test)
    assert list(history.columns) == ["epoch", "train_loss", "val_loss", "val_accuracy"]
    curve = calibration_curve(th, x_test, y_test)
    assert np.all(np.diff(curve["expected_mean"]) > 0)  # predicted T rises with true T


def test_cnn_thermometer_beats_chance(data):
    x, y, x_test, y_test = data
    th, _ = train_thermometer(x[::2], y[::2], arch="cnn", channels=(8, 8), hidden=(16,),
                              max_epochs=10, patience=3, lr=3e-3, seed=0, progress=False)
    summary, _ = calibration(th, x_test, y_test)
    assert summary["accuracy"] > 0.4  # measured ≈ 0.49 (chance 0.2)
    # the same CNN reads chains
    chain = train_thermometer(x[::4, 0], y[::4], arch="cnn", channels=(4,), hidden=(),
                              max_epochs=1, progress=False)[0]
    assert chain.predict_proba(x_test[:3, 0]).shape == (3, len(GRID))


def test_default_network_is_iso_mlp():
    th = Thermometer(np.linspace(0.25, 6.0, 24), (10, 10))
    sizes = [m.out_features for m in th.net if isinstance(m, torch.nn.Linear)]
    assert sizes == [512, 256, 64, 24]
    assert th.net[0].__class__.__name__ == "Flatten" and th.config["activation"] == "tanh"


def test_predictions_and_shape_errors(mlp, data, tmp_path):
    th, _ = mlp
    _, _, x_test, _ = data
    p = th.predict_proba(x_test[:7])
    assert p.shape == (7, len(GRID))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    df = th.predict(x_test[:7], step=3)
    np.testing.assert_allclose(df["expected_temperature"], p @ np.array(GRID))
    assert set(df["argmax_temperature"]) <= set(GRID) and (df["step"] == 3).all()
    with pytest.raises(LatticeShapeError, match="train_per_size"):
        th.predict_proba(np.ones((3, 4, 4)))
    with pytest.raises(ValueError):
        th.class_index([2.2])
    th.save(tmp_path / "th.pt", meta={"L": L})
    th2 = Thermometer.load(tmp_path / "th.pt")
    np.testing.assert_allclose(th2.predict_proba(x_test[:50]), th.predict_proba(x_test[:50]))
    assert th2.meta["L"] == L


def test_training_is_reproducible(data):
    x, y, _, _ = data
    kw = dict(hidden=(16,), max_epochs=2, seed=3, progress=False)
    a, _ = train_thermometer(x[::5], y[::5], **kw)
    b, _ = train_thermometer(x[::5], y[::5], **kw)
    np.testing.assert_array_equal(a.predict_proba(x[:20]), b.predict_proba(x[:20]))


def test_train_per_size_and_selection(data):
    x, y, _, _ = data
    coarse = majority_rule(x, seed=0)  # L/2 = 4 lattices, as from one RG step
    ths = train_per_size({8: (x[::4], y[::4]), 4: (coarse[::4], y[::4])}, hidden=(16,),
                         max_epochs=2, progress=False)
    assert set(ths) == {(8, 8), (4, 4)}
    assert select_thermometer(ths, coarse).lattice_shape == (4, 4)
    with pytest.raises(LatticeShapeError):
        select_thermometer(ths, np.ones((2, 16, 16)))


@pytest.fixture(scope="module")
def mc_table():
    grid = np.round(np.arange(1.6, 3.61, 0.2), 2)
    spins, chain, _ = metropolis_sample(L, grid, 200, n_chains=20, n_therm=300, thin=5, seed=11,
                                        device="cpu", progress=False)
    return pd.concat([observables_table(spins[i], T, chain) for i, T in enumerate(grid)])


@pytest.mark.parametrize("T", [2.1, 2.7])
def test_physics_estimator_recovers_temperature(mc_table, T):
    spins, _, _ = sample([T], 400, seed=7)
    obs = observables_ising2d(spins)
    for o in ("energy", "abs_magnetization"):
        est = estimate_temperature(obs[o], mc_table, o, n_boot=100)
        assert not est["clipped"]
        # 3σ plus the linear-interpolation bias on a 0.2 grid
        assert abs(est["temperature"] - T) < 3 * est["error"] + 0.05, (o, est)


def test_physics_estimator_wide_table_and_clipping():
    table = pd.DataFrame({"temperature": [1.0, 2.0, 3.0], "energy": [-2.0, -1.5, -1.0],
                          "abs_magnetization": [1.0, 0.6, 0.2]})
    est = estimate_temperature([-1.25, -1.25], table, "energy", n_boot=10)
    assert est["temperature"] == pytest.approx(2.5) and not est["clipped"]
    est = estimate_temperature([0.8], table, "abs_magnetization", n_boot=10)
    assert est["temperature"] == pytest.approx(1.5)
    assert estimate_temperature([-0.5], table, "energy", n_boot=10)["clipped"]
    # a noisy, non-monotone curve is made monotone before inversion
    t, clipped = invert_curve([1, 2, 3, 4], [-2.0, -1.4, -1.6, -1.0], -1.2)
    assert 2 <= t <= 4 and not clipped


def test_temperature_table_per_step(mlp, mc_table, data):
    th, _ = mlp
    _, _, x_test, y_test = data
    groups = {0: x_test[y_test == 2.0][:100], 1: x_test[y_test == 3.0][:100]}
    df = temperature_table(groups, thermometer={(8, 8): th}, table=mc_table, n_boot=20,
                           model="ising2d")
    assert set(df["method"]) == {"thermometer", "thermometer_argmax", "energy",
                                 "abs_magnetization"}
    assert (df["model"] == "ising2d").all() and (df["lattice_size"] == 8).all()
    e = df[df.method == "energy"].set_index("step")["temperature"]
    assert e[0] < e[1]
    t = df[df.method == "thermometer"].set_index("step")["temperature"]
    assert t[0] < t[1]
    pred = temperature_predictions(groups, th)
    assert len(pred) == 200 and set(pred["step"]) == {0, 1}


def test_chain_energy_matches_direct_sum():
    rng = np.random.default_rng(0)
    s = rng.choice([-1, 1], size=(3, 12))
    sigma = 0.75
    N = 12
    e = np.zeros(3)
    for i in range(N):
        for j in range(i + 1, N):
            r = min(j - i, N - (j - i))
            e -= s[:, i] * s[:, j] / r ** (1 + sigma)
    np.testing.assert_allclose(observables_chain(s, sigma, images="minimum")["energy"], e / N)
    assert np.all(observables_chain(s, sigma)["energy"] != e / N)  # Ewald images differ


# ----------------------------------------------------------------------------- calibration maps


def synthetic_readings(seed=0, n=4000):
    """Readings r = T + 0.1 (T − 2.5) + N(0, σ(T)), σ = 0.1 + 0.05 T, pinned to [1.25, 4.4]."""
    from coarsegrain.flow.thermometer import calibration_from_predictions

    rng = np.random.default_rng(seed)
    grid = np.round(np.arange(0.5, 5.51, 0.25), 2)
    true = np.repeat(grid, n)
    sigma = 0.1 + 0.05 * true
    pred = np.clip(true + 0.1 * (true - 2.5) + sigma * rng.standard_normal(true.size), 1.25, 4.4)
    return grid, calibration_from_predictions(pred, true, grid)


def test_calibration_bias_resolution_and_saturation_are_recovered():
    grid, tab = synthetic_readings()
    assert tab["true_temperature"].tolist() == grid.tolist()
    inner = tab[(tab.true_temperature >= 2.0) & (tab.true_temperature <= 3.5)]
    T = inner["true_temperature"].to_numpy()
    np.testing.assert_allclose(inner["bias"], 0.1 * (T - 2.5), atol=5 * inner["bias_err"].max())
    np.testing.assert_allclose(inner["resolution"], 0.1 + 0.05 * T, rtol=0.05)
    # readings pinned below 1.25: T ≤ 0.75 are flat; pinned above 4.4: T ≥ 5.0 are flat
    low = tab.loc[tab.saturation == "low", "true_temperature"].tolist()
    high = tab.loc[tab.saturation == "high", "true_temperature"].tolist()
    assert low and max(low) <= 1.0 and 0.5 in low
    assert high and min(high) >= 4.25 and 5.5 in high
    assert not tab.loc[tab.true_temperature.between(1.5, 4.0), "saturated"].any()
    # pinned at 1.25, not at the grid end 0.5: flat, but not "at the grid end"
    assert tab.loc[tab.true_temperature == 0.5, "frac_low_end"].item() == 0.0


def test_calibration_map_inverts_the_curve_and_gives_the_tolerance():
    from coarsegrain.flow.thermometer import CalibrationMap

    _, tab = synthetic_readings(seed=1)
    cal = CalibrationMap(tab)
    T = np.array([1.7, 2.269, 3.1])
    r = T + 0.1 * (T - 2.5)  # the noise-free mean reading at T
    out = cal.correct(r, error=0.01)
    np.testing.assert_allclose(out["temperature"], T, atol=0.02)
    assert not out["clipped"].any()
    np.testing.assert_allclose(out["error"], 0.01 / 1.1, rtol=0.3)
    # resolution at T_c: σ(T) in reading units, σ / 1.1 in temperature units
    sig = 0.1 + 0.05 * 2.269
    assert cal.resolution(2.269, corrected=False)[0] == pytest.approx(sig, rel=0.05)
    assert cal.resolution(2.269)[0] == pytest.approx(sig / 1.1, rel=0.1)
    far = cal.correct([0.2, 9.0])
    assert far["clipped"].all()
    assert far["temperature"].iloc[0] == pytest.approx(cal.range[0])
    assert cal.is_saturated([0.5, 2.0, 5.5]).tolist() == [True, False, True]


def test_calibration_table_from_a_thermometer_and_bad_input():
    from coarsegrain.flow.thermometer import calibration_from_predictions, calibration_table

    class Exact:
        """A thermometer that reads the temperature written in the first site."""
        temperatures = np.array([1.0, 2.0, 3.0])

        def expected_temperature(self, configs):
            return np.asarray(configs, float)[:, 0, 0]

    x = np.zeros((6, 2, 2))
    x[:, 0, 0] = [1.0, 1.0, 2.1, 1.9, 3.0, 3.0]
    tab = calibration_table(Exact(), x, [1, 1, 2, 2, 3, 3])
    np.testing.assert_allclose(tab["bias"], 0.0, atol=1e-12)
    np.testing.assert_allclose(tab["resolution"], [0, np.sqrt(0.02), 0], atol=1e-12)
    assert tab["frac_low_end"].tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="true_temperatures"):
        calibration_from_predictions([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="equal length"):
        calibration_from_predictions([1.0], [1.0, 2.0])


def test_calibrated_rows_are_appended_per_lattice_size():
    from coarsegrain.flow.estimators import calibrated_rows
    from coarsegrain.flow.thermometer import CalibrationMap

    _, tab = synthetic_readings(seed=2, n=500)
    cal = CalibrationMap(tab)
    T = np.array([1.8, 2.4])
    df = pd.DataFrame({"step": [1, 2, 1], "lattice_size": [8, 8, 8],
                       "method": ["thermometer", "thermometer", "energy"],
                       "temperature": [*(T + 0.1 * (T - 2.5)), 2.0], "error": [0.01, 0.01, 0.02],
                       "spread": [0.3, 0.3, np.nan], "clipped": False, "n": 100})
    out = calibrated_rows(df, {8: cal})
    new = out[out.method == "thermometer_calibrated"]
    assert len(out) == 5 and new["step"].tolist() == [1, 2]
    np.testing.assert_allclose(new["temperature"], T, atol=0.05)
    assert (new["spread"] > 0).all() and not new["clipped"].any()
    assert calibrated_rows(df[df.method == "energy"], cal).equals(df[df.method == "energy"])
