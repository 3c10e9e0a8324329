"""The bootstrap of locality_contrast (scipy.stats.bootstrap, two independent samples)."""

import numpy as np
import pytest
from scipy.stats import norm

from coarsegrain.analysis.iomaps import locality_contrast


def test_mean_contrast_error_matches_the_standard_error():
    rng = np.random.default_rng(7)
    a, b = rng.normal(0.3, 2.0, 400), rng.normal(0.0, 1.0, 100)
    c = locality_contrast(a, b, statistic="mean", n_boot=4000, seed=1)
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert c["diff"] == pytest.approx(a.mean() - b.mean())
    assert c["error"] == pytest.approx(se, rel=0.08)  # bootstrap SE vs the textbook SE
    assert c["ci_low"] < c["diff"] < c["ci_high"]
    assert c["ci_high"] - c["ci_low"] == pytest.approx(2 * 1.96 * se, rel=0.12)
    # one-sided p-value: the normal tail beyond diff/se, as the sampling distribution is ~normal
    assert c["p_greater"] == pytest.approx(norm.sf(c["diff"] / se), abs=0.02)


def test_contrast_is_reproducible_and_handles_edge_cases():
    rng = np.random.default_rng(8)
    a, b = rng.random(30), rng.random(30)
    assert locality_contrast(a, b, seed=3) == locality_contrast(a, b, seed=3)
    assert locality_contrast(a, b, seed=3)["error"] != locality_contrast(a, b, seed=4)["error"]
    one = locality_contrast([0.5], b)
    assert one["diff"] == pytest.approx(0.5 - np.median(b)) and np.isnan(one["error"])
    with pytest.raises(ValueError, match="statistic"):
        locality_contrast(a, b, statistic="mode")
    with pytest.raises(ValueError, match="n_boot"):
        locality_contrast(a, b, n_boot=1)
    with pytest.raises(ValueError, match="non-empty"):
        locality_contrast([], b)
