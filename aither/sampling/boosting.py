"""Gradient boosting inputs: ``xgboost.DMatrix``, ``lightgbm.Dataset`` and ``catboost.Pool``.

These hold their data inside the library, so they are described from their own counters
(``num_row()``, ``num_col()``, feature names and types) and only their first rows are read:
``DMatrix.slice`` and ``Pool.slice`` copy just the rows asked for. A ``QuantileDMatrix``
(which cannot be sliced) and a ``Pool`` with categorical or text features (whose values
catboost does not give back) are described without values. A ``lightgbm.Dataset`` is
sampled from the raw data it keeps until it is constructed.

Outputs of these libraries are numpy arrays, sampled by :mod:`aither.sampling.numpy`.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .limits import SampleLimits
from .model import Sample, meta


def _names(names: Any, columns: int) -> list[str] | None:
    if not names:
        return None
    shown = [str(n) for n in list(names)[:columns]]
    return shown if any(shown) else None


def _dense(csr: Any, shape: tuple[int, int]) -> np.ndarray:
    """A CSR matrix as a dense array where absent entries are missing values (NaN), as
    xgboost reads them, never zeros."""
    dense: np.ndarray = np.full(shape, np.nan, dtype=np.float32)
    counts = np.diff(csr.indptr)
    dense[np.repeat(np.arange(shape[0]), counts), csr.indices] = csr.data
    return dense


def _sample_dmatrix(xgb: Any, value: Any, rows: int, columns: int) -> Sample:
    n_rows, n_cols = int(value.num_row()), int(value.num_col())
    types = value.feature_types
    dtypes: Any = list(types[:columns]) if types else "float32"
    truncated = n_rows > rows or n_cols > columns
    data: Any = None
    head = min(rows, n_rows)
    # A QuantileDMatrix keeps histogram bins, not values, and cannot be sliced.
    if not isinstance(value, xgb.QuantileDMatrix):
        try:
            # DMatrix.slice copies the rows asked for; get_data() of the whole matrix would copy all.
            part = value.slice(np.arange(head, dtype=np.int32))
            data = _dense(part.get_data(), (head, n_cols))[:, :columns]
        except xgb.core.XGBoostError:  # external-memory matrices cannot be sliced either
            data = None
    truncated = truncated or data is None
    described = meta(
        f"xgboost.{type(value).__name__}",
        [n_rows, n_cols],
        _names(value.feature_names, columns),
        dtypes,
        n_rows,
        truncated,
    )
    return Sample(data, described, 128 + 12 * head * min(n_cols, columns))


def _sample_pool(cb: Any, value: Any, rows: int, columns: int) -> Sample:
    n_rows, n_cols = int(value.num_row()), int(value.num_col())
    categorical = set(value.get_cat_feature_indices())
    text = set(value.get_text_feature_indices()) if hasattr(value, "get_text_feature_indices") else set()
    dtypes = [
        "categorical" if i in categorical else "text" if i in text else "float32"
        for i in range(min(n_cols, columns))
    ]
    truncated = n_rows > rows or n_cols > columns
    data: Any = None
    head = min(rows, n_rows)
    if not categorical and not text and n_rows:
        try:
            part = value.slice(list(range(head)))  # a Pool of those rows only
            data = np.asarray(part.get_features(), dtype=np.float32)[:, :columns]
        except cb.CatBoostError:  # a quantized pool has no raw values left
            data = None
    truncated = truncated or data is None
    described = meta(
        "catboost.Pool",
        [n_rows, n_cols],
        _names(value.get_feature_names(), columns),
        dtypes,
        n_rows,
        truncated,
    )
    return Sample(data, described, 128 + 12 * head * min(n_cols, columns))


def _sample_dataset(value: Any, rows: int, columns: int, limits: SampleLimits) -> Sample:
    raw = value.data
    names = value.feature_name if isinstance(value.feature_name, list) else None
    if raw is not None and not isinstance(raw, (str, bytes)) and not hasattr(raw, "__fspath__"):
        from . import sample

        inner = sample(raw, rows, columns, limits)
        described = dict(inner.meta)
        described["type"] = "lightgbm.Dataset"
        if names and not described.get("columns"):
            described["columns"] = names[:columns]
        return Sample(inner.data, described, inner.approx_bytes)
    # Raw data freed after construction, or a file path: what the constructed Dataset knows.
    constructed = getattr(value, "_handle", getattr(value, "handle", None)) is not None
    n_rows = int(value.num_data()) if constructed else None
    n_cols = int(value.num_feature()) if constructed else None
    described = meta(
        "lightgbm.Dataset",
        [n_rows, n_cols] if constructed else None,
        _names(names, columns),
        None,
        n_rows,
        True,
    )
    return Sample(None, described, 128)


def sample_boosting(value: Any, rows: int, columns: int, limits: SampleLimits) -> Sample | None:
    """Sample a DMatrix, a lightgbm Dataset or a catboost Pool; None for anything else."""
    xgb = sys.modules.get("xgboost")
    if xgb is not None and isinstance(value, xgb.DMatrix):
        return _sample_dmatrix(xgb, value, rows, columns)
    lgb = sys.modules.get("lightgbm")
    if lgb is not None and isinstance(value, lgb.Dataset):
        return _sample_dataset(value, rows, columns, limits)
    cb = sys.modules.get("catboost")
    if cb is not None and isinstance(value, cb.Pool):
        return _sample_pool(cb, value, rows, columns)
    return None
