"""decode_export_request: OTLP requests into rows, without HTTP."""

from __future__ import annotations

import json

from otlp_builder import Spans, envelope, ids, new_span_id, new_trace_id, request

from aither.schema import semconv as sc
from aither.server.ingest.decode import decode_export_request


def test_any_span_is_stored_with_its_attributes_events_and_resource() -> None:
    spans = Spans()
    plain = spans.span(
        "GET /users", {"http.method": "GET", "http.status_code": 200, "ratio": 0.5, "tags": ["a", "b"]}
    )
    plain.events.add(name="cache miss", time_unix_nano=spans.now_ns)
    batch = decode_export_request(request([plain], service="web"))
    assert batch.rejected == 0
    assert batch.predictions == batch.labels == batch.llm_calls == batch.operations == []
    (record,) = batch.spans
    trace_id, span_id = ids(plain)
    assert (record.trace_id, record.span_id, record.name) == (trace_id, span_id, "GET /users")
    assert record.aither_kind is None
    assert record.service_name == "web"
    assert record.scope_name == "tests"
    assert json.loads(record.attributes) == {
        "http.method": "GET",
        "http.status_code": 200,
        "ratio": 0.5,
        "tags": ["a", "b"],
    }
    assert json.loads(record.events or "") == [
        {"name": "cache miss", "time_ns": spans.now_ns, "attributes": {}}
    ]
    assert json.loads(record.resource or "") == {"service.name": "web"}
    assert record.end_time_ns - record.start_time_ns == 2_000_000


def test_prediction_span_becomes_a_prediction_row() -> None:
    spans = Spans()
    span = spans.prediction("fraud", [0, 1, 1], version="1.2.3", features=[[1.5, 2.0]])
    (prediction,) = decode_export_request(request([span])).predictions
    trace_id, span_id = ids(span)
    assert prediction.trace_id == trace_id
    assert prediction.span_id == span_id
    assert (prediction.model_name, prediction.model_version, prediction.environment) == (
        "fraud",
        "1.2.3",
        "test",
    )
    assert (prediction.framework, prediction.model_class, prediction.method) == (
        "sklearn",
        "sklearn.linear_model.LogisticRegression",
        "predict",
    )
    assert (prediction.input_rows, prediction.output_rows) == (3, 3)
    assert prediction.task == "classification"
    assert prediction.sample == [0, 1, 1]
    assert json.loads(prediction.prediction or "")["sample"] == [0, 1, 1]
    assert json.loads(prediction.features or "")["sample"] == [[1.5, 2.0]]
    assert prediction.latency_ms == 2.0
    assert (prediction.is_error, prediction.error_message) == (False, None)
    # the payloads live in the predictions table, not twice
    stored = json.loads(decode_export_request(request([span])).spans[0].attributes)
    assert sc.ML_PREDICTION not in stored
    assert sc.ML_FEATURES not in stored
    assert stored[sc.ML_MODEL_NAME] == "fraud"


def test_prediction_task_follows_the_output_values() -> None:
    spans = Spans()
    cases = {
        "ints": ([0, 2, 1], "predict", "classification"),
        "strings": (["cat", "dog"], "predict", "classification"),
        "floats": ([0.5, 1.25], "predict", "regression"),
        "proba": ([[0.1, 0.9], [0.8, 0.2]], "predict_proba", "classification"),
        "column": ([[1.5], [2.5]], "predict", "regression"),
        "multi-output": ([[1.5, 2.0], [2.5, 3.0]], "predict", None),
        "scalar": (0.87, "log_prediction", "regression"),
    }
    for name, (sample, method, task) in cases.items():
        (prediction,) = decode_export_request(
            request([spans.prediction(name, sample, method=method)])
        ).predictions
        assert prediction.task == task, name


def test_failed_prediction_keeps_the_error_and_has_no_output() -> None:
    span = Spans().prediction("fraud", None, rows=4, error="model exploded")
    (prediction,) = decode_export_request(request([span])).predictions
    assert prediction.is_error is True
    assert prediction.error_message == "ValueError: model exploded"
    assert (prediction.prediction, prediction.output_rows, prediction.task) == (None, None, None)


def test_prediction_from_plain_opentelemetry_attributes_is_read() -> None:
    """A non-aither producer may set ml.prediction to a bare value and omit the rows."""
    span = Spans().prediction("bare", None, raw_prediction="[1, 0, 1, 1]")
    (prediction,) = decode_export_request(request([span])).predictions
    assert prediction.sample == [1, 0, 1, 1]
    assert prediction.output_rows == 4


def test_prediction_without_model_name_is_filed_under_unknown_with_a_warning() -> None:
    span = Spans().span("predict", {sc.AITHER_SPAN_KIND: "prediction", sc.ML_PREDICTION: envelope([1], 1)})
    batch = decode_export_request(request([span]))
    assert batch.predictions[0].model_name == "unknown"
    assert len(batch.warnings) == 1
    assert sc.ML_MODEL_NAME in batch.warnings[0]


