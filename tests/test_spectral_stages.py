"""P3 stages end to end on a tiny image dataset, and on a dataset that was not available."""

import json

import numpy as np
import pandas as pd
import pytest

from coarsegrain import cli, io
from coarsegrain.claims import evaluate
from coarsegrain.data.tables import ImageDataset, write_dataset, write_unavailable

TRAIN = ["curves", "speedup", "target", "losses", "convergence", "weights", "noise", "pruning",
         "reconstructions", "wall_time", "speedup_seconds"]
SPECTRAL = ["singular", "fourier", "overlap", "subspace", "covariance", "solvability"]
FIGS = ["training", "spectra", "reconstructions"]
PARAMS = {"dataset": "toy", "n_hidden": 16, "seeds": 2, "n_updates": 40, "batch_size": 20,
          "lr": 0.01, "n_train": 120, "n_heldout": 40, "snapshots": [10], "noise_levels": [0.2],
          "prune_modes": [1, 4], "n_examples": 3, "n_modes": 3, "n_gaps": 2, "seed": 1,
          "device": "cpu", "pdf": False}


pytestmark = pytest.mark.usefixtures("one_thread")


def _toy_images(n=160, side=8, seed=0):
    """Smooth random images in [0, 1]: a few low Fourier modes."""
    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    modes = [np.cos(2 * np.pi * (a * x + b * y) / side) for a in range(2) for b in range(2)]
    coef = rng.standard_normal((n, len(modes)))
    img = 0.5 + 0.12 * np.einsum("nm,mxy->nxy", coef, np.stack(modes))
    return np.clip(img, 0, 1).astype(np.float32)


def _run(tmp_path, data):
    out = {t: str(tmp_path / f"{t}.parquet") for t in [*TRAIN, *SPECTRAL, "claims"]}
    figs = {f: str(tmp_path / f"{f}.png") for f in FIGS}
    js = json.dumps(PARAMS)
    args = ["--in", "data", str(data), "--params", js]
    cli.main(["spectral.covinit", *args, *sum((["--out", t, out[t]] for t in TRAIN), [])])
    cli.main(["spectral.spectral", *args, *sum((["--in", t, out[t]] for t in
                                                ("weights", "speedup", "losses", "pruning")), []),
              *sum((["--out", t, out[t]] for t in [*SPECTRAL, "claims"]), [])])
    ins = sum((["--in", t, out[t]] for t in [*TRAIN, *SPECTRAL] if t != "weights"), [])
    cli.main(["spectral.spectral-figures", *ins, "--params", js,
              *sum((["--out", f, figs[f]] for f in FIGS), [])])
    return out, figs


def test_stages_on_toy_images(tmp_path):
    imgs = _toy_images()
    split = np.where(np.arange(len(imgs)) < 120, "train", "test")
    data = tmp_path / "toy.parquet"
    write_dataset(ImageDataset(imgs, np.zeros(len(imgs), dtype=np.int64), split,
                               meta={"dataset": "toy", "source": "test"}), data)
    out, figs = _run(tmp_path, data)
    W, cols, meta = io.read_lattices(out["weights"], with_columns=True)
    assert W.shape[1:] == (64, 16) and meta["available"]
    assert set(cols["update"]) == {0, 10, 40} and set(cols["scheme"]) == {"random", "dataset"}
    curves, _ = io.read_table(out["curves"])
    assert "wall_time" not in set(curves["metric"])  # timings are kept apart: not reproducible
    assert (io.read_table(out["wall_time"])[0]["metric"] == "wall_time").all()
    speed = io.read_table(out["speedup"])[0]
    assert not any("seconds" in c for c in speed.columns)
    assert "speedup_seconds" in io.read_table(out["speedup_seconds"])[0].columns
    target = io.read_table(out["target"])[0]
    assert target["censored"].dtype == bool and len(target) == 4
    # a censored run is never reported as a plain number of updates
    assert (target.loc[target["censored"], "updates_to_target"] == 40).all()
    losses = io.read_table(out["losses"])[0]
    assert {"pca", "dataset_ae", "trained"} <= set(losses["model"])
    claims, _ = io.read_table(out["claims"])
    names = set(claims["claim"])
    assert {"p3/toy/covinit_speedup", "p3/toy/dataset_ae_loss", "p3/toy/top_mode_lowpass_overlap",
            "p3/toy/subspace_agreement/k16", "p3/toy/pruning_modes"} <= names
    assert (claims.groupby("claim").size() == 2).all()  # one row per seed
    sp_rows = claims[claims["claim"] == "p3/toy/covinit_speedup"]
    assert (sp_rows["censored"] == (speed["bound_updates"] == "lower").to_numpy()).all()
    rows = evaluate(claims)
    assert set(rows["verdict"]) <= {"reproduced", "not reproduced", "inconclusive"}
    sub, meta = io.read_table(out["subspace"])
    assert 16 in set(sub["k"]) and meta["k_claim"] in set(sub["k"])
    assert sub["mean_cos2"].between(0, 1).all()
    solv = io.read_table(out["solvability"])[0]
    assert solv["dataset"].tolist() == ["toy"] and solv["n_hidden"].iloc[0] == 16
    rec, rcols, _ = io.read_lattices(out["reconstructions"], with_columns=True)
    assert rec.shape == (5 * 3, 8, 8) and rcols["model"].iloc[0] == "data"
    assert all((tmp_path / f"{f}.png").stat().st_size > 5_000 for f in FIGS)


