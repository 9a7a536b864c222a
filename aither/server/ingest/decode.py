"""Decode an OTLP ``ExportTraceServiceRequest`` into rows: pure functions, no I/O.

Every span with valid ids becomes a :class:`~.records.SpanRecord`. Spans that follow aither's
schema (``aither.span.kind``, see ``aither.semconv``) also become typed rows: predictions,
labels, LLM calls, function calls and events. A span with GenAI attributes and no aither kind
(OpenLLMetry, the OpenTelemetry GenAI instrumentations) counts as an LLM call too. A malformed
aither attribute never loses the span: it is stored as it came, and a warning says what was
wrong.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from ...schema import semconv as sc
from ...schema.envelope import split_envelope
from ..analysis.scoring import infer_task, sample_rows
from .records import (
    DecodedBatch,
    LabelRecord,
    LlmCallRecord,
    OperationRecord,
    PredictionRecord,
    SpanRecord,
)

# Names from older GenAI conventions that OpenLLMetry and early instrumentations still send.
_LEGACY_GEN_AI_SYSTEM = "gen_ai.system"
_LEGACY_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"
_LEGACY_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"
_EXCEPTION_TYPE = "exception.type"
_EXCEPTION_MESSAGE = "exception.message"

# Stored in the predictions table, so the spans row leaves them out (the trace view merges them back).
_PREDICTION_PAYLOADS = (sc.ML_FEATURES, sc.ML_PREDICTION)
_MAX_WARNINGS = 20
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_MAX_TIME_NS = 2**63 - 1  # OTLP times are unsigned 64-bit; the columns are signed (year 2262)
_SCANNER_PREFIXES = ("aither.pii.", "aither.injection.")
_HEX_DIGITS = frozenset("0123456789abcdef")


def any_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as a JSON-ready Python value (non-finite floats as strings)."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "bool_value":
        return value.bool_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        number = value.double_value
        if math.isfinite(number):
            return number
        return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
    if which == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    if which == "bytes_value":
        return "base64:" + base64.b64encode(value.bytes_value).decode("ascii")
    return None


_SCALARS = frozenset({"bool_value", "int_value"})


def attributes_of(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    """OTLP attributes as a dict (a repeated key keeps its last value)."""
    # any_value inlined for the common scalars: each read of a protobuf field costs about as
    # much as the rest of the loop, so strings (most attributes) take one WhichOneof and one read
    out: dict[str, Any] = {}
    for pair in pairs:
        value = pair.value
        which = value.WhichOneof("value")
        if which == "string_value":
            out[pair.key] = value.string_value
        elif which in _SCALARS:
            out[pair.key] = getattr(value, which)
        else:
            out[pair.key] = any_value(value)
    return out


def clean(text: str) -> str:
    """``text`` fit for a text column: PostgreSQL's can't hold NUL, so NUL becomes U+FFFD.

    JSON columns need nothing: ``json.dumps`` writes NUL as ``\\u0000``.
    """
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value)
    return clean(text[:limit]) if text else None


def _int(value: Any) -> int | None:
    """A count for an INTEGER column (32 bits on PostgreSQL); None when it is not one."""
    if isinstance(value, bool):
        return None
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if not integral and not (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
        return None
    number = int(value)
    return number if _INT32_MIN <= number <= _INT32_MAX else None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _json_payload(value: Any) -> tuple[Any, str | None]:
    """(parsed value, JSON text) of an attribute meant to hold JSON; plain strings stay strings."""
    if value is None:
        return None, None
    if isinstance(value, str):
        try:
            return json.loads(value), value
        except ValueError:
            return value, json.dumps(value)
    return value, json.dumps(value)


def _hex_id(raw: bytes, length: int) -> str | None:
    if len(raw) != length or raw.count(0) == length:  # all zero: no id
        return None
    return raw.hex()


def _error_message(status: Status, events: list[dict[str, Any]]) -> str | None:
    if status.code != Status.STATUS_CODE_ERROR:
        return None
    for event in events:
        attributes = event.get("attributes") or {}
        if event.get("name") == "exception":
            kind = attributes.get(_EXCEPTION_TYPE)
            message = attributes.get(_EXCEPTION_MESSAGE)
            text = ": ".join(str(part) for part in (kind, message) if part)
            if text:
                return clean(text[:2000])
    return clean(status.message[:2000]) or None


class _Decoder:
    """Decodes one request; collects rows and warnings."""

    def __init__(self) -> None:
        self.batch = DecodedBatch()
        self._seen: set[tuple[str, str]] = set()

    def warn(self, span: SpanRecord, message: str) -> None:
        if len(self.batch.warnings) < _MAX_WARNINGS:
            self.batch.warnings.append(f"span {span.span_id} of trace {span.trace_id}: {message}")

    def span(
        self,
        span: Span,
        service_name: str | None,
        resource_json: str | None,
        scope: str | None,
    ) -> None:
        trace_id = _hex_id(span.trace_id, 16)
        span_id = _hex_id(span.span_id, 8)
        if trace_id is None or span_id is None:
            self.batch.rejected += 1
            return
        start = span.start_time_unix_nano  # each read of a protobuf field costs: read once
        end = span.end_time_unix_nano
        if start > _MAX_TIME_NS or end > _MAX_TIME_NS:
            self.batch.rejected += 1
            if len(self.batch.warnings) < _MAX_WARNINGS:
                message = f"span {span_id} of trace {trace_id}: its time is past the year 2262"
                self.batch.warnings.append(message)
            return
        if (trace_id, span_id) in self._seen:  # a span repeated inside one request
            return
        self._seen.add((trace_id, span_id))
        attributes = attributes_of(span.attributes)
        events = (
            [
                {
                    "name": event.name,
                    "time_ns": event.time_unix_nano,
                    "attributes": attributes_of(event.attributes),
                }
                for event in span.events
            ]
            if len(span.events)
            else []
        )
        links = (
            [
                {
                    "trace_id": link.trace_id.hex(),
                    "span_id": link.span_id.hex(),
                    "attributes": attributes_of(link.attributes),
                }
                for link in span.links
            ]
            if len(span.links)
            else []
        )
        kind = attributes.get(sc.AITHER_SPAN_KIND)
        # a kind that is a list or a map is unhashable: ``in`` a set would raise TypeError
        aither_kind = kind if isinstance(kind, str) and kind in sc.SPAN_KINDS else None
        stored = attributes
        if aither_kind == sc.SPAN_KIND_PREDICTION:
            stored = {k: v for k, v in attributes.items() if k not in _PREDICTION_PAYLOADS}
        end = max(end, start)
        status = span.status
        record = SpanRecord(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=_hex_id(span.parent_span_id, 8),
            name=clean(span.name),
            aither_kind=aither_kind,
            span_kind=int(span.kind),
            service_name=service_name,
            scope_name=clean(scope[:200]) if scope else None,
            start_time_ns=start,
            end_time_ns=end,
            status_code=int(status.code),
            status_message=clean(status.message) or None,
            attributes=json.dumps(stored),
            events=json.dumps(events) if events else None,
            links=json.dumps(links) if links else None,
            resource=resource_json,
        )
        self.batch.spans.append(record)
        error = _error_message(status, events)
        if aither_kind == sc.SPAN_KIND_PREDICTION:
            self.prediction(record, attributes, error)
        elif aither_kind == sc.SPAN_KIND_LABEL:
            self.label(record, attributes)
        elif aither_kind in (sc.SPAN_KIND_FUNCTION, sc.SPAN_KIND_EVENT):
            self.operation(record, attributes, error)
        elif aither_kind == sc.SPAN_KIND_LLM or (
            aither_kind is None and any(key.startswith("gen_ai.") for key in attributes)
        ):
            self.llm_call(record, attributes)
        elif kind is not None:
            self.warn(record, f"unknown {sc.AITHER_SPAN_KIND} {kind!r}; stored as a plain span")

    def prediction(self, span: SpanRecord, attributes: dict[str, Any], error: str | None) -> None:
        name = _text(attributes.get(sc.ML_MODEL_NAME), 200)
        if name is None:
            self.warn(span, f"prediction span without {sc.ML_MODEL_NAME}; filed under 'unknown'")
            name = "unknown"
        method = _text(attributes.get(sc.ML_METHOD), 100)
        parsed, prediction_text = _json_payload(attributes.get(sc.ML_PREDICTION))
        sample, meta = split_envelope(parsed)
        _, features_text = _json_payload(attributes.get(sc.ML_FEATURES))
        output_rows = _int(attributes.get(sc.ML_OUTPUT_ROWS))
        if output_rows is None:
            output_rows = _int(meta.get("rows"))
        if output_rows is None and prediction_text is not None:
            output_rows = sample_rows(sample)
        is_error = span.status_code == Status.STATUS_CODE_ERROR
        self.batch.predictions.append(
            PredictionRecord(
                trace_id=span.trace_id,
                span_id=span.span_id,
                model_name=name,
                model_version=_text(attributes.get(sc.ML_MODEL_VERSION), 100),
                environment=_text(attributes.get(sc.ML_ENVIRONMENT), 100),
                framework=_text(attributes.get(sc.ML_MODEL_FRAMEWORK), 100),
                model_class=_text(attributes.get(sc.ML_MODEL_CLASS), 300),
                method=method,
                input_rows=_int(attributes.get(sc.ML_INPUT_ROWS)),
                output_rows=max(output_rows, 0) if output_rows is not None else None,
                features=features_text,
                prediction=prediction_text,
                task=None if is_error else infer_task(sample, method),
                time_ns=span.start_time_ns,
                latency_ms=(span.end_time_ns - span.start_time_ns) / 1e6,
                is_error=is_error,
                error_message=error,
                sample=sample,
            )
        )

    def label(self, span: SpanRecord, attributes: dict[str, Any]) -> None:
        raw = attributes.get(sc.ML_LABEL)
        value, value_text = _json_payload(raw)
        is_batch = _flag(attributes.get(sc.ML_LABEL_BATCH))
        target = attributes.get(sc.AITHER_LABEL_SPAN_ID)
        record = LabelRecord(
            trace_id=span.trace_id,
            span_id=span.span_id,
            target_span_id=None,
            model_name=_text(attributes.get(sc.ML_MODEL_NAME), 200),
            value=value_text,
            is_batch=is_batch,
            row_indices=None,
            time_ns=span.start_time_ns,
        )
        if target is not None:
            text = str(target).strip().lower()
            if len(text) == 16 and _HEX_DIGITS.issuperset(text):
                record.target_span_id = text
            else:
                record.error = f"{sc.AITHER_LABEL_SPAN_ID} {target!r} is not a 16-digit hex span id"
        if raw is None:
            record.error = f"label span without {sc.ML_LABEL}"
        elif not is_batch:
            record.values = [value]
        elif not isinstance(value, list):
            record.error = f"{sc.ML_LABEL_BATCH} is true but {sc.ML_LABEL} is not a JSON list"
        else:
            record.values = value
            indices_raw = attributes.get(sc.ML_LABEL_ROW_INDICES)
            if indices_raw is not None:
                indices, record.row_indices = _json_payload(indices_raw)
                problem = _check_indices(indices, len(value))
                if problem:
                    record.error = f"{sc.ML_LABEL_ROW_INDICES} {problem}"
                else:
                    record.indices = indices
        if record.error:
            self.warn(span, record.error + "; the label is stored but not joined")
        self.batch.labels.append(record)

    def llm_call(self, span: SpanRecord, attributes: dict[str, Any]) -> None:
        input_tokens = attributes.get(sc.GEN_AI_USAGE_INPUT_TOKENS, attributes.get(_LEGACY_PROMPT_TOKENS))
        output_tokens = attributes.get(
            sc.GEN_AI_USAGE_OUTPUT_TOKENS, attributes.get(_LEGACY_COMPLETION_TOKENS)
        )
        provider = attributes.get(sc.GEN_AI_PROVIDER_NAME, attributes.get(_LEGACY_GEN_AI_SYSTEM))
        reasons = attributes.get(sc.GEN_AI_RESPONSE_FINISH_REASONS)
        pii_flag = attributes.get(sc.AITHER_PII_DETECTED)
        # aither's adapters write aither.pii.detected only when they found something; a span
        # with any of the scanners' attributes was scanned, so no flag there means no PII
        scanned = any(key.startswith(_SCANNER_PREFIXES) for key in attributes)
        # the counts' keys start with aither.pii.: a span not scanned has none
        pii_counts = _pii_counts(attributes) if scanned else {}
        pii_detected = (_flag(pii_flag) or bool(pii_counts)) if scanned else None
        injection_flag = attributes.get(sc.AITHER_INJECTION_DETECTED)
        injection_rules = attributes.get(sc.AITHER_INJECTION_RULES)
        if isinstance(injection_rules, str):
            injection_rules = [injection_rules]
        self.batch.llm_calls.append(
            LlmCallRecord(
                trace_id=span.trace_id,
                span_id=span.span_id,
                name=span.name,
                operation=_text(attributes.get(sc.GEN_AI_OPERATION_NAME), 100),
                provider=_text(provider, 100),
                request_model=_text(attributes.get(sc.GEN_AI_REQUEST_MODEL), 200),
                response_model=_text(attributes.get(sc.GEN_AI_RESPONSE_MODEL), 200),
                input_tokens=_int(input_tokens),
                output_tokens=_int(output_tokens),
                cost_usd=_float(attributes.get(sc.AITHER_COST_USD)),
                finish_reasons=json.dumps(reasons) if reasons is not None else None,
                time_ns=span.start_time_ns,
                latency_ms=(span.end_time_ns - span.start_time_ns) / 1e6,
                is_error=span.status_code == Status.STATUS_CODE_ERROR,
                error_type=_text(attributes.get(sc.ERROR_TYPE), 200),
                client_name=_text(attributes.get(sc.AITHER_LLM_CLIENT_NAME), 200),
                cache_read_input_tokens=_int(attributes.get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)),
                reasoning_output_tokens=_int(attributes.get(sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)),
                pii_detected=pii_detected,
                pii_counts=json.dumps(pii_counts) if pii_counts else None,
                injection_score=_float(attributes.get(sc.AITHER_INJECTION_SCORE)),
                injection_detected=_flag(injection_flag) if injection_flag is not None else None,
                injection_rules=json.dumps(injection_rules) if isinstance(injection_rules, list) else None,
                user_id=_text(attributes.get(sc.ENDUSER_ID), 200),
                session_id=_text(attributes.get(sc.SESSION_ID), 200),
                service=_text(attributes.get(sc.SERVICE_NAME), 200) or span.service_name,
            )
        )

    def operation(self, span: SpanRecord, attributes: dict[str, Any], error: str | None) -> None:
        prefix = sc.AITHER_METADATA_PREFIX
        metadata = {key[len(prefix) :]: value for key, value in attributes.items() if key.startswith(prefix)}
        self.batch.operations.append(
            OperationRecord(
                trace_id=span.trace_id,
                span_id=span.span_id,
                kind=span.aither_kind or sc.SPAN_KIND_FUNCTION,
                name=span.name,
                span_type=_text(attributes.get(sc.AITHER_SPAN_TYPE), 100),
                input=_json_payload(attributes.get(sc.AITHER_INPUT))[1],
                output=_json_payload(attributes.get(sc.AITHER_OUTPUT))[1],
                cost_usd=_float(attributes.get(sc.AITHER_COST_USD)),
                metadata=json.dumps(metadata) if metadata else None,
                time_ns=span.start_time_ns,
                latency_ms=(span.end_time_ns - span.start_time_ns) / 1e6,
                is_error=span.status_code == Status.STATUS_CODE_ERROR,
                error_message=error,
            )
        )


def _pii_counts(attributes: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """``{"input": {type: matches}, "output": {...}}`` of the ``aither.pii.*.<type>`` counts above 0."""
    counts: dict[str, dict[str, int]] = {}
    for side, prefix in (("input", sc.AITHER_PII_INPUT_PREFIX), ("output", sc.AITHER_PII_OUTPUT_PREFIX)):
        for key, value in attributes.items():
            number = _int(value) if key.startswith(prefix) else None
            if number:
                counts.setdefault(side, {})[key[len(prefix) :]] = number
    return counts


def _check_indices(indices: Any, count: int) -> str | None:
    """Why a row-indices list is unusable, or None."""
    if not isinstance(indices, list) or not all(
        isinstance(index, int) and not isinstance(index, bool) and index >= 0 for index in indices
    ):
        return "is not a JSON list of non-negative integers"
    if len(indices) != count:
        return f"has {len(indices)} entries for {count} labels"
    if len(set(indices)) != len(indices):
        return "repeats a row"
    return None


def decode_export_request(request: ExportTraceServiceRequest) -> DecodedBatch:
    """Every span of the request as rows; spans without valid ids are counted as rejected."""
    decoder = _Decoder()
    for resource_spans in request.resource_spans:
        resource = attributes_of(resource_spans.resource.attributes)
        resource_json = json.dumps(resource) if resource else None
        service_name = _text(resource.get(sc.SERVICE_NAME), 200)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name or None
            for span in scope_spans.spans:
                decoder.span(span, service_name, resource_json, scope)
    return decoder.batch
