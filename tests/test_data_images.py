"""Preprocessing, TF Flowers and SWIMSEG on tiny archives/folders with the real layout."""

import json
import logging
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

from coarsegrain import cli
from coarsegrain.data import fetch, flowers, preprocess, swimseg
from coarsegrain.data.tables import dataset_available, read_dataset

PER_CLASS = 3


# ----------------------------------------------------------------------------- preprocess


def test_grey_crop_resize_normalize():
    rgb = np.zeros((2, 2, 3))
    rgb[0, 0] = [255, 0, 0]
    rgb[1, 1] = [0, 0, 255]
    np.testing.assert_allclose(preprocess.to_grey(rgb), [[0.299 * 255, 0], [0, 0.114 * 255]])
    img = np.arange(24.0).reshape(4, 6)
    np.testing.assert_array_equal(preprocess.center_crop(img), img[:, 1:5])
    # integer factor: exact block means
    np.testing.assert_allclose(preprocess.area_resize(img, (2, 3)),
                               img.reshape(2, 2, 3, 2).mean(axis=(1, 3)))
    # non-integer factor 3 -> 2: fractional weights, mean preserved
    row = np.array([[0.0, 3.0, 6.0]])
    np.testing.assert_allclose(preprocess.area_resize(row, (1, 2)), [[1.0, 5.0]])
    rng = np.random.default_rng(0)
    x = rng.random((3, 30, 45))
    y = preprocess.area_resize(x, (7, 11))
    assert y.shape == (3, 7, 11)
    np.testing.assert_allclose(y.mean(axis=(1, 2)), x.mean(axis=(1, 2)))
    u = preprocess.normalize(np.array([[0.0, 127.0, 255.0]]), "unit")
    assert u.dtype == np.float32 and np.allclose(u, [[0, 127 / 255, 1]])
    assert preprocess.normalize(np.array([[0.0, 127.0, 255.0]]), "binary").tolist() == [[0, 0, 1]]
    assert preprocess.normalize(np.array([[10.0, 20.0]]), "minmax").tolist() == [[0, 1]]
    assert preprocess.normalize(np.full((2, 2), 7.0), "minmax").tolist() == [[0, 0], [0, 0]]
    with pytest.raises(ValueError, match="normalize mode 'zscore' is not allowed"):
        preprocess.normalize(img, "zscore")


def test_load_grey_image_matches_pipeline(tmp_path):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    got = preprocess.load_grey_image(tmp_path / "a.png", 5)
    grey = np.asarray(Image.fromarray(rgb).convert("L"), dtype=float)
    np.testing.assert_allclose(got, grey[:, 5:25].reshape(5, 4, 5, 4).mean(axis=(1, 3)))
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(fetch.DataError, match="not a readable image"):
        preprocess.load_grey_image(tmp_path / "bad.jpg", 5)


def test_stratified_split():
    labels = np.repeat(np.arange(3), 10)
    split = preprocess.stratified_split(labels, 0.2, np.random.default_rng(0))
    assert all((split[labels == c] == "test").sum() == 2 for c in range(3))


# ----------------------------------------------------------------------------- flowers


def _jpeg(path, rng, size=(30, 40)):
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path, quality=90)


@pytest.fixture(scope="module")
def flower_tgz(tmp_path_factory):
    """flower_photos.tgz with 5 class folders of tiny JPEGs and a LICENSE.txt."""
    root = tmp_path_factory.mktemp("flowers_src")
    top = root / "flower_photos"
    rng = np.random.default_rng(2)
    for k in flowers.CLASSES:
        (top / k).mkdir(parents=True)
        for i in range(PER_CLASS):
            _jpeg(top / k / f"{i:04d}_{k}.jpg", rng)
    (top / "LICENSE.txt").write_text("fake")
    arc = root / "flower_photos.tgz"
    with tarfile.open(arc, "w:gz") as tf:
        tf.add(top, arcname="flower_photos")
    return arc, top


def _flowers_kw(arc, **kw):
    base = dict(cache_dir=None, size=8, expected_count=5 * PER_CLASS, archive_size=arc.stat().st_size,
                archive_sha256=fetch.sha256_file(arc))
    base.update(kw)
    return base


def test_flowers_from_archive_and_folder(flower_tgz, tmp_path):
    arc, top = flower_tgz
    ds = flowers.load_flowers("path", path=arc, **_flowers_kw(arc, cache_dir=tmp_path))
    assert ds.images.shape == (5 * PER_CLASS, 8, 8) and ds.images.dtype == np.float32
    assert 0 <= ds.images.min() and ds.images.max() <= 1
    assert ds.labels.tolist() == np.repeat(np.arange(5), PER_CLASS).tolist()
    assert ds.meta["source"] == "path" and ds.meta["sha256"] == {"flower_photos.tgz": fetch.sha256_file(arc)}
    assert sorted(ds.split.tolist()).count("test") == 5  # round(0.2 * 3) = 1 per class
    ds2 = flowers.load_flowers("auto", path=top.parent, **_flowers_kw(arc, cache_dir=tmp_path / "c2"))
    np.testing.assert_array_equal(ds2.images, ds.images)
    assert "folder" in ds2.meta["sha256"]