def test_stages_on_unavailable_dataset(tmp_path, caplog):
    data = tmp_path / "toy.parquet"
    write_unavailable(data, "toy", "set config key 'datasets.toy.path'", (8, 8))
    out, figs = _run(tmp_path, data)
    claims, meta = io.read_table(out["claims"])
    assert claims["value"].isna().all() and not meta["available"]
    assert (evaluate(claims)["verdict"] == "inconclusive").all()
    assert claims["detail"].str.contains("datasets.toy.path").all()
    assert "covinit toy skipped" in caplog.text
    assert all((tmp_path / f"{f}.png").exists() for f in FIGS)


def test_rbm_stage_and_solvability(tmp_path):
    import torch

    from coarsegrain.rbm import RBM

    paths = []
    for rep in range(2):
        rbm = RBM(36, 9, seed=rep)
        with torch.no_grad():  # smooth columns: each unit sees a Gaussian blob on the 6x6 lattice
            x, y = np.meshgrid(np.arange(6), np.arange(6), indexing="ij")
            cols = [np.exp(-((x - 2 * a - 0.5) ** 2 + (y - 2 * b - 0.5) ** 2) / 2.0).ravel()
                    for a in range(3) for b in range(3)]
            rbm.W.copy_(torch.as_tensor(np.stack(cols, axis=1), dtype=rbm.W.dtype))
        paths.append(str(tmp_path / f"rbm{rep}.pt"))
        rbm.save(paths[-1])
    out = {t: str(tmp_path / f"rbm_{t}.parquet") for t in ("singular", "fourier", "overlap",
                                                         "claims")}
    params = json.dumps({"rbm": "toy", "L": 6, "n_modes": 4, "n_top": 2, "seed": 3, "pdf": False})
    cli.main(["spectral.rbm-spectral", "--in", "rbm", *paths, "--params", params,
              *sum((["--out", t, out[t]] for t in out), [])])
    ov = io.read_table(out["overlap"])[0]
    assert set(ov["model"]) == {"trained", "null"} and set(ov["seed"]) == {0, 1}
    claims = io.read_table(out["claims"])[0]
    assert claims["claim"].tolist() == ["p3/rbm/toy/lowpass_overlap"] * 2
    assert (claims["value"] > 0.9).all()  # blobs on a 2x2-block layout: smooth, low-passed
    fig = tmp_path / "rbm.png"
    cli.main(["spectral.rbm-figure", *sum((["--in", t, out[t]] for t in
                                           ("singular", "fourier", "overlap")), []),
              "--params", params, "--out", "figure", str(fig)])
    assert fig.stat().st_size > 5_000
    # the solvability collector skips unavailable datasets
    from coarsegrain.analysis import p3

    good, bad = tmp_path / "s_good.parquet", tmp_path / "s_bad.parquet"
    lam = np.array([4.0, 2.0, 1.0, 0.5])
    io.write_table(pd.DataFrame([{"dataset": "a", **p3.solvability(lam, 2)}]),
                   good, {"available": True})
    io.write_table(pd.DataFrame(), bad, {"available": False})
    cov = tmp_path / "cov.parquet"
    io.write_table(pd.DataFrame({"index": range(4), "eigenvalue": lam}), cov, {})
    table, fig2 = tmp_path / "solv.parquet", tmp_path / "solv.png"
    cli.main(["spectral.solvability", "--in", "solvability", str(good), str(bad),
              "--in", "covariance", str(cov), str(cov), "--params", '{"pdf": false}',
              "--out", "table", str(table), "--out", "figure", str(fig2)])
    t, meta = io.read_table(table)
    assert t["dataset"].tolist() == ["a"] and "our reading" in meta["definition"]
