from __future__ import annotations

import asyncio
import copy
import hashlib
import io
import pickle
import threading

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("sklearn")
import joblib  # noqa: E402
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import aither  # noqa: E402
from aither.testing import SpanCapture  # noqa: E402

X, Y = load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def model() -> LogisticRegression:
    return LogisticRegression(max_iter=1000).fit(X, Y)


def test_predict_makes_one_whole_span(aither_capture: SpanCapture, model: LogisticRegression) -> None:
    tracked = aither_capture.client.wrap(model, name="iris", version="1.2.3", environment="production")
    out = tracked.predict(X[:7])
    np.testing.assert_array_equal(out, model.predict(X[:7]))
    (span,) = aither_capture.spans()
    assert span.name == "predict iris"
    assert span.status == "UNSET"
    assert span.trace_id == tracked.last_trace_id
    assert span.attributes == {
        "aither.span.kind": "prediction",
        "aither.schema.version": "2",
        "ml.model.name": "iris",
        "ml.model.version": "1.2.3",
        "ml.environment": "production",
        "ml.model.framework": "sklearn",
        "ml.model.framework.version": __import__("sklearn").__version__,
        "ml.model.class": "sklearn.linear_model._logistic.LogisticRegression",
        "ml.method": "predict",
        "ml.input.rows": 7,
        "ml.output.rows": 7,
        # the model's identity, on its first prediction span: hyperparameters and fingerprint
        "ml.model.params": {**model.get_params(deep=False)},
        "ml.model.fingerprint": "sha256:" + hashlib.sha256(pickle.dumps(model, protocol=4)).hexdigest(),
        "ml.features": {
            "sample": X[:5].tolist(),
            "_meta": {
                "type": "numpy.ndarray",
                "shape": [7, 4],
                "columns": None,
                "dtypes": "float64",
                "rows": 7,
                "truncated": True,
            },
        },
        "ml.prediction": {
            "sample": out.tolist(),
            "_meta": {
                "type": "numpy.ndarray",
                "shape": [7],
                "columns": None,
                "dtypes": "int64",
                "rows": 7,
                "truncated": False,
            },
        },
        # ml.features shows 5 of the 7 rows: drift gets every row (up to 100, drawn at random)
        "ml.features.stats_sample": {
            "columns": ["f0", "f1", "f2", "f3"],
            "rows": X[:7].tolist(),
            "index": list(range(7)),
            "of": 7,
        },
        "ml.prediction.stats_sample": {"values": out.tolist(), "index": list(range(7))},
    }


def test_every_prediction_method_is_traced_and_the_rest_passes_through(
    aither_capture: SpanCapture, model: LogisticRegression
) -> None:
    tracked = aither_capture.client.wrap(model, name="iris")
    np.testing.assert_array_equal(tracked.predict_proba(X[:2]), model.predict_proba(X[:2]))
    np.testing.assert_array_equal(tracked.decision_function(X[:2]), model.decision_function(X[:2]))
    np.testing.assert_array_equal(tracked.predict_log_proba(X[:2]), model.predict_log_proba(X[:2]))
    assert tracked.score(X, Y) == model.score(X, Y)  # not a prediction: not traced
    np.testing.assert_array_equal(tracked.classes_, model.classes_)
    assert tracked.get_params() == model.get_params()
    assert isinstance(tracked, LogisticRegression)
    assert tracked.model is model and aither.unwrap(tracked) is model
    methods = [s.attributes["ml.method"] for s in aither_capture.spans("prediction")]
    assert methods == ["predict_proba", "decision_function", "predict_log_proba"]
    assert aither_capture.spans("prediction")[0].attributes["ml.prediction"]["_meta"]["shape"] == [2, 3]
    assert len(tracked.trace_ids) == 3 and tracked.trace_ids[-1] == tracked.last_trace_id


def test_wrapping_twice_is_a_no_op_and_unwrap_returns_the_original(
    aither_capture: SpanCapture, model: LogisticRegression
) -> None:
    tracked = aither_capture.client.wrap(model, name="iris")
    assert aither_capture.client.wrap(tracked, name="other") is tracked
    assert aither.unwrap(tracked) is model and aither.unwrap(model) is model


def test_pickle_joblib_copy_and_clone_keep_the_model_and_the_tracking(
    aither_default: SpanCapture, model: LogisticRegression
) -> None:
    tracked = aither.wrap(model, name="iris", version="2")
    restored = pickle.loads(pickle.dumps(tracked))
    buffer = io.BytesIO()
    joblib.dump(tracked, buffer)
    buffer.seek(0)
    from_joblib = joblib.load(buffer)
    for other in (restored, from_joblib, copy.deepcopy(tracked), copy.copy(tracked)):
        assert isinstance(other, aither.TrackedModel) and isinstance(other, LogisticRegression)
        np.testing.assert_array_equal(other.predict(X[:3]), model.predict(X[:3]))
    fresh = clone(tracked)
    assert isinstance(fresh, aither.TrackedModel) and not hasattr(aither.unwrap(fresh), "coef_")
    fresh.fit(X, Y)
    fresh.predict(X[:1])
    spans = aither_default.spans("prediction")
    assert len(spans) == 5
    assert {(s.attributes["ml.model.name"], s.attributes["ml.model.version"]) for s in spans} == {
        ("iris", "2")
    }