def test_flowers_url_route(flower_tgz, tmp_path):
    arc, _ = flower_tgz
    ds = flowers.load_flowers("url", url=arc.as_uri(), **_flowers_kw(arc, cache_dir=tmp_path))
    assert ds.meta["source"] == "url" and (tmp_path / "flower_photos.tgz").is_file()
    cache = tmp_path / "bad"
    with pytest.raises(fetch.DatasetUnavailable, match="sha256") as err:
        flowers.load_flowers("url", url=arc.as_uri(), **_flowers_kw(arc, cache_dir=cache,
                                                                     archive_sha256="0" * 64))
    assert "flowers.path" in str(err.value)
    assert not cache.exists() or not any(cache.iterdir())


def test_flowers_unavailable_and_count_mismatch(flower_tgz, tmp_path):
    arc, _ = flower_tgz
    with pytest.raises(fetch.DatasetUnavailable, match="flowers.path") as err:
        flowers.load_flowers("auto", url="http://127.0.0.1:1/flower_photos.tgz", cache_dir=tmp_path,
                             timeout=2)
    assert err.value.attempts[0].startswith("url:")
    with pytest.raises(fetch.DatasetUnavailable, match="expected 3670"):
        flowers.load_flowers("path", path=arc, **_flowers_kw(arc, cache_dir=tmp_path,
                                                             expected_count=3670))


def test_flowers_unsafe_archive(tmp_path):
    arc = tmp_path / "flower_photos.tgz"
    evil = tmp_path / "payload.txt"
    evil.write_text("x")
    with tarfile.open(arc, "w:gz") as tf:
        tf.add(evil, arcname="../escaped.txt")
    with pytest.raises(fetch.DatasetUnavailable, match="unsafe member"):
        flowers.load_flowers("path", path=arc, cache_dir=tmp_path / "cache", archive_size=None,
                             archive_sha256=None)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "cache" / "flowers").exists()


# ----------------------------------------------------------------------------- swimseg


@pytest.fixture(scope="module")
def swim_src(tmp_path_factory):
    """SWIMSEG-like folder (images/*.png, GTmaps/*_GT.png) and a zip of it; masks have known
    cloud fractions."""
    root = tmp_path_factory.mktemp("swim") / "swimseg"
    (root / "images").mkdir(parents=True)
    (root / "GTmaps").mkdir()
    rng = np.random.default_rng(3)
    fractions = []
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(
            root / "images" / f"{i + 1:04d}.png")
        mask = np.zeros((24, 24), dtype=np.uint8)
        mask[: 6 * i] = 255
        fractions.append(6 * i / 24)
        Image.fromarray(mask).save(root / "GTmaps" / f"{i + 1:04d}_GT.png")
    arc = root.parent / "swimseg.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        for p in sorted(root.rglob("*")):
            zf.write(p, p.relative_to(root.parent).as_posix())
    return root, arc, fractions


def test_swimseg_zip_and_folder(swim_src, tmp_path):
    root, arc, fractions = swim_src
    ds = swimseg.load_swimseg(arc, cache_dir=tmp_path, size=6, expected_count=4)
    assert ds.images.shape == (4, 6, 6) and (ds.labels == -1).all()
    np.testing.assert_allclose(ds.columns["cloud_fraction"], fractions)
    assert ds.meta["sha256"] == {"swimseg.zip": fetch.sha256_file(arc)}
    assert ds.meta["counts"] == {"images": 4, "GTmaps": 4, "paired": 4}
    ds2 = swimseg.load_swimseg(root.parent, cache_dir=tmp_path / "c2", size=6, expected_count=4)
    np.testing.assert_array_equal(ds2.images, ds.images)
    assert len(ds2.meta["sha256"]["folder"]) == 64


def test_swimseg_counts_and_missing(swim_src, tmp_path):
    root, arc, _ = swim_src
    with pytest.raises(fetch.DatasetUnavailable, match="expected 1013 of each"):
        swimseg.load_swimseg(root, cache_dir=tmp_path)
    with pytest.raises(fetch.DatasetUnavailable, match="swimseg.path"):
        swimseg.load_swimseg(None)
    with pytest.raises(fetch.DatasetUnavailable, match="no folder holding both"):
        swimseg.load_swimseg(tmp_path)


def test_stages_skip_with_one_line(tmp_path, caplog, swim_src):
    caplog.set_level(logging.WARNING)
    out = tmp_path / "swimseg.parquet"
    cli.main(["spectral.swimseg", "--out", "images", str(out), "--params", json.dumps({"size": 6})])
    ok, reason = dataset_available(out)
    assert not ok and "swimseg.path" in reason
    out2 = tmp_path / "flowers.parquet"
    params = {"size": [4, 6], "url": "http://127.0.0.1:1/f.tgz", "cache_dir": str(tmp_path), "timeout": 2}
    cli.main(["spectral.flowers", "--out", "images", str(out2), "--params", json.dumps(params)])
    assert read_dataset(out2)[0].shape == (0, 4, 6)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 2 and lines[0].startswith("dataset swimseg skipped")
    root, _, _ = swim_src
    params = {"size": 6, "path": str(root), "expected_count": 4, "cache_dir": str(tmp_path), "seed": 3}
    cli.main(["spectral.swimseg", "--out", "images", str(out), "--params", json.dumps(params)])
    x, cols, meta = read_dataset(out)
    assert x.shape == (4, 6, 6) and meta["available"] and "cloud_fraction" in cols
