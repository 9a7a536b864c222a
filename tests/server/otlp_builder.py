"""Hand-built OTLP requests for server tests: exact ids, times and attributes, no SDK involved."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from aither.schema import semconv as sc

PROTOBUF = {"content-type": "application/x-protobuf"}
JSON = {"content-type": "application/json"}


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, (list, tuple)):
        out = AnyValue()
        out.array_value.values.extend(any_value(item) for item in value)
        return out
    if isinstance(value, Mapping):
        out = AnyValue()
        out.kvlist_value.values.extend(KeyValue(key=k, value=any_value(v)) for k, v in value.items())
        return out
    raise TypeError(value)


def attributes(values: Mapping[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in values.items() if value is not None]


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()


def envelope(sample: Any, rows: int | None = None, **meta: Any) -> str:
    return json.dumps({"sample": sample, "_meta": {"rows": rows, "truncated": False, **meta}})


class Spans:
    """Builds spans; every span gets a fresh id unless one is given."""

    def __init__(self) -> None:
        self.now_ns = time.time_ns()

    def span(
        self,
        name: str,
        attrs: Mapping[str, Any],
        *,
        trace_id: str | None = None,
        span_id: str | None = None,
        parent_span_id: str | None = None,
        start_ns: int | None = None,
        duration_ms: float = 2.0,
        error: str | None = None,
    ) -> Span:
        start = start_ns if start_ns is not None else self.now_ns
        span = Span(
            trace_id=bytes.fromhex(trace_id or new_trace_id()),
            span_id=bytes.fromhex(span_id or new_span_id()),
            name=name,
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=start,
            end_time_unix_nano=start + int(duration_ms * 1e6),
        )
        if parent_span_id:
            span.parent_span_id = bytes.fromhex(parent_span_id)
        span.attributes.extend(attributes(attrs))
        if error is not None:
            span.status.code = Status.STATUS_CODE_ERROR
            span.status.message = error
            event = span.events.add(name="exception", time_unix_nano=start)
            event.attributes.extend(attributes({"exception.type": "ValueError", "exception.message": error}))
        return span

    def prediction(
        self,
        model: str,
        sample: Any = None,
        *,
        version: str | None = "1",
        method: str = "predict",
        rows: int | None = None,
        features: Any = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        start_ns: int | None = None,
        duration_ms: float = 2.0,
        error: str | None = None,
        environment: str | None = "test",
        raw_prediction: Any = None,
    ) -> Span:
        if rows is None and sample is not None:
            rows = len(sample) if isinstance(sample, list) else 1
        prediction = (
            raw_prediction
            if raw_prediction is not None
            else (envelope(sample, rows) if sample is not None else None)
        )
        attrs = {
            sc.AITHER_SPAN_KIND: sc.SPAN_KIND_PREDICTION,
            sc.AITHER_SCHEMA_VERSION: sc.SCHEMA_VERSION,
            sc.ML_MODEL_NAME: model,
            sc.ML_MODEL_VERSION: version,
            sc.ML_ENVIRONMENT: environment,
            sc.ML_MODEL_FRAMEWORK: "sklearn",
            sc.ML_MODEL_CLASS: "sklearn.linear_model.LogisticRegression",
            sc.ML_METHOD: method,
            sc.ML_INPUT_ROWS: rows,
            sc.ML_OUTPUT_ROWS: None if error else rows,
            sc.ML_FEATURES: envelope(features if features is not None else [[1.0, 2.0]], rows),
            sc.ML_PREDICTION: None if error else prediction,
        }
        return self.span(
            f"predict {model}",
            attrs,
            trace_id=trace_id,
            span_id=span_id,
            start_ns=start_ns,
            duration_ms=duration_ms,
            error=error,
        )

    def label(
        self,
        trace_id: str,
        value: Any,
        *,
        batch: bool | None = None,
        model: str | None = None,
        target: str | None = None,
        row_indices: list[int] | None = None,
        start_ns: int | None = None,
        span_id: str | None = None,
    ) -> Span:
        attrs = {
            sc.AITHER_SPAN_KIND: sc.SPAN_KIND_LABEL,
            sc.AITHER_SCHEMA_VERSION: sc.SCHEMA_VERSION,
            sc.ML_LABEL: json.dumps(value),
            sc.ML_LABEL_BATCH: isinstance(value, list) if batch is None else batch,
            sc.ML_MODEL_NAME: model,
            sc.AITHER_LABEL_SPAN_ID: target,
            sc.ML_LABEL_ROW_INDICES: json.dumps(row_indices) if row_indices is not None else None,
        }
        start = start_ns if start_ns is not None else self.now_ns + 1_000_000_000
        return self.span(
            f"label {model or ''}".strip(), attrs, trace_id=trace_id, span_id=span_id, start_ns=start
        )


def request(spans: Iterable[Span], service: str = "test-service") -> ExportTraceServiceRequest:
    message = ExportTraceServiceRequest()
    resource_spans = message.resource_spans.add()
    resource_spans.resource.attributes.extend(attributes({sc.SERVICE_NAME: service}))
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "tests"
    scope_spans.spans.extend(spans)
    return message


def body(*spans: Span) -> bytes:
    return request(spans).SerializeToString()


def ids(span: Span) -> tuple[str, str]:
    """(trace id, span id) of a span, as hex."""
    return span.trace_id.hex(), span.span_id.hex()