def test_inside_a_pipeline(aither_capture: SpanCapture) -> None:
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("clf", aither_capture.client.wrap(LogisticRegression(max_iter=500), name="clf")),
        ]
    )
    pipe.fit(X, Y)
    plain = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))]).fit(X, Y)
    np.testing.assert_array_equal(pipe.predict(X[:4]), plain.predict(X[:4]))
    (span,) = aither_capture.spans("prediction")
    assert span.attributes["ml.model.name"] == "clf" and span.attributes["ml.input.rows"] == 4
    # the pipeline scaled the input before the wrapped model saw it
    assert span.attributes["ml.features"]["sample"][0] != X[0].tolist()


def test_a_wrapped_pipeline_is_one_model(aither_capture: SpanCapture) -> None:
    pipe = aither_capture.client.wrap(
        Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))]).fit(X, Y),
        name="pipe",
    )
    pipe.predict(X[:2])
    (span,) = aither_capture.spans("prediction")
    assert span.attributes["ml.model.class"] == "sklearn.pipeline.Pipeline"


def test_the_input_sample_is_what_the_model_was_given(aither_capture: SpanCapture) -> None:
    def standardise_in_place(x: np.ndarray) -> float:
        x -= x.mean()
        return float(x.sum())

    given = np.array([[1.0, 2.0], [3.0, 4.0]])
    tracked = aither_capture.client.wrap(standardise_in_place, name="scaler")
    tracked(given)
    assert given.tolist() == [[-1.5, -0.5], [0.5, 1.5]]  # the model changed its input
    (span,) = aither_capture.spans()
    assert span.attributes["ml.features"]["sample"] == [[1.0, 2.0], [3.0, 4.0]]


def test_features_fn_replaces_the_sample_and_its_failure_is_counted(model: LogisticRegression) -> None:
    calls: list[BaseException] = []
    capture = SpanCapture(raise_internal_errors=False, on_error=calls.append)
    try:
        tracked = capture.client.wrap(
            model, name="iris", features_fn=lambda x: {"petal_sum": float(x[:, 2:].sum())}
        )
        tracked.predict(X[:2])
        failing = capture.client.wrap(model, name="iris2", features_fn=lambda x: 1 / 0)
        out = failing.predict(X[:2])
        np.testing.assert_array_equal(out, model.predict(X[:2]))
        first, second = capture.spans("prediction")
        assert first.attributes["ml.features"]["sample"] == {"petal_sum": float(X[:2, 2:].sum())}
        assert second.attributes["ml.features"]["sample"] == X[:2].tolist()  # fell back to the input
        assert capture.client.stats().internal_errors == 1
        assert [type(e) for e in calls] == [ZeroDivisionError]
    finally:
        capture.close()


def test_last_trace_id_belongs_to_each_thread(aither_capture: SpanCapture, model: LogisticRegression) -> None:
    tracked = aither_capture.client.wrap(model, name="iris")
    seen: dict[int, str | None] = {}
    barrier = threading.Barrier(4)

    def work(i: int) -> None:
        barrier.wait()
        tracked.predict(X[i : i + 1])
        seen[i] = tracked.last_trace_id

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tracked.last_trace_id is None  # this thread made no prediction
    spans = aither_capture.spans("prediction")
    assert sorted(seen.values()) == sorted(s.trace_id for s in spans)
    assert len(set(seen.values())) == 4


def test_last_trace_id_belongs_to_each_asyncio_task(
    aither_capture: SpanCapture, model: LogisticRegression
) -> None:
    tracked = aither_capture.client.wrap(model, name="iris")

    async def one(i: int) -> tuple[str | None, str | None]:
        await asyncio.sleep(0)
        tracked.predict(X[i : i + 1])
        await asyncio.sleep(0)  # let the other tasks predict in between
        return tracked.last_trace_id, aither.last_trace_id()

    async def main() -> list[tuple[str | None, str | None]]:
        return await asyncio.gather(*(one(i) for i in range(5)))

    results = asyncio.run(main())
    assert all(a == b for a, b in results)
    assert len({a for a, _ in results}) == 5


