from __future__ import annotations

import pytest

import aither
from aither.testing import SpanCapture


def test_label_joins_its_prediction_in_the_same_trace(aither_capture: SpanCapture) -> None:
    client = aither_capture.client
    trace_id = client.log_prediction(
        "my_pipeline",
        {"amount": 150.0},
        0.87,
        version="1.2.3",
        environment="production",
        metadata={"team": "risk"},
    )
    assert trace_id is not None
    client.log_label(trace_id=trace_id, label=1)
    prediction, label = aither_capture.spans()
    assert prediction.trace_id == label.trace_id == trace_id
    assert prediction.attributes["aither.metadata.team"] == "risk"
    assert prediction.attributes["ml.environment"] == "production"
    assert label.name == "label my_pipeline"
    assert label.parent_span_id == prediction.span_id
    assert label.attributes == {
        "aither.span.kind": "label",
        "aither.schema.version": "2",
        "ml.model.name": "my_pipeline",
        "ml.label": 1,
        "ml.label.batch": False,
        "aither.label.span_id": prediction.span_id,
    }


def test_batch_labels_by_sequence_and_by_row_index(aither_capture: SpanCapture) -> None:
    client = aither_capture.client
    tracked = client.wrap(lambda rows: [r * 2 for r in rows], name="doubler")
    tracked([1, 2, 3])
    trace_id = tracked.last_trace_id
    assert trace_id is not None
    client.log_label(trace_id, [2, 4, 7])
    client.log_label(trace_id, {2: 6, 0: 2})
    with pytest.raises(ValueError, match="the label has 2 values but the prediction had 3 rows"):
        client.log_label(trace_id, [1, 2])
    with pytest.raises(ValueError, match="row index 5 is out of range"):
        client.log_label(trace_id, {5: 1})
    _, aligned, partial = aither_capture.spans()
    assert aligned.attributes["ml.label"] == [2, 4, 7] and aligned.attributes["ml.label.batch"] is True
    assert "ml.label.row_indices" not in aligned.attributes
    assert partial.attributes["ml.label"] == [2, 6] and partial.attributes["ml.label.row_indices"] == [0, 2]


def test_two_predictions_in_one_trace_need_the_model_named(aither_capture: SpanCapture) -> None:
    client = aither_capture.client
    fraud = client.wrap(lambda x: 0, name="fraud")
    churn = client.wrap(lambda x: 1, name="churn")

    @client.track("handle_request")
    def handle(x: int) -> tuple[int, int]:
        return fraud(x), churn(x)

    handle(5)
    trace_id = client.last_trace_id()
    assert trace_id is not None and trace_id == fraud.last_trace_id == churn.last_trace_id
    with pytest.raises(aither.AmbiguousLabel, match=r"pass model_name="):
        client.log_label(trace_id, 1)
    with pytest.raises(aither.AmbiguousLabel, match="none of model 'nope'"):
        client.log_label(trace_id, 1, model_name="nope")
    client.log_label(trace_id, 1, model_name="churn")
    spans = aither_capture.spans()
    (label,) = [s for s in spans if s.kind == "label"]
    churn_span = next(
        s for s in spans if s.attributes.get("ml.model.name") == "churn" and s.kind == "prediction"
    )
    assert label.attributes["aither.label.span_id"] == churn_span.span_id
    assert label.trace_id == trace_id


def test_a_label_for_a_prediction_made_elsewhere_starts_in_that_trace(aither_capture: SpanCapture) -> None:
    foreign = "4bf92f3577b34da6a3ce929d0e0e4736"
    aither_capture.client.log_label(foreign.upper(), "fraud", model_name="fraud")
    (label,) = aither_capture.spans()
    assert label.trace_id == foreign and label.parent_span_id is None
    assert label.attributes["ml.model.name"] == "fraud" and "aither.label.span_id" not in label.attributes
    assert aither.last_trace_id() == foreign


@pytest.mark.parametrize("bad", ["xyz", "0" * 32, "4bf92f3577b34da6a3ce929d0e0e47", 12345, None])
def test_malformed_trace_ids_are_clear_errors(aither_capture: SpanCapture, bad: object) -> None:
    with pytest.raises(aither.InvalidTraceId):
        aither_capture.client.log_label(bad, 1)  # type: ignore[arg-type]
    assert aither_capture.spans() == []


def test_numpy_and_pandas_labels() -> None:
    np = pytest.importorskip("numpy")
    capture = SpanCapture()
    try:
        tracked = capture.client.wrap(lambda x: x, name="echo")
        tracked(np.zeros((3, 2)))
        capture.client.log_label(tracked.last_trace_id, np.array([1, 0, 1]))  # type: ignore[arg-type]
        (_, label) = capture.spans()
        assert label.attributes["ml.label"] == [1, 0, 1]
    finally:
        capture.close()
