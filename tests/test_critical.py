import math

import numpy as np
import pandas as pd
import pytest

from coarsegrain.analysis.critical import binder_crossings, estimate_tc


def _synthetic(tc=2.3, sizes=(8, 16, 32), err=0.002):
    # U4 = f((T - tc) L^(1/ν)) with ν = 1: all curves cross exactly at tc
    T = np.linspace(2.0, 2.6, 31)
    rows = []
    for L in sizes:
        u = 2 / 3 * 0.5 * (1 - np.tanh(0.8 * (T - tc) * L))
        rows.append(pd.DataFrame({"L": L, "temperature": T, "observable": "binder",
                                  "value": u, "error": err}))
    return pd.concat(rows, ignore_index=True)


def test_crossing_recovers_known_tc():
    cross = binder_crossings(_synthetic(), n_boot=200)
    assert len(cross) == 3
    np.testing.assert_allclose(cross["t_cross"], 2.3, atol=5e-4)
    tc, err = estimate_tc(cross)
    assert abs(tc - 2.3) < max(3 * err, 5e-4) and err > 0


def test_no_crossing_is_nan():
    df = _synthetic()
    df.loc[df["L"] == 32, "value"] += 1.0
    cross = binder_crossings(df[df["L"] != 8], n_boot=50)
    assert math.isnan(cross["t_cross"].iloc[0])
    assert math.isnan(estimate_tc(cross)[0])


def test_one_size_is_an_error():
    with pytest.raises(ValueError, match="two sizes"):
        binder_crossings(_synthetic(sizes=(8,)))
