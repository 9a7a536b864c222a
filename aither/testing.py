"""Capture aither's spans in memory in tests: a pytest plugin, for our tests and yours.

Installed with aither and registered as a pytest plugin, it gives two fixtures:

- ``aither_capture``: a :class:`SpanCapture` whose ``client`` is a fresh :class:`aither.Client`.
- ``aither_default``: the same, installed as the default client, so ``aither.wrap(...)`` and
  the other module-level functions are captured; the previous default comes back afterwards.

Spans pass through the real pipeline (the counting processor, the batch processor and the
export-thread encoding); ``spans()`` flushes first, so no test needs to sleep. Internal
errors of aither are raised in these clients, so a test cannot hide one.

Example:
    >>> def test_fraud_model(aither_capture):                      # doctest: +SKIP
    ...     tracked = aither_capture.client.wrap(model, name="fraud")
    ...     tracked.predict(X)
    ...     (span,) = aither_capture.spans("prediction")
    ...     assert span.attributes["ml.model.name"] == "fraud"
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from . import _client
from ._client import Client
from .schema import semconv
from .schema.envelope import join_rest

JSON_ATTRIBUTES = frozenset(
    {
        semconv.ML_FEATURES,
        semconv.ML_PREDICTION,
        semconv.ML_MODEL_PARAMS,
        semconv.ML_FEATURES_STATS_SAMPLE,
        semconv.ML_PREDICTION_STATS_SAMPLE,
        semconv.ML_LABEL,
        semconv.ML_LABEL_ROW_INDICES,
        semconv.AITHER_INPUT,
        semconv.AITHER_OUTPUT,
    }
)
"""Attributes that hold JSON text; :class:`CapturedSpan` decodes them."""


@dataclass(frozen=True)
class CapturedSpan:
    """One exported span, with the JSON attributes decoded (``ml.prediction`` whole: the
    binary ``rest`` of a long numeric output joined to its sample, as the server does)."""

    name: str
    kind: str | None
    trace_id: str
    span_id: str
    parent_span_id: str | None
    attributes: dict[str, Any]
    status: str
    events: list[dict[str, Any]]
    raw: ReadableSpan

    @classmethod
    def from_span(cls, span: ReadableSpan) -> CapturedSpan:
        attributes: dict[str, Any] = {}
        for key, value in (span.attributes or {}).items():
            attributes[key] = (
                json.loads(value) if key in JSON_ATTRIBUTES and isinstance(value, str) else value
            )
        if semconv.ML_PREDICTION in attributes:  # the rows past the first thousand, joined back
            attributes[semconv.ML_PREDICTION] = join_rest(attributes[semconv.ML_PREDICTION])
        ctx = span.context
        assert ctx is not None
        return cls(
            name=span.name,
            kind=attributes.get(semconv.AITHER_SPAN_KIND),
            trace_id=f"{ctx.trace_id:032x}",
            span_id=f"{ctx.span_id:016x}",
            parent_span_id=f"{span.parent.span_id:016x}" if span.parent is not None else None,
            attributes=attributes,
            status=span.status.status_code.name,
            events=[{"name": e.name, "attributes": dict(e.attributes or {})} for e in span.events],
            raw=span,
        )


class SpanCapture:
    """An aither client that exports into memory, and the spans it exported."""

    def __init__(self, **client_kwargs: Any) -> None:
        self.exporter = InMemorySpanExporter()
        client_kwargs.setdefault("raise_internal_errors", True)
        self.client = Client(exporter=self.exporter, **client_kwargs)

    def spans(self, kind: str | None = None, *, timeout: float = 10.0) -> list[CapturedSpan]:
        """Flush, then every span exported so far (of ``aither.span.kind`` ``kind`` if given)."""
        if not self.client.flush(timeout):
            raise AssertionError(
                f"aither did not deliver every span within {timeout}s: {self.client.stats()}"
            )
        found = [CapturedSpan.from_span(s) for s in self.exporter.get_finished_spans()]
        return [s for s in found if kind is None or s.kind == kind]

    def clear(self) -> None:
        self.client.flush()
        self.exporter.clear()

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def aither_capture() -> Iterator[SpanCapture]:
    """A :class:`SpanCapture` with a fresh client; closed after the test."""
    capture = SpanCapture()
    try:
        yield capture
    finally:
        capture.close()


@pytest.fixture
def aither_default() -> Iterator[SpanCapture]:
    """A :class:`SpanCapture` installed as aither's default client for the test."""
    capture = SpanCapture()
    with _client._default_lock:
        previous, _client._default = _client._default, capture.client
    try:
        yield capture
    finally:
        with _client._default_lock:
            _client._default = previous
        capture.close()
