from __future__ import annotations

from typing import Any

import numpy as np
import pytest

lgb = pytest.importorskip("lightgbm")
pd = pytest.importorskip("pandas")

from aither.sampling import SampleLimits, sample  # noqa: E402
from aither.testing import SpanCapture  # noqa: E402

from ..expect import array_meta, encoded, prediction_attributes, same_values, split  # noqa: E402

LIMITS = SampleLimits()


def frame(rows: int, seed: int = 0) -> Any:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"amount": rng.random(rows), "age": rng.integers(18, 90, rows), "score": rng.random(rows)}
    )


@pytest.fixture(scope="module")
def classifier() -> Any:
    X = frame(300)
    return lgb.LGBMClassifier(n_estimators=4, num_leaves=4, n_jobs=1, verbose=-1).fit(
        X, (X["amount"] > 0.5).astype(int)
    )


@pytest.fixture(scope="module")
def booster() -> Any:
    X = frame(300).to_numpy()
    params = {"objective": "regression", "num_leaves": 4, "verbose": -1, "num_threads": 1}
    return lgb.train(params, lgb.Dataset(X, label=X[:, 0] * 2), num_boost_round=4)


def test_the_scikit_learn_estimator_on_a_dataframe(aither_capture: SpanCapture, classifier: Any) -> None:
    tracked = aither_capture.client.wrap(classifier, name="churn")
    X = frame(6, seed=1)
    out = tracked.predict_proba(X)
    np.testing.assert_array_equal(out, classifier.predict_proba(X))
    (span,) = aither_capture.spans()  # LGBMClassifier calls its own booster: one span
    attrs, features, prediction = split(span)
    assert attrs == prediction_attributes(
        "churn",
        framework="lightgbm",
        version=lgb.__version__,
        model_class="lightgbm.sklearn.LGBMClassifier",
        method="predict_proba",
        rows_in=6,
        rows_out=6,
    )
    assert features["_meta"] == {
        "type": "pandas.DataFrame",
        "shape": [6, 3],
        "columns": ["amount", "age", "score"],
        "dtypes": {"amount": "float64", "age": "int64", "score": "float64"},
        "rows": 6,
        "truncated": True,
    }
    assert features["sample"] == X.iloc[:5].to_dict(orient="records")  # records, schema v2
    assert prediction is not None and prediction["_meta"]["shape"] == [6, 2]
    same_values(prediction["sample"], out)


def test_the_native_booster(aither_capture: SpanCapture, booster: Any) -> None:
    tracked = aither_capture.client.wrap(booster, name="native")
    X = frame(4, seed=2).to_numpy()
    out = tracked.predict(X)
    np.testing.assert_array_equal(out, booster.predict(X))
    (span,) = aither_capture.spans()
    attrs, features, prediction = split(span)
    assert attrs == prediction_attributes(
        "native",
        framework="lightgbm",
        version=lgb.__version__,
        model_class="lightgbm.basic.Booster",
        method="predict",
        rows_in=4,
        rows_out=4,
    )
    assert features["_meta"] == array_meta([4, 3], "float64", truncated=False)
    same_values(features["sample"], X)
    assert prediction is not None and prediction["_meta"] == array_meta([4], "float64", truncated=False)
    same_values(prediction["sample"], out)


def test_a_dataset_is_sampled_from_its_raw_data_or_described() -> None:
    X = frame(20).to_numpy()
    raw = lgb.Dataset(X, feature_name=["amount", "age", "score"])
    got = sample(raw, 5, 10, LIMITS)
    same_values(got.data, X[:5])
    assert encoded(got)["_meta"] == {
        "type": "lightgbm.Dataset",
        "shape": [20, 3],
        "columns": ["amount", "age", "score"],
        "dtypes": "float64",
        "rows": 20,
        "truncated": True,
    }
    built = lgb.Dataset(X, label=X[:, 0], params={"verbose": -1}, free_raw_data=True).construct()
    got = sample(built, 5, 10, LIMITS)
    assert got.data is None
    assert encoded(got)["_meta"] == {
        "type": "lightgbm.Dataset",
        "shape": [20, 3],
        "columns": ["Column_0", "Column_1", "Column_2"],
        "dtypes": None,
        "rows": 20,
        "truncated": True,
    }
