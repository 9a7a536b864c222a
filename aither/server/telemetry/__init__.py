"""The telemetry store: where spans, predictions, labels, LLM calls, operations and rollups go.

Without ``--telemetry-db`` they stay in the relational database with everything else. With
``--telemetry-db clickhouse://user@host:9000/aither`` (or ``chdb:///dir``) they go to
ClickHouse through :class:`TelemetryStore`; accounts, keys, rules, anomalies and usage stay
relational. Ingest runs detection and usage in the relational transaction, writes the batch
here, then runs drift (its state relational too) in the same transaction
(:class:`TelemetryIngestJob`); the read routes this store covers ask it, the others
answer 501.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from ..dashboard.queries import Source
from ..detection.hook import detect
from ..detection.rollups import Rollup, RollupKey
from ..drift.hook import observe_drift
from ..ingest.records import DecodedBatch
from ..storage.filters import LabelFilter, LlmCallFilter, ModelScope, Paging, PredictionFilter
from ..storage.ingest import IngestResult
from ..storage.queries import Rows
from ..storage.usage import add_usage, period_bounds
from ..storage.window import Window
from .client import TelemetryUnavailable
from .detection import LlmRow, PredictionRow
from .drift import LabelledRow

__all__ = [
    "TelemetryIngestJob",
    "TelemetryStore",
    "TelemetryUnavailable",
    "TelemetryWrites",
    "open_telemetry_store",
]

logger = logging.getLogger("aither.server")


class TelemetryStore(Source, Protocol):
    """What a telemetry backend implements: the batch write and the main reads, the
    dashboard's among them (:class:`~aither.server.dashboard.queries.Source`).

    Thread-safe: reads run on the request threads, writes on the server's one writer thread.
    A store that does not answer raises :class:`TelemetryUnavailable` (503 with ``Retry-After``
    on every route); reads answer exactly what the relational reads of the same name answer.
    """

    engine: str
    """The backend, for ``/healthz`` and logs (``clickhouse`` or ``chdb``)."""

    def stored_keys(self, org_id: str, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]: ...

    def write(self, org_id: str, batch: DecodedBatch, received_at_ns: int) -> None: ...

    def write_many(self, org_id: str, parts: Sequence[tuple[DecodedBatch, int]]) -> None:
        """Store several batches (each with the time it was received) as one write."""
        ...

    def read_rollups(
        self, org_id: str, since_ns: int | None, until_ns: int | None
    ) -> list[tuple[RollupKey, Rollup]]: ...

    def scored_rows(
        self, org_id: str, since_ns: int, until_ns: int
    ) -> dict[tuple[str, str], tuple[int, int, int]]: ...

    def label_status_counts(self, org_id: str, model: str | None) -> dict[str, int]: ...

    def list_models(self, org_id: str, window: Window | None = None) -> list[dict[str, Any]]: ...

    def list_labels(self, org_id: str, where: LabelFilter, page: Paging) -> Rows: ...

    def model_metrics(self, org_id: str, scope: ModelScope) -> list[dict[str, Any]]: ...

    def list_predictions(self, org_id: str, where: PredictionFilter, page: Paging) -> Rows: ...

    def list_llm_calls(self, org_id: str, where: LlmCallFilter, page: Paging) -> Rows: ...

    def llm_call_totals(
        self, org_id: str, group_by: str, *, window: Window | None = None, limit: int = 100
    ) -> list[dict[str, Any]]: ...

    def get_trace(self, org_id: str, trace_id: str) -> dict[str, Any] | None: ...

    def newest_event_ns(self, org_id: str) -> int | None: ...

    def recent_rows(
        self, org_id: str, start_ns: int, now_ns: int
    ) -> tuple[list[LlmRow], list[PredictionRow]]: ...

    def label_cursor(self, org_id: str, before_ns: int) -> int: ...

    def labelled_rows_after(self, org_id: str, cursor: int, limit: int) -> list[LabelledRow]: ...

    def prediction_samples(
        self, org_id: str, model: str, start_ns: int, end_ns: int, limit: int
    ) -> list[str]: ...

    def prune(self, before_ns: int, org_id: str | None = None) -> dict[str, int]: ...

    def seal(self, now_ns: int | None = None, held: Callable[[], bool] | None = None) -> int:
        """Seal the past hours' aggregates (:mod:`.sealed`); the lease's holder runs it."""
        ...

    def close(self) -> None: ...


def open_telemetry_store(url: str) -> TelemetryStore:
    """Connect to the telemetry database of ``url`` and migrate it.

    Raises :class:`~aither.server.storage.DatabaseURLError` for a URL it can't use or a
    database that does not answer, so ``aither server`` stops with that message.
    """
    from ..storage.engine import DatabaseURLError
    from .clickhouse import ClickHouseStore

    try:
        return ClickHouseStore.open(url)
    except TelemetryUnavailable as exc:  # at start, a wrong host or port: say so and stop
        raise DatabaseURLError(f"telemetry database {url!r} did not answer: {exc.__cause__ or exc}") from exc


class TelemetryWrites:
    """The writer's hook (:class:`~aither.server.storage.writer.BatchHook`) of the
    :class:`TelemetryIngestJob` objects of one server: their telemetry rows go to the store
    together, once per transaction and organisation, just before the relational commit.

    ClickHouse wants few large inserts: one transaction of the writer (what queued up, up to
    ``max_batch_spans``) costs one insert per table, not one per request, and one read of the
    span keys already stored; the usage counters and drift run once per organisation and
    transaction too. The acknowledgement still waits for both stores: a request's future
    resolves after the commit, which comes after the telemetry insert returned. Runs on the
    writer's thread only.
    """

    def __init__(self, store: TelemetryStore) -> None:
        self.store = store
        self._claimed: dict[str, set[tuple[str, str]]] = {}
        self._pending: list[TelemetryIngestJob] = []

    def begin(self, jobs: list[TelemetryIngestJob]) -> None:
        self.end()
        # one read of the stored keys per organisation for the jobs that have not read yet
        unread: dict[str, list[TelemetryIngestJob]] = {}
        for job in jobs:
            if job.stored is None:
                unread.setdefault(job.org_id, []).append(job)
        for org_id, group in unread.items():
            keys = sorted({span.key for job in group for span in job.batch.spans})
            stored = self.store.stored_keys(org_id, keys)
            for job in group:
                job.stored = {span.key for span in job.batch.spans if span.key in stored}

    def claim(self, job: TelemetryIngestJob) -> DecodedBatch:
        """``job``'s rows that neither the store nor an earlier job of this transaction holds
        (an exporter's retry can queue the same spans twice)."""
        claimed = self._claimed.setdefault(job.org_id, set())
        stored = job.stored if job.stored is not None else set()
        new = job.batch.without(stored | claimed if claimed else stored)
        claimed.update(span.key for span in new.spans)
        return new

    def add(self, job: TelemetryIngestJob) -> None:
        self._pending.append(job)

    def flush(self, connection: Connection) -> None:
        by_org: dict[str, list[TelemetryIngestJob]] = {}
        for job in self._pending:
            by_org.setdefault(job.org_id, []).append(job)
        for org_id, group in by_org.items():
            # a job written by an attempt whose transaction rolled back is not written again
            parts = [
                (job.new, job.received_at_ns) for job in group if job.new is not None and not job.written
            ]
            try:
                if parts:
                    self.store.write_many(org_id, parts)
            except TelemetryUnavailable:
                raise
            except Exception as error:
                # unreachable or refusing: the relational part rolls back and the exporter retries
                logger.error("aither server: the telemetry store did not take a batch: %r", error)
                raise TelemetryUnavailable(
                    f"the telemetry store did not take the spans ({type(error).__name__}); retry shortly"
                ) from error
            for job in group:
                job.written = True
            # usage and drift once per organisation and transaction, not once per request: each
            # call has a fixed cost (a counter update; reading the newly labelled rows back and
            # saving scores) and sums or windows the rows the same whichever way they are grouped
            periods: defaultdict[int, Counter[str]] = defaultdict(Counter)
            for job in group:
                periods[period_bounds(job.received_at_ns)[0]].update(job.usage())
            for period_start_ns, counts in periods.items():
                add_usage(connection, org_id, period_start_ns, dict(counts))
            new = [job.new for job in group if job.new is not None]
            if new:
                _observe(connection, org_id, DecodedBatch.joined(new))

    def end(self) -> None:
        self._claimed = {}
        self._pending = []


class TelemetryIngestJob:
    """The writer's job for ``POST /v1/traces`` when telemetry lives in a telemetry store.

    Detection (risk levels, relational rollups for the window rules, event rules) runs in the
    writer's relational transaction; the batch's rows go to the telemetry store at the end of
    that transaction (:class:`TelemetryWrites`, with the other requests of the transaction),
    so a failed write there rolls the relational part back and the exporter retries; usage
    and drift take the transaction's rows after that write. ``apply`` may run twice (after a
    batch rollback): the replay check and the telemetry write happen once.
    """

    def __init__(
        self,
        store: TelemetryStore,
        org_id: str,
        batch: DecodedBatch,
        received_at_ns: int,
        hook: TelemetryWrites,
    ) -> None:
        self.store = store
        self.org_id = org_id
        self.batch = batch
        self.received_at_ns = received_at_ns
        self.weight = max(1, len(batch.spans))
        self.hook = hook
        self.stored: set[tuple[str, str]] | None = None
        """The span keys the store held before this job (read once, by the hook)."""
        self.new: DecodedBatch | None = None
        """The rows this job stores (those of the attempt that wrote them, once written)."""
        self.written = False

    def apply(self, connection: Connection) -> IngestResult:
        if not self.written:  # the writer began the hook with this job: ``stored`` is read
            self.new = self.hook.claim(self)
        # written, usage counted and drift observed at the hook's flush (after a rollback, the
        # rows are not written again; the relational part is redone)
        self.hook.add(self)
        new = self.new
        assert new is not None
        if new.llm_calls or new.predictions:
            detect(connection, self.org_id, new.spans, new.llm_calls, new.predictions)
        return IngestResult(
            spans=len(new.spans),
            duplicates=len(self.batch.spans) - len(new.spans),
            predictions=len(new.predictions),
            labels=len(new.labels),
            llm_calls=len(new.llm_calls),
            operations=len(new.operations),
        )

    def usage(self) -> dict[str, int]:
        """What this job adds to the organisation's usage counters."""
        new = self.new
        if new is None:
            return {}
        return {
            "spans": len(new.spans),
            "predictions": len(new.predictions),
            "prediction_rows": sum(p.output_rows or 0 for p in new.predictions),
            "labels": len(new.labels),
            "llm_calls": len(new.llm_calls),
            "operations": len(new.operations),
        }


def _observe(connection: Connection, org_id: str, new: DecodedBatch) -> None:
    """Drift of ``new``, once its rows are in the store (as after the relational label join:
    drift reads the batch's labelled rows back), when it holds rows drift looks at."""
    if new.predictions or new.labels or new.llm_calls or new.operations:
        observe_drift(connection, org_id, new)
