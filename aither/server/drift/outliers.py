"""Multivariate outliers: Isolation Forest and One-Class SVM fitted on a reference's sample.

Opt-in (``DriftSettings.outlier_methods``), with scikit-learn from the ``server-ml`` extra. Each
model is fitted on half of the reference's numeric sample, and its threshold is the score that
``outlier_share`` (1 %) of the *other* half passes: a threshold calibrated out of sample, so
a stationary window's outlier rate is about that share rather than the optimistic in-sample
one. A window raises an anomaly when its rate is ``outlier_rate_multiplier`` times the share
and a one-sided binomial test says it is no accident.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
from scipy import stats

from .reference import Reference, Table, numbers

Matrix: TypeAlias = Any  # 2-D numpy arrays of float64 (numpy is untyped for mypy here)
METHODS = ("isolation_forest", "one_class_svm")
OUTLIER_SHARE = 0.01
"""The share of reference rows beyond the threshold: the rate a stationary window shows."""
MIN_REFERENCE_ROWS = 200


def available() -> bool:
    """Whether scikit-learn is installed (``pip install 'aither[server-ml]'``)."""
    return importlib.util.find_spec("sklearn") is not None


def matrix(table: Table, columns: Sequence[str]) -> Matrix | None:
    """The rows of ``table`` over ``columns`` as a float matrix (None when they don't align)."""
    arrays = [numbers(table.get(name, [])) for name in columns]
    if not arrays or len({a.size for a in arrays}) != 1 or arrays[0].size == 0:
        return None
    return np.column_stack(arrays)


@dataclass
class OutlierModel:
    """One fitted model over a reference's numeric columns (standardised by the reference)."""

    method: str
    columns: list[str]
    mean: Matrix
    scale: Matrix
    model: Any
    threshold: float

    @classmethod
    def fit(cls, reference: Reference, method: str, seed: int = 0) -> OutlierModel | None:
        columns = [name for name, s in reference.inputs.items() if s.kind == "numeric"]
        data = matrix(reference.sample_inputs, columns)
        if data is None or data.shape[0] < MIN_REFERENCE_ROWS:
            return None
        mean, scale = data.mean(axis=0), data.std(axis=0)
        scale[scale == 0] = 1.0
        z = (data - mean) / scale
        order = np.random.default_rng(seed).permutation(z.shape[0])
        half = z.shape[0] // 2
        train, calibrate = z[order[:half]], z[order[half:]]
        if method == "isolation_forest":
            from sklearn.ensemble import IsolationForest

            model: Any = IsolationForest(n_estimators=100, random_state=seed).fit(train)
        elif method == "one_class_svm":
            from sklearn.svm import OneClassSVM

            model = OneClassSVM(nu=0.05, gamma="scale").fit(train)
        else:
            raise ValueError(f"unknown outlier method {method!r}; known: {', '.join(METHODS)}")
        # scikit-learn's decision_function: lower is more abnormal
        threshold = float(np.quantile(model.decision_function(calibrate), OUTLIER_SHARE))
        return cls(method, columns, mean, scale, model, threshold)

    def rate(self, window: Table) -> tuple[float, int, list[str]] | None:
        """The window's share of outliers, its row count, and the columns furthest from the
        reference in the outlying rows (largest mean |z| first); None without aligned rows."""
        data = matrix(window, self.columns)
        if data is None:
            return None
        z = (data - self.mean) / self.scale
        outlying = self.model.decision_function(z) < self.threshold
        furthest: list[str] = []
        if outlying.any():
            spread = np.abs(z[outlying]).mean(axis=0)
            furthest = [self.columns[i] for i in np.argsort(-spread)[:3]]
        return float(outlying.mean()), int(data.shape[0]), furthest


def judge(rate: float, rows: int, multiplier: float, alpha: float) -> tuple[bool, float]:
    """(outlying, p-value): the rate is ``multiplier`` x the expected share, and significant."""
    p_value = float(stats.binomtest(round(rate * rows), rows, OUTLIER_SHARE, alternative="greater").pvalue)
    return rate >= multiplier * OUTLIER_SHARE and p_value < alpha, p_value
