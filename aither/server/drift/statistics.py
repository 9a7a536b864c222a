"""Two-sample drift statistics: a reference against a window, per feature.

Numbers: PSI, KL divergence and Jensen-Shannon distance over the reference's quantile bins,
Wasserstein distance (in reference standard deviations) and the Kolmogorov-Smirnov test on the
samples. Categories: PSI and the chi-square test over the category counts. scipy.stats does
the tests; the binned measures are a few lines of numpy, with the same smoothing everywhere
(an empty bin gets half a count, so a new category is a large, finite score).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
from scipy import stats

Floats: TypeAlias = Any  # numpy arrays of float64 (numpy is untyped for mypy here)

NUMERIC_METHODS = ("psi", "kl", "js", "wasserstein", "ks")
CATEGORICAL_METHODS = ("psi", "chi2")
P_VALUE_METHODS = frozenset({"ks", "chi2"})
"""Methods whose score is a p-value: drift when it is *below* the threshold."""


@dataclass(frozen=True)
class Score:
    """One method's verdict on one feature."""

    method: str
    value: float
    threshold: float
    drifted: bool


def _smoothed(counts: Floats) -> Floats:
    """Shares with empty bins at half a count, so logs stay finite."""
    counts = np.where(counts > 0, counts, 0.5)
    shares: Floats = counts / counts.sum()
    return shares


def psi(expected: Floats, actual: Floats) -> float:
    """Population stability index of two count vectors over the same bins."""
    e, a = _smoothed(expected), _smoothed(actual)
    return float(np.sum((a - e) * np.log(a / e)))


def kl(expected: Floats, actual: Floats) -> float:
    """KL divergence D(actual || expected) in nats over the same bins."""
    e, a = _smoothed(expected), _smoothed(actual)
    return float(np.sum(a * np.log(a / e)))


def js(expected: Floats, actual: Floats) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) over the same bins."""
    e, a = _smoothed(expected), _smoothed(actual)
    m = (e + a) / 2
    divergence = 0.5 * np.sum(e * np.log2(e / m)) + 0.5 * np.sum(a * np.log2(a / m))
    return float(np.sqrt(max(divergence, 0.0)))


def bin_counts(values: Floats, edges: Floats) -> Floats:
    """Counts of ``values`` in the bins that the inner ``edges`` cut (open at both ends)."""
    index = np.searchsorted(edges, values, side="right")
    return np.bincount(index, minlength=len(edges) + 1).astype(np.float64)


def quantile_edges(values: Floats, bins: int) -> Floats:
    """Inner bin edges at the reference's quantiles (duplicates dropped for discrete data)."""
    if values.size == 0:
        return np.zeros(0)
    edges = np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])
    unique: Floats = np.unique(edges)
    return unique


def numeric_scores(
    reference: Floats,
    ref_counts: Floats,
    edges: Floats,
    window: Floats,
    thresholds: Mapping[str, float],
    methods: Sequence[str] = NUMERIC_METHODS,
) -> list[Score]:
    """Every numeric method of ``methods`` for one feature."""
    counts = bin_counts(window, edges)
    out: list[Score] = []
    for method in methods:
        if method == "psi":
            value = psi(ref_counts, counts)
        elif method == "kl":
            value = kl(ref_counts, counts)
        elif method == "js":
            value = js(ref_counts, counts)
        elif method == "wasserstein":
            spread = float(np.std(reference)) or 1.0
            value = float(stats.wasserstein_distance(reference, window)) / spread
        elif method == "ks":
            value = float(stats.ks_2samp(reference, window).pvalue)
        else:
            continue
        out.append(_verdict(method, value, thresholds[method]))
    return out


def categorical_scores(
    ref_counts: Mapping[str, float], window: Sequence[str], thresholds: Mapping[str, float]
) -> list[Score]:
    """PSI and chi-square for one categorical feature; a category unseen in the reference
    counts in its own bin."""
    seen: dict[str, float] = {}
    for value in window:
        seen[value] = seen.get(value, 0.0) + 1.0
    keys = sorted(set(ref_counts) | set(seen))
    expected = np.array([ref_counts.get(k, 0.0) for k in keys], dtype=np.float64)
    actual = np.array([seen.get(k, 0.0) for k in keys], dtype=np.float64)
    out = [_verdict("psi", psi(expected, actual), thresholds["psi"])]
    out.append(_verdict("chi2", chi2_pvalue(expected, actual), thresholds["chi2"]))
    return out


def chi2_pvalue(expected: Floats, actual: Floats) -> float:
    """p-value of the chi-square test of homogeneity of two count vectors."""
    table = np.vstack([expected, actual])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or actual.sum() == 0 or expected.sum() == 0:
        return 1.0
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def _verdict(method: str, value: float, threshold: float) -> Score:
    if not np.isfinite(value):
        value = 0.0 if method in P_VALUE_METHODS else float("inf")
    drifted = value < threshold if method in P_VALUE_METHODS else value >= threshold
    return Score(method, value, threshold, bool(drifted))


def proportion_drop_pvalue(ref_ok: int, ref_n: int, win_ok: int, win_n: int) -> float:
    """One-sided two-proportion z-test: p-value that the window's rate is lower than the
    reference's (pooled standard error)."""
    if ref_n == 0 or win_n == 0:
        return 1.0
    p1, p2 = ref_ok / ref_n, win_ok / win_n
    pooled = (ref_ok + win_ok) / (ref_n + win_n)
    se = float(np.sqrt(pooled * (1 - pooled) * (1 / ref_n + 1 / win_n)))
    if se == 0.0:
        return 1.0 if p2 >= p1 else 0.0
    return float(stats.norm.sf((p1 - p2) / se))


def mean_rise_pvalue(reference: Floats, window: Floats) -> float:
    """One-sided Welch t-test: p-value that the window's mean is higher (errors grew)."""
    if reference.size < 2 or window.size < 2:
        return 1.0
    if reference.std() == 0 and window.std() == 0:  # no spread: only the means can say anything
        return 0.0 if window.mean() > reference.mean() else 1.0
    result = stats.ttest_ind(window, reference, equal_var=False, alternative="greater")
    value = float(result.pvalue)
    return value if np.isfinite(value) else 1.0