def test_spans_nest_under_the_callers_active_span_without_touching_the_global_provider(
    aither_capture: SpanCapture, model: LogisticRegression
) -> None:
    before = trace.get_tracer_provider()
    app_tracer = TracerProvider().get_tracer("app")
    tracked = aither_capture.client.wrap(model, name="iris")
    with app_tracer.start_as_current_span("POST /score") as request_span:
        tracked.predict(X[:1])
    (span,) = aither_capture.spans()
    ctx = request_span.get_span_context()
    assert span.trace_id == f"{ctx.trace_id:032x}"
    assert span.parent_span_id == f"{ctx.span_id:016x}"
    assert trace.get_tracer_provider() is before


def test_a_users_tracer_provider_makes_the_spans(model: LogisticRegression) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = aither.Client(tracer_provider=provider)
    tracked = client.wrap(model, name="iris")
    tracked.predict(X[:2])
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["ml.model.name"] == "iris"
    assert span.attributes["ml.input.rows"] == 2
    assert '"rows":2' in str(span.attributes["ml.features"])  # encoded at once: no aither exporter here
    client.log_label(f"{span.context.trace_id:032x}", [0, 0])
    assert exporter.get_finished_spans()[1].context.trace_id == span.context.trace_id


@pytest.mark.parametrize("library", ["xgboost", "lightgbm", "catboost"])
def test_scikit_learn_api_of_gradient_boosting(aither_capture: SpanCapture, library: str) -> None:
    lib = pytest.importorskip(library)
    if library == "xgboost":
        est = lib.XGBClassifier(n_estimators=3, max_depth=2)
    elif library == "lightgbm":
        est = lib.LGBMClassifier(n_estimators=3, verbose=-1)
    else:
        est = lib.CatBoostClassifier(iterations=3, verbose=False, allow_writing_files=False)
    est.fit(X, Y)
    tracked = aither_capture.client.wrap(est, name=library)
    np.testing.assert_array_equal(tracked.predict_proba(X[:3]), est.predict_proba(X[:3]))
    (span,) = aither_capture.spans()
    assert span.attributes["ml.model.framework"] == library
    assert span.attributes["ml.model.framework.version"] == lib.__version__
    assert span.attributes["ml.prediction"]["_meta"]["shape"] == [3, 3]


def test_both_call_forms_on_an_estimator_make_one_span_each(
    aither_capture: SpanCapture, model: LogisticRegression
) -> None:
    tracked = aither_capture.client.wrap(model, name="iris")
    assert callable(tracked) and not callable(model)
    np.testing.assert_array_equal(tracked(X[:3]), model.predict(X[:3]))  # the README's "Also works"
    np.testing.assert_array_equal(tracked.predict(X[:3]), model.predict(X[:3]))
    first, second = aither_capture.spans("prediction")
    assert first.attributes["ml.method"] == second.attributes["ml.method"] == "predict"
    assert first.attributes["ml.features"] == second.attributes["ml.features"]


def test_the_models_identity_is_on_its_first_span_and_on_a_copys(aither_default: SpanCapture) -> None:
    model = LogisticRegression(C=0.5, max_iter=300).fit(X, Y)
    tracked = aither.wrap(model, name="iris")
    tracked.predict(X[:1])
    tracked.predict(X[:1])
    restored = pickle.loads(pickle.dumps(tracked))
    restored.predict(X[:1])
    assert aither_default.client.flush(10)
    model.set_params(C=2.0).fit(X, Y)  # re-fitted: a new fingerprint, under the same name
    aither.wrap(model, name="iris").predict(X[:1])
    first, second, after_unpickling, refit = aither_default.spans("prediction")
    assert "ml.model.params" not in second.attributes and "ml.model.fingerprint" not in second.attributes
    assert first.attributes["ml.model.params"]["C"] == 0.5 and refit.attributes["ml.model.params"]["C"] == 2.0
    assert first.attributes["ml.model.fingerprint"] == after_unpickling.attributes["ml.model.fingerprint"]
    assert first.attributes["ml.model.fingerprint"] != refit.attributes["ml.model.fingerprint"]


def test_params_are_json_scalars_and_an_unpicklable_model_has_no_fingerprint(
    aither_capture: SpanCapture,
) -> None:
    class Odd:
        def get_params(self, deep: bool = True) -> dict[str, object]:
            return {"n": 3, "inf": float("inf"), "scorer": len, "long": "x" * 500, "arr": np.arange(3)}

        def predict(self, x: object) -> int:
            return 1

    Odd.__qualname__ = "Odd"  # a local class cannot be pickled by reference anyway
    aither_capture.client.wrap(Odd(), name="odd").predict(1)
    (span,) = aither_capture.spans()
    assert span.attributes["ml.model.params"] == {
        "arr": "array([0, 1, 2])",
        "inf": "inf",
        "long": "x" * 200,
        "n": 3,
        "scorer": "<built-in function len>",
    }
    assert "ml.model.fingerprint" not in span.attributes
    aither_capture.client.wrap(lambda x: x, name="fn")(1)
    assert {"ml.model.params", "ml.model.fingerprint"}.isdisjoint(aither_capture.spans()[-1].attributes)
