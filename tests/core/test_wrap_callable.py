"""wrap() on plain callables and plain objects: the proxy without any framework.

These run in the core session (``nox -s tests_core``), which installs no numpy: a plain-callable
model needs none. The framework models' wrap tests are in ``test_wrap.py``.
"""

from __future__ import annotations

import pytest

from aither.testing import SpanCapture


def test_a_plain_callable(aither_capture: SpanCapture) -> None:
    def score(x: list[float]) -> float:
        return sum(x)

    tracked = aither_capture.client.wrap(score, name="summer")
    assert tracked([1.0, 2.0]) == 3.0
    (span,) = aither_capture.spans()
    assert span.attributes["ml.model.framework"] == "callable"
    assert span.attributes["ml.method"] == "__call__"
    assert span.attributes["ml.prediction"] == {
        "sample": 3.0,
        "_meta": {
            "type": "float",
            "shape": [],
            "columns": None,
            "dtypes": "float",
            "rows": 1,
            "truncated": False,
        },
    }


def test_an_object_with_nothing_to_trace_is_a_clear_error(aither_capture: SpanCapture) -> None:
    with pytest.raises(TypeError, match="cannot trace a builtins.int"):
        aither_capture.client.wrap(42)
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        aither_capture.client.wrap(len, name="")


def test_model_exception_passes_through_unchanged_and_is_recorded(aither_capture: SpanCapture) -> None:
    error = ValueError("bad input shape")

    class Broken:
        def predict(self, X: object) -> object:
            raise error

    tracked = aither_capture.client.wrap(Broken(), name="broken")
    with pytest.raises(ValueError) as info:
        tracked.predict([[1, 2]])
    assert info.value is error
    (span,) = aither_capture.spans()
    assert span.status == "ERROR"
    assert span.events[0]["name"] == "exception"
    assert span.events[0]["attributes"]["exception.type"] == "ValueError"
    assert span.events[0]["attributes"]["exception.message"] == "bad input shape"
    assert "ml.prediction" not in span.attributes
    assert span.attributes["ml.features"]["sample"] == [[1, 2]]


def test_trace_ids_are_bounded() -> None:
    capture = SpanCapture(flush_interval=0.05)
    try:
        tracked = capture.client.wrap(lambda x: x, name="echo")
        for i in range(1005):
            tracked(i)
        assert len(tracked.trace_ids) == 1000
        spans = capture.spans()
        assert tracked.trace_ids == [s.trace_id for s in spans[5:]]
    finally:
        capture.close()


def test_the_trace_ids_bound_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    capture = SpanCapture(trace_ids_size=3)
    monkeypatch.setenv("AITHER_TRACE_IDS_SIZE", "0")
    off = SpanCapture()
    try:
        tracked = capture.client.wrap(lambda x: x, name="echo")
        for i in range(5):
            tracked(i)
        spans = capture.spans()
        assert tracked.trace_ids == [s.trace_id for s in spans[2:]]
        untracked = off.client.wrap(lambda x: x, name="echo")
        untracked(1)
        assert untracked.trace_ids == [] and untracked.last_trace_id == off.spans()[0].trace_id
    finally:
        capture.close()
        off.close()


def test_both_call_forms_on_a_callable_and_a_models_own_methods_stay_its_own(
    aither_capture: SpanCapture,
) -> None:
    tracked = aither_capture.client.wrap(lambda x: x * 2, name="double")
    assert tracked.predict(4) == 8 and tracked(5) == 10 and hasattr(tracked, "predict")
    assert [s.attributes["ml.method"] for s in aither_capture.spans("prediction")] == ["__call__", "__call__"]

    class Both:
        def __call__(self, x: int) -> str:
            return "call"

        def predict(self, x: int) -> str:
            return "predict"

    both = aither_capture.client.wrap(Both(), name="both")
    assert both(1) == "call" and both.predict(1) == "predict"

    class NotAPrediction:
        def __call__(self, x: int) -> int:
            return x

        predict = "a setting, not a method"

    odd = aither_capture.client.wrap(NotAPrediction(), name="odd")
    assert odd.predict == "a setting, not a method"  # an attribute of the model is never replaced
    methods = [s.attributes["ml.method"] for s in aither_capture.spans("prediction")]
    assert methods == ["__call__", "__call__", "__call__", "predict"]
