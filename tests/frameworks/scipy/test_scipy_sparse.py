from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from aither.sampling import SampleLimits, sample
from aither.testing import SpanCapture

from ..expect import encoded, prediction_attributes, same_values, split

LIMITS = SampleLimits()


def matrix(rows: int, fmt: str = "csr") -> Any:
    return sp.random(rows, 30, density=0.2, format=fmt, dtype=np.float64, random_state=0)


def test_a_model_on_a_sparse_matrix(aither_capture: SpanCapture) -> None:
    X = matrix(200)
    model = LogisticRegression(max_iter=200).fit(X, (X[:, 0].toarray().ravel() > 0).astype(int))
    tracked = aither_capture.client.wrap(model, name="text")
    out = tracked.predict_proba(X[:40])
    np.testing.assert_array_equal(out, model.predict_proba(X[:40]))
    (span,) = aither_capture.spans()
    attrs, features, _ = split(span)
    assert attrs == prediction_attributes(
        "text",
        framework="sklearn",
        version=__import__("sklearn").__version__,
        model_class="sklearn.linear_model._logistic.LogisticRegression",
        method="predict_proba",
        rows_in=40,
        rows_out=40,
    )
    assert features["_meta"] == {
        "type": "scipy.sparse.csr_matrix",
        "shape": [40, 30],
        "columns": None,
        "dtypes": "float64",
        "rows": 40,
        "truncated": True,
        "nnz": X[:40].nnz,
    }
    same_values(features["sample"], X[:5, :10].toarray())


@pytest.mark.parametrize("fmt", ["csr", "csc", "lil", "dok"])
def test_sliceable_formats_densify_only_the_slice(fmt: str) -> None:
    X = matrix(10_000, fmt)
    got = sample(X, 5, 10, LIMITS)
    assert got.data.shape == (5, 10)
    same_values(got.data, X.tocsr()[:5, :10].toarray())
    meta = encoded(got)["_meta"]
    assert meta["type"] == f"scipy.sparse.{fmt}_matrix"
    assert meta["shape"] == [10_000, 30] and meta["rows"] == 10_000 and meta["truncated"] is True
    assert meta["nnz"] == (None if fmt == "lil" else X.nnz)


@pytest.mark.parametrize("fmt", ["coo", "bsr", "dia"])
def test_other_formats_are_described_without_values(fmt: str) -> None:
    X = sp.eye(50, format=fmt)
    got = sample(X, 5, 10, LIMITS)
    assert got.data is None
    meta = encoded(got)["_meta"]
    assert meta["type"] == f"scipy.sparse.{fmt}_matrix" and meta["shape"] == [50, 50]
    assert meta["truncated"] is True and meta["dtypes"] == "float64"


def test_sparse_arrays_and_small_matrices() -> None:
    small = sp.csr_array(np.eye(3))
    got = sample(small, 5, 10, LIMITS)
    assert encoded(got) == {
        "sample": np.eye(3).tolist(),
        "_meta": {
            "type": "scipy.sparse.csr_array",
            "shape": [3, 3],
            "columns": None,
            "dtypes": "float64",
            "rows": 3,
            "truncated": False,
            "nnz": 3,
        },
    }
