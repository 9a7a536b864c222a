from __future__ import annotations

from typing import Any

import numpy as np
import pytest

cb = pytest.importorskip("catboost")

from aither.sampling import SampleLimits, sample  # noqa: E402
from aither.testing import SpanCapture  # noqa: E402

from ..expect import array_meta, prediction_attributes, same_values, split  # noqa: E402

NAMES = ["amount", "age", "score", "hour"]
LIMITS = SampleLimits()
QUIET = {"verbose": False, "allow_writing_files": False, "thread_count": 1, "iterations": 4, "depth": 2}


def data(rows: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((rows, 4), dtype=np.float32)


@pytest.fixture(scope="module")
def classifier() -> Any:
    X = data(200)
    return cb.CatBoostClassifier(**QUIET).fit(X, (X[:, 0] > 0.5).astype(int))


@pytest.fixture(scope="module")
def native() -> Any:
    X = data(200)
    return cb.CatBoost({"loss_function": "RMSE", **QUIET}).fit(cb.Pool(X, label=X[:, 1], feature_names=NAMES))


def test_the_scikit_learn_style_estimator(aither_capture: SpanCapture, classifier: Any) -> None:
    tracked = aither_capture.client.wrap(classifier, name="risk")
    X = data(6, seed=1)
    out = tracked.predict_proba(X)
    np.testing.assert_array_equal(out, classifier.predict_proba(X))
    (span,) = aither_capture.spans()
    attrs, features, prediction = split(span)
    assert attrs == prediction_attributes(
        "risk",
        framework="catboost",
        version=cb.__version__,
        model_class="catboost.core.CatBoostClassifier",
        method="predict_proba",
        rows_in=6,
        rows_out=6,
    )
    assert features["_meta"] == array_meta([6, 4], "float32", truncated=True)
    same_values(features["sample"], X[:5])
    assert prediction is not None and prediction["_meta"] == array_meta([6, 2], "float64", truncated=False)
    same_values(prediction["sample"], out)


def test_the_native_model_on_a_pool(aither_capture: SpanCapture, native: Any) -> None:
    tracked = aither_capture.client.wrap(native, name="native")
    X = data(7, seed=2)
    pool = cb.Pool(X, feature_names=NAMES)
    out = tracked.predict(pool)
    np.testing.assert_array_equal(out, native.predict(pool))
    (span,) = aither_capture.spans()
    attrs, features, prediction = split(span)
    assert attrs == prediction_attributes(
        "native",
        framework="catboost",
        version=cb.__version__,
        model_class="catboost.core.CatBoost",
        method="predict",
        rows_in=7,
        rows_out=7,
    )
    assert features["_meta"] == {
        "type": "catboost.Pool",
        "shape": [7, 4],
        "columns": NAMES,
        "dtypes": ["float32"] * 4,
        "rows": 7,
        "truncated": True,
    }
    same_values(features["sample"], X[:5])
    assert prediction is not None and prediction["_meta"] == array_meta([7], "float64", truncated=False)
    same_values(prediction["sample"], out)


def test_a_pool_is_read_five_rows_deep(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[int] = []
    get_features = cb.Pool.get_features

    def spy(self: Any) -> Any:
        read.append(self.num_row())
        return get_features(self)

    monkeypatch.setattr(cb.Pool, "get_features", spy)
    got = sample(cb.Pool(data(10_000)), 5, 3, LIMITS)
    assert read == [5]
    same_values(got.data, data(10_000)[:5, :3])
    assert got.meta == {
        "type": "catboost.Pool",
        "shape": [10_000, 4],
        "columns": None,
        "dtypes": ["float32"] * 3,
        "rows": 10_000,
        "truncated": True,
    }


def test_a_pool_with_categorical_features_is_described_without_values() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"amount": [1.0, 2.0, 3.0], "country": ["fr", "de", "fr"]})
    got = sample(cb.Pool(frame, cat_features=["country"]), 5, 10, LIMITS)
    assert got.data is None
    assert got.meta == {
        "type": "catboost.Pool",
        "shape": [3, 2],
        "columns": ["amount", "country"],
        "dtypes": ["float32", "categorical"],
        "rows": 3,
        "truncated": True,
    }
