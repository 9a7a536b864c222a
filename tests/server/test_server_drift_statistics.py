"""The drift statistics against values worked out by hand or by scipy directly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from aither.server.drift import statistics as st


def test_binned_measures_of_identical_and_known_distributions() -> None:
    same = np.array([10.0, 20.0, 30.0])
    assert st.psi(same, same) == 0.0 and st.kl(same, same) == 0.0 and st.js(same, same) == 0.0
    expected, actual = np.array([50.0, 50.0]), np.array([25.0, 75.0])
    # PSI = sum((a - e) * ln(a / e)) over the shares
    assert st.psi(expected, actual) == pytest.approx((0.25 - 0.5) * np.log(0.5) + (0.75 - 0.5) * np.log(1.5))
    assert st.kl(expected, actual) == pytest.approx(0.25 * np.log(0.5) + 0.75 * np.log(1.5))
    assert 0.0 < st.js(expected, actual) < 1.0
    # an empty bin counts as half a count: a new category is large and finite
    assert np.isfinite(st.psi(np.array([100.0, 0.0]), np.array([50.0, 50.0])))


def test_bins_and_tests_agree_with_scipy() -> None:
    rng = np.random.default_rng(0)
    ref, win = rng.standard_normal(1000), rng.standard_normal(500) + 0.5
    edges = st.quantile_edges(ref, 10)
    counts = st.bin_counts(ref, edges)
    assert len(edges) == 9 and counts.sum() == 1000 and counts.min() >= 99
    thresholds = {"psi": 0.1, "kl": 0.1, "js": 0.1, "wasserstein": 0.1, "ks": 0.001}
    scores = {s.method: s for s in st.numeric_scores(ref, counts, edges, win, thresholds)}
    assert scores["ks"].value == pytest.approx(stats.ks_2samp(ref, win).pvalue)
    assert scores["wasserstein"].value == pytest.approx(stats.wasserstein_distance(ref, win) / ref.std())
    assert all(s.drifted for s in scores.values())
    calm = {s.method: s for s in st.numeric_scores(ref, counts, edges, rng.standard_normal(500), thresholds)}
    assert not any(s.drifted for s in calm.values())


def test_categories_and_proportions() -> None:
    thresholds = {"psi": 0.1, "chi2": 0.001}
    same = st.categorical_scores({"a": 500.0, "b": 500.0}, ["a"] * 250 + ["b"] * 250, thresholds)
    assert [s.drifted for s in same] == [False, False]
    new = {
        s.method: s
        for s in st.categorical_scores({"a": 500.0, "b": 500.0}, ["c"] * 100 + ["a"] * 400, thresholds)
    }
    assert new["psi"].drifted and new["chi2"].drifted
    assert st.proportion_drop_pvalue(950, 1000, 950, 1000) == pytest.approx(0.5)
    assert st.proportion_drop_pvalue(950, 1000, 850, 1000) < 1e-10
    assert st.proportion_drop_pvalue(950, 1000, 990, 1000) > 0.99  # better is not worse
    assert st.mean_rise_pvalue(np.ones(3), np.ones(3)) == 1.0  # no spread: no evidence
