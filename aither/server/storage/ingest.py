"""Store a decoded export request: the writer's job for ``POST /v1/traces``.

Replays are stored once: a span whose (trace id, span id) the organisation already holds is
skipped with everything derived from it, so an exporter that retries after a lost response
never doubles a prediction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..detection.hook import detect
from ..drift.hook import observe_drift
from ..ingest.records import DecodedBatch
from . import llm_rollups
from .bulk import bulk_insert
from .joins import insert_returning_ids, join_labels
from .schema import llm_calls, operations, predictions, spans
from .usage import add_usage, period_bounds

_CHUNK = 500

_SPAN_FIELDS = tuple(c.name for c in spans.columns if c.name not in ("id", "org_id", "received_at_ns"))
_PREDICTION_FIELDS = tuple(c.name for c in predictions.columns if c.name not in ("id", "org_id"))
_LLM_FIELDS = tuple(c.name for c in llm_calls.columns if c.name not in ("id", "org_id"))
_OPERATION_FIELDS = tuple(c.name for c in operations.columns if c.name not in ("id", "org_id"))


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one request added to the store."""

    spans: int
    duplicates: int
    predictions: int
    labels: int
    llm_calls: int
    operations: int


_COUNTED = ("spans", "predictions", "labels", "llm_calls", "operations")


def counted(
    connection: Connection, org_id: str, received_at_ns: int, batch: DecodedBatch, new: DecodedBatch
) -> IngestResult:
    """What ``new``, the rows of ``batch`` not stored before, adds; added to the organisation's
    usage counters of the period too (every ingest job ends with it)."""
    counts = {name: len(getattr(new, name)) for name in _COUNTED}
    prediction_rows = sum(p.output_rows or 0 for p in new.predictions)
    add_usage(
        connection, org_id, period_bounds(received_at_ns)[0], {**counts, "prediction_rows": prediction_rows}
    )
    return IngestResult(duplicates=len(batch.spans) - counts["spans"], **counts)


def _rows(records: list[Any], fields: tuple[str, ...], **extra: Any) -> list[dict[str, Any]]:
    return [{**{name: getattr(record, name) for name in fields}, **extra} for record in records]


def _stored_keys(connection: Connection, org_id: str, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (trace id, span id) pairs of ``keys`` that the organisation already holds."""
    found: set[tuple[str, str]] = set()
    span_ids = sorted({span_id for _, span_id in keys})
    for start in range(0, len(span_ids), _CHUNK):
        query = sa.select(spans.c.trace_id, spans.c.span_id).where(
            spans.c.org_id == org_id, spans.c.span_id.in_(span_ids[start : start + _CHUNK])
        )
        found.update((trace_id, span_id) for trace_id, span_id in connection.execute(query))
    return found


def _serialise_traces(connection: Connection, org_id: str, traces: set[str]) -> None:
    """Wait for any other server's transaction on these traces.

    With several servers on one PostgreSQL, two of them can store spans of one trace at the same
    moment: a prediction and its label (neither transaction sees the other's row, so the label
    would stay unjoined), or the same spans twice (an exporter that timed out and retried through
    the balancer; the second insert would fail on the unique key). A transaction-scoped advisory
    lock per (organisation, trace), taken in one order, makes the second wait for the first's
    commit; its reads then see the committed rows (a join; a duplicate skipped).
    """
    keys = sorted(
        int.from_bytes(
            hashlib.blake2b(f"{org_id}:{trace}".encode(), digest_size=8).digest(), "big", signed=True
        )
        for trace in traces
    )
    connection.execute(
        sa.text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k"), {"keys": keys}
    ).all()


class IngestJob:
    """Store one :class:`DecodedBatch` for an organisation (run by the writer)."""

    def __init__(self, org_id: str, batch: DecodedBatch, received_at_ns: int) -> None:
        self.org_id = org_id
        self.batch = batch
        self.received_at_ns = received_at_ns
        self.weight = max(1, len(batch.spans))

    def apply(self, connection: Connection) -> IngestResult:
        batch, org_id = self.batch, self.org_id
        if connection.dialect.name == "postgresql" and batch.spans:
            _serialise_traces(connection, org_id, {span.trace_id for span in batch.spans})
        stored = (
            _stored_keys(connection, org_id, [span.key for span in batch.spans]) if batch.spans else set()
        )
        new = batch.without(stored)
        if new.spans:
            bulk_insert(
                connection,
                spans,
                _rows(new.spans, _SPAN_FIELDS, org_id=org_id, received_at_ns=self.received_at_ns),
            )
        prediction_ids = insert_returning_ids(
            connection, predictions, org_id, _rows(new.predictions, _PREDICTION_FIELDS, org_id=org_id)
        )
        if new.predictions or new.labels:
            join_labels(
                connection, org_id, list(zip(prediction_ids, new.predictions, strict=True)), new.labels
            )
        if new.llm_calls or new.predictions:
            detect(connection, org_id, new.spans, new.llm_calls, new.predictions)
        if new.predictions or new.labels or new.llm_calls or new.operations:
            observe_drift(connection, org_id, new)
        if new.llm_calls:
            bulk_insert(connection, llm_calls, _rows(new.llm_calls, _LLM_FIELDS, org_id=org_id))
            # only the newly stored calls: a replay adds nothing
            llm_rollups.upsert(connection, org_id, llm_rollups.collect(new.llm_calls))
        if new.operations:
            bulk_insert(connection, operations, _rows(new.operations, _OPERATION_FIELDS, org_id=org_id))
        return counted(connection, org_id, self.received_at_ns, batch, new)