def test_labels_single_batch_and_row_indices() -> None:
    spans = Spans()
    trace_id, target = new_trace_id(), new_span_id()
    single = spans.label(trace_id, 1, model="fraud", target=target)
    batch = spans.label(trace_id, [0, 1, 0])
    some = spans.label(trace_id, ["a", "b"], row_indices=[5, 2])
    decoded = decode_export_request(request([single, batch, some])).labels
    assert [(x.values, x.indices, x.is_batch, x.error) for x in decoded] == [
        ([1], None, False, None),
        ([0, 1, 0], None, True, None),
        (["a", "b"], [5, 2], True, None),
    ]
    assert (decoded[0].model_name, decoded[0].target_span_id) == ("fraud", target)
    assert decoded[2].row_indices == "[5, 2]"


def test_malformed_labels_are_kept_with_the_reason() -> None:
    spans = Spans()
    trace_id = new_trace_id()
    cases = [
        (spans.label(trace_id, 3, batch=True), "is not a JSON list"),
        (spans.label(trace_id, [1, 2], row_indices=[0]), "has 1 entries for 2 labels"),
        (spans.label(trace_id, [1, 2], row_indices=[1, 1]), "repeats a row"),
        (spans.label(trace_id, [1], row_indices=[-1]), "non-negative integers"),
        (spans.label(trace_id, 1, target="not-a-span-id"), "16-digit hex"),
        (spans.span("label", {sc.AITHER_SPAN_KIND: "label"}, trace_id=trace_id), "without ml.label"),
    ]
    batch = decode_export_request(request([span for span, _ in cases]))
    assert len(batch.labels) == len(cases)
    for label, (_, reason) in zip(batch.labels, cases, strict=True):
        assert label.error is not None
        assert reason in label.error
    assert len(batch.warnings) == len(cases)


def test_llm_spans_from_aither_and_from_other_instrumentations() -> None:
    spans = Spans()
    ours = spans.span(
        "chat gpt-4o",
        {
            sc.AITHER_SPAN_KIND: "llm",
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
            sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06",
            sc.GEN_AI_USAGE_INPUT_TOKENS: 12,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 30,
            sc.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
            sc.AITHER_COST_USD: 0.0012,
        },
    )
    openllmetry = spans.span(
        "anthropic.chat",
        {
            "gen_ai.system": "anthropic",
            sc.GEN_AI_REQUEST_MODEL: "claude-sonnet",
            "gen_ai.usage.prompt_tokens": 7,
            "gen_ai.usage.completion_tokens": 9,
        },
    )
    first, second = decode_export_request(request([ours, openllmetry])).llm_calls
    assert (first.operation, first.provider, first.request_model, first.response_model) == (
        "chat",
        "openai",
        "gpt-4o",
        "gpt-4o-2024-08-06",
    )
    assert (first.input_tokens, first.output_tokens, first.cost_usd, first.finish_reasons) == (
        12,
        30,
        0.0012,
        '["stop"]',
    )
    assert (second.provider, second.request_model, second.input_tokens, second.output_tokens) == (
        "anthropic",
        "claude-sonnet",
        7,
        9,
    )
    assert second.cost_usd is None


def test_function_and_event_spans_become_operations() -> None:
    spans = Spans()
    function = spans.span(
        "answer",
        {
            sc.AITHER_SPAN_KIND: "function",
            sc.AITHER_SPAN_TYPE: "agent",
            sc.AITHER_INPUT: json.dumps({"q": "hi"}),
            sc.AITHER_OUTPUT: json.dumps("hello"),
            sc.AITHER_COST_USD: 0.5,
            sc.AITHER_METADATA_PREFIX + "user": "u1",
            sc.AITHER_METADATA_PREFIX + "tries": 2,
        },
        error="timeout",
    )
    event = spans.span("tool call", {sc.AITHER_SPAN_KIND: "event", sc.AITHER_INPUT: "not json"})
    first, second = decode_export_request(request([function, event])).operations
    assert (first.kind, first.span_type, first.input, first.output, first.cost_usd) == (
        "function",
        "agent",
        '{"q": "hi"}',
        '"hello"',
        0.5,
    )
    assert json.loads(first.metadata or "") == {"user": "u1", "tries": 2}
    assert (first.is_error, first.error_message) == (True, "ValueError: timeout")
    assert (second.kind, second.input, second.metadata) == ("event", '"not json"', None)


def test_spans_without_valid_ids_are_rejected_and_repeats_inside_a_request_kept_once() -> None:
    spans = Spans()
    good = spans.span("ok", {})
    short_trace = spans.span("bad", {})
    short_trace.trace_id = b"\x01\x02"
    zero_span = spans.span("bad", {})
    zero_span.span_id = bytes(8)
    batch = decode_export_request(request([good, short_trace, zero_span, good]))
    assert batch.rejected == 2
    assert [record.name for record in batch.spans] == ["ok"]


def test_unknown_aither_kind_is_stored_plain_with_a_warning() -> None:
    batch = decode_export_request(request([Spans().span("x", {sc.AITHER_SPAN_KIND: "mystery"})]))
    assert len(batch.spans) == 1
    assert batch.spans[0].aither_kind is None
    assert "mystery" in batch.warnings[0]


def test_non_finite_doubles_and_bytes_encode_to_json() -> None:
    span = Spans().span("x", {"nan": float("nan"), "inf": float("inf"), "raw": b"\x00\x01"})
    attributes = json.loads(decode_export_request(request([span])).spans[0].attributes)
    assert attributes == {"nan": "NaN", "inf": "Infinity", "raw": "base64:AAE="}
