from __future__ import annotations

from typing import Any

import numpy as np
import pytest

xgb = pytest.importorskip("xgboost")

from aither.sampling import SampleLimits, sample  # noqa: E402
from aither.testing import SpanCapture  # noqa: E402

from ..expect import prediction_attributes, same_values, split  # noqa: E402

NAMES = ["amount", "age", "score", "hour"]
LIMITS = SampleLimits()


def data(rows: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((rows, 4), dtype=np.float32)


@pytest.fixture(scope="module")
def booster() -> Any:
    X = data(300)
    label = (X[:, 0] + X[:, 2] > 1).astype(int)
    params = {"objective": "binary:logistic", "max_depth": 2, "nthread": 1}
    return xgb.train(params, xgb.DMatrix(X, label=label, feature_names=NAMES), num_boost_round=4)


@pytest.fixture(scope="module")
def classifier() -> Any:
    X = data(300)
    return xgb.XGBClassifier(n_estimators=4, max_depth=2, n_jobs=1).fit(X, (X[:, 0] > 0.5).astype(int))


def numpy_meta(shape: list[int], dtype: str, truncated: bool) -> dict[str, Any]:
    return {
        "type": "numpy.ndarray",
        "shape": shape,
        "columns": None,
        "dtypes": dtype,
        "rows": shape[0],
        "truncated": truncated,
    }


def test_the_scikit_learn_estimator(aither_capture: SpanCapture, classifier: Any) -> None:
    tracked = aither_capture.client.wrap(classifier, name="fraud")
    X = data(8, seed=1)
    out = tracked.predict_proba(X)
    np.testing.assert_array_equal(out, classifier.predict_proba(X))
    np.testing.assert_array_equal(tracked.predict(X), classifier.predict(X))
    first, second = aither_capture.spans()  # predict_proba and predict; the booster inside is not traced
    attrs, features, prediction = split(first)
    assert attrs == prediction_attributes(
        "fraud",
        framework="xgboost",
        version=xgb.__version__,
        model_class="xgboost.sklearn.XGBClassifier",
        method="predict_proba",
        rows_in=8,
        rows_out=8,
    )
    assert features["_meta"] == numpy_meta([8, 4], "float32", True)
    same_values(features["sample"], X[:5])
    assert prediction == {"sample": prediction["sample"], "_meta": numpy_meta([8, 2], "float32", False)}
    same_values(prediction["sample"], out)
    assert second.attributes["ml.method"] == "predict"


def test_the_native_booster_on_a_dmatrix(aither_capture: SpanCapture, booster: Any) -> None:
    tracked = aither_capture.client.wrap(booster, name="native")
    X = data(9, seed=2)
    X[0, 1] = np.nan  # a missing value stays missing in the sample, never a zero
    matrix = xgb.DMatrix(X, feature_names=NAMES)
    out = tracked.predict(matrix)
    np.testing.assert_array_equal(out, booster.predict(matrix))
    (span,) = aither_capture.spans()
    attrs, features, prediction = split(span)
    assert attrs == prediction_attributes(
        "native",
        framework="xgboost",
        version=xgb.__version__,
        model_class="xgboost.core.Booster",
        method="predict",
        rows_in=9,
        rows_out=9,
    )
    assert features["_meta"] == {
        "type": "xgboost.DMatrix",
        "shape": [9, 4],
        "columns": NAMES,
        "dtypes": "float32",
        "rows": 9,
        "truncated": True,
    }
    sampled = features["sample"]
    assert sampled[0][1] == "NaN"
    sampled[0][1] = float("nan")
    same_values(sampled, X[:5])
    assert prediction == {"sample": prediction["sample"], "_meta": numpy_meta([9], "float32", False)}
    same_values(prediction["sample"], out)


def test_inplace_predict(aither_capture: SpanCapture, booster: Any) -> None:
    tracked = aither_capture.client.wrap(booster, name="native")
    X = data(3, seed=3)
    np.testing.assert_array_equal(tracked.inplace_predict(X), booster.inplace_predict(X))
    (span,) = aither_capture.spans()
    attrs, features, prediction = split(span)
    assert attrs["ml.method"] == "inplace_predict" and attrs["ml.input.rows"] == 3
    assert features["_meta"] == numpy_meta([3, 4], "float32", False)
    same_values(features["sample"], X)
    assert prediction is not None and prediction["_meta"] == numpy_meta([3], "float32", False)


def test_a_dmatrix_is_read_five_rows_deep(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[int] = []
    get_data = xgb.DMatrix.get_data

    def spy(self: Any) -> Any:
        read.append(self.num_row())
        return get_data(self)

    monkeypatch.setattr(xgb.DMatrix, "get_data", spy)
    big = xgb.DMatrix(data(10_000), feature_names=NAMES)
    got = sample(big, 5, 2, LIMITS)
    assert read == [5]  # only a 5-row slice was ever converted
    same_values(got.data, data(10_000)[:5, :2])
    assert got.meta == {
        "type": "xgboost.DMatrix",
        "shape": [10_000, 4],
        "columns": NAMES[:2],
        "dtypes": "float32",
        "rows": 10_000,
        "truncated": True,
    }


def test_a_quantile_dmatrix_is_described_without_values() -> None:
    quantile = xgb.QuantileDMatrix(data(50), feature_types=["q", "q", "float", "int"])
    got = sample(quantile, 5, 10, LIMITS)
    assert got.data is None
    assert got.meta == {
        "type": "xgboost.QuantileDMatrix",
        "shape": [50, 4],
        "columns": None,
        "dtypes": ["q", "q", "float", "int"],
        "rows": 50,
        "truncated": True,
    }


def test_calling_a_booster_runs_predict_as_one_span(aither_capture: SpanCapture, booster: Any) -> None:
    tracked = aither_capture.client.wrap(booster, name="native")
    matrix = xgb.DMatrix(data(4, seed=5), feature_names=NAMES)
    np.testing.assert_array_equal(tracked(matrix), booster.predict(matrix))
    (span,) = aither_capture.spans()
    assert span.attributes["ml.method"] == "predict" and span.attributes["ml.input.rows"] == 4
