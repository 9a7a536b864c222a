"""The rows that decoding makes of spans: what the writer stores, one dataclass per table.

JSON payloads stay text here (as the span carried them, re-encoded only when they had to be
parsed); parsed samples ride along in memory so that the label join of a batch reads them
without a second parse.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, TypeVar


@dataclass(slots=True)
class KeyedRecord:
    """What every row of a span starts with: the span's ids, unique per organisation."""

    trace_id: str
    span_id: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.trace_id, self.span_id)


_R = TypeVar("_R", bound=KeyedRecord)


@dataclass(slots=True)
class SpanRecord(KeyedRecord):
    """Any OTLP span, aither's or not: the ``spans`` table."""

    parent_span_id: str | None
    name: str
    aither_kind: str | None
    span_kind: int
    service_name: str | None
    scope_name: str | None
    start_time_ns: int
    end_time_ns: int
    status_code: int
    status_message: str | None
    attributes: str
    events: str | None
    links: str | None
    resource: str | None


@dataclass(slots=True)
class PredictionRecord(KeyedRecord):
    """A ``prediction`` span: the ``predictions`` table."""

    model_name: str
    model_version: str | None
    environment: str | None
    framework: str | None
    model_class: str | None
    method: str | None
    input_rows: int | None
    output_rows: int | None
    features: str | None
    prediction: str | None
    task: str | None
    time_ns: int
    latency_ms: float
    is_error: bool
    error_message: str | None
    sample: Any = field(default=None, repr=False)
    """The parsed ``sample`` of ``ml.prediction`` (not stored: ``prediction`` is)."""


@dataclass(slots=True)
class LabelRecord(KeyedRecord):
    """A ``label`` span: the ``labels`` table, before the join."""

    target_span_id: str | None
    model_name: str | None
    value: str | None
    is_batch: bool
    row_indices: str | None
    time_ns: int
    values: list[Any] = field(default_factory=list, repr=False)
    """One true value per labelled row, in the order of :attr:`indices`."""
    indices: list[int] | None = field(default=None, repr=False)
    """The prediction rows the values belong to; None for rows ``0..n-1``."""
    error: str | None = None
    """Why the label can't be joined (malformed ``ml.label``), or None."""


@dataclass(slots=True)
class LlmCallRecord(KeyedRecord):
    """A span with GenAI attributes: the ``llm_calls`` table."""

    name: str
    operation: str | None
    provider: str | None
    request_model: str | None
    response_model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    finish_reasons: str | None
    time_ns: int
    latency_ms: float
    is_error: bool
    error_type: str | None = None
    client_name: str | None = None
    cache_read_input_tokens: int | None = None
    reasoning_output_tokens: int | None = None
    pii_detected: bool | None = None
    """None when the span says nothing about personal data (not scanned)."""
    pii_counts: str | None = None
    """JSON ``{"input": {type: matches}, "output": {...}}``, or None when nothing matched."""
    injection_score: float | None = None
    injection_detected: bool | None = None
    injection_rules: str | None = None
    """JSON list of the prompt-injection rules the prompt matched."""
    user_id: str | None = None
    """``enduser.id``: the end user the call acted for."""
    session_id: str | None = None
    """``session.id``."""
    service: str | None = None
    """``service.name`` of the span (``log_llm_call(service=...)``), else of its resource."""
    risk_level: str | None = None
    """Set by detection at ingest (an :class:`aither.RiskLevel` value)."""

    @property
    def model(self) -> str:
        """The model the call is counted and judged under: the response's, else the request's
        ('' when the span named neither)."""
        return self.response_model or self.request_model or ""


@dataclass(slots=True)
class OperationRecord(KeyedRecord):
    """A ``function`` or ``event`` span: the ``operations`` table."""

    kind: str
    name: str
    span_type: str | None
    input: str | None
    output: str | None
    cost_usd: float | None
    metadata: str | None
    time_ns: int
    latency_ms: float
    is_error: bool
    error_message: str | None


@dataclass(slots=True)
class DecodedBatch:
    """Everything one export request holds, ready for the writer."""

    spans: list[SpanRecord] = field(default_factory=list)
    predictions: list[PredictionRecord] = field(default_factory=list)
    labels: list[LabelRecord] = field(default_factory=list)
    llm_calls: list[LlmCallRecord] = field(default_factory=list)
    operations: list[OperationRecord] = field(default_factory=list)
    rejected: int = 0
    """Spans that could not be read at all (bad ids); reported in ``partial_success``."""
    warnings: list[str] = field(default_factory=list)
    """Why some spans were stored only in part; the first few go back to the sender."""

    @classmethod
    def joined(cls, batches: Collection[DecodedBatch]) -> DecodedBatch:
        """The rows of ``batches`` as one batch, in their order (one batch: itself)."""
        if len(batches) == 1:
            return next(iter(batches))
        out = cls()
        for batch in batches:
            out.spans += batch.spans
            out.predictions += batch.predictions
            out.labels += batch.labels
            out.llm_calls += batch.llm_calls
            out.operations += batch.operations
            out.rejected += batch.rejected
            out.warnings += batch.warnings
        return out

    def without(self, keys: Collection[tuple[str, str]]) -> DecodedBatch:
        """This batch less the rows of the spans in ``keys`` (already stored: a replay)."""

        def keep(records: list[_R]) -> list[_R]:
            return [record for record in records if record.key not in keys]

        return DecodedBatch(
            keep(self.spans),
            keep(self.predictions),
            keep(self.labels),
            keep(self.llm_calls),
            keep(self.operations),
            self.rejected,
            self.warnings,
        )
