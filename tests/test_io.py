import os

import numpy as np
import pandas as pd
import pytest
import torch

from coarsegrain import io


@pytest.mark.parametrize("shape", [(5, 4, 4), (3, 7, 5), (2, 33), (1, 8, 8)])
def test_spins_roundtrip(tmp_path, shape):
    rng = np.random.default_rng(0)
    spins = rng.choice(np.array([-1, 1], dtype=np.int8), size=shape)
    meta = {"model": "ising2d", "temperature": 2.27, "seed": 3}
    io.write_spins(spins, tmp_path / "s.parquet", meta, columns={"chain": np.arange(shape[0])})
    back, cols, m = io.read_spins(tmp_path / "s.parquet", with_columns=True)
    assert back.dtype == np.int8 and back.shape == shape
    np.testing.assert_array_equal(back, spins)
    np.testing.assert_array_equal(cols["chain"], np.arange(shape[0]))
    assert m["temperature"] == 2.27 and m["shape"] == list(shape[1:])


def test_spins_are_compact(tmp_path):
    spins = np.random.default_rng(1).choice(np.array([-1, 1], dtype=np.int8), size=(2000, 32, 32))
    io.write_spins(spins, tmp_path / "s.parquet")
    # 1 bit per spin = 256 kB; random bits do not compress, allow small overhead
    assert os.path.getsize(tmp_path / "s.parquet") < 1.1 * spins.size / 8 + 20_000


def test_writes_are_byte_identical(tmp_path):
    spins = np.random.default_rng(2).choice(np.array([-1, 1], dtype=np.int8), size=(50, 6, 6))
    meta = {"b": 1, "a": {"y": [1, 2], "x": np.float64(0.5)}}
    io.write_spins(spins, tmp_path / "1.parquet", meta)
    io.write_spins(spins, tmp_path / "2.parquet", dict(reversed(list(meta.items()))))
    assert (tmp_path / "1.parquet").read_bytes() == (tmp_path / "2.parquet").read_bytes()
    df = pd.DataFrame({"T": [1.0, 2.0], "value": [0.1, 0.2]})
    io.write_table(df, tmp_path / "a.parquet", {"k": 1})
    io.write_table(df, tmp_path / "b.parquet", {"k": 1})
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_non_spin_values_rejected(tmp_path):
    with pytest.raises(ValueError, match="±1"):
        io.write_spins(np.array([[1, 0], [1, -1]]), tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.parquet"
    with pytest.raises(RuntimeError), io.atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("killed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_table_roundtrip_and_meta(tmp_path):
    df = pd.DataFrame({"L": [8, 8], "observable": ["energy", "binder"], "value": [-1.2, 0.5]})
    io.write_table(df, tmp_path / "t.parquet", {"params": {"seed": 1}, "code": "abc"})
    back, meta = io.read_table(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(back, df)
    assert meta["code"] == "abc" and io.read_meta(tmp_path / "t.parquet")["params"]["seed"] == 1


def test_lattices_roundtrip(tmp_path):
    vals = np.random.default_rng(3).choice([-1, -0.5, 0, 0.5, 1], size=(10, 4, 4)).astype(np.float32)
    io.write_lattices(vals, tmp_path / "l.parquet", {"rg": "block"}, columns={"step": 1})
    back, cols, meta = io.read_lattices(tmp_path / "l.parquet", with_columns=True)
    np.testing.assert_array_equal(back, vals)
    assert (cols["step"] == 1).all() and meta["dtype"] == "float32"


def test_read_errors_are_clear(tmp_path):
    with pytest.raises(io.CoarsegrainIOError, match="no such file"):
        io.read_table(tmp_path / "missing.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(io.CoarsegrainIOError, match="not a readable Parquet"):
        io.read_spins(tmp_path / "junk.parquet")
    io.write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.parquet")
    with pytest.raises(io.CoarsegrainIOError, match="not a spin file"):
        io.read_spins(tmp_path / "t.parquet")


def test_checkpoint_roundtrip_and_corruption(tmp_path):
    state = {"W": torch.randn(3, 2), "b": torch.zeros(2)}
    io.save_checkpoint(state, tmp_path / "m.pt", {"n_hidden": 2})
    back, meta = io.load_checkpoint(tmp_path / "m.pt")
    assert torch.equal(back["W"], state["W"]) and meta == {"n_hidden": 2}
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "bad.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(io.CoarsegrainIOError, match="corrupted"):
        io.load_checkpoint(tmp_path / "bad.pt")


def test_outputs_get_umask_permissions(tmp_path):
    io.write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.parquet")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "t.parquet").stat().st_mode & 0o777 == 0o666 & ~umask
