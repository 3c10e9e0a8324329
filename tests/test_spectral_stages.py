"""P3 stages end to end on a tiny image dataset, and on a dataset that was not available."""

import json

import numpy as np
import pytest

from coarsegrain import cli, io
from coarsegrain.data.tables import ImageDataset, write_dataset, write_unavailable

TRAIN = ["curves", "speedup", "weights", "noise", "pruning", "reconstructions", "wall_time",
         "speedup_seconds"]
SPECTRAL = ["singular", "fourier", "overlap", "subspace", "covariance"]
FIGS = ["training", "spectra", "reconstructions"]
PARAMS = {"dataset": "toy", "n_hidden": 16, "seeds": 2, "n_updates": 40, "batch_size": 20,
          "lr": 0.01, "n_train": 120, "n_heldout": 40, "snapshots": [10], "noise_levels": [0.2],
          "prune_modes": [1, 4], "n_examples": 3, "n_modes": 3, "ks": [1, 4], "k_claim": 4,
          "seed": 1, "device": "cpu", "pdf": False}


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
    cli.main(["analysis.covinit", *args, *sum((["--out", t, out[t]] for t in TRAIN), [])])
    cli.main(["analysis.spectral", *args, "--in", "weights", out["weights"], "--in", "speedup",
              out["speedup"], *sum((["--out", t, out[t]] for t in [*SPECTRAL, "claims"]), [])])
    ins = sum((["--in", t, out[t]] for t in [*TRAIN, *SPECTRAL] if t != "weights"), [])
    cli.main(["analysis.spectral-figures", *ins, "--params", js,
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
    assert set(cols["update"]) == {0, 10, 40} and set(cols["scheme"]) == {"random", "covariance"}
    curves, _ = io.read_table(out["curves"])
    assert "wall_time" not in set(curves["metric"])  # timings are kept apart: not reproducible
    assert (io.read_table(out["wall_time"])[0]["metric"] == "wall_time").all()
    assert "speedup_seconds" not in io.read_table(out["speedup"])[0].columns
    assert "speedup_seconds" in io.read_table(out["speedup_seconds"])[0].columns
    claims, _ = io.read_table(out["claims"])
    assert claims["name"].tolist() == ["p3_toy_covinit_speedup", "p3_toy_top_mode_lowpass_overlap",
                                       "p3_toy_subspace_agreement_k4"]
    assert claims["value"].notna().all()
    sub, _ = io.read_table(out["subspace"])
    assert set(sub["k"]) == {1, 4} and sub["mean_cos2"].between(0, 1).all()
    rec, rcols, _ = io.read_lattices(out["reconstructions"], with_columns=True)
    assert rec.shape == (4 * 3, 8, 8) and rcols["model"].iloc[0] == "data"
    assert all((tmp_path / f"{f}.png").stat().st_size > 5_000 for f in FIGS)


def test_stages_on_unavailable_dataset(tmp_path, caplog):
    data = tmp_path / "toy.parquet"
    write_unavailable(data, "toy", "set config key 'datasets.toy.path'", (8, 8))
    out, figs = _run(tmp_path, data)
    claims, meta = io.read_table(out["claims"])
    assert (claims["verdict"] == "inconclusive").all() and not meta["available"]
    assert claims["detail"].str.contains("datasets.toy.path").all()
    assert "covinit toy skipped" in caplog.text
    assert all((tmp_path / f"{f}.png").exists() for f in FIGS)
