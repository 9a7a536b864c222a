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
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import Connection

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

if TYPE_CHECKING:  # the dashboard's routes import the storage, which imports this lazily
    from ..dashboard.queries import Bucket, Quality

__all__ = ["TelemetryIngestJob", "TelemetryStore", "TelemetryUnavailable", "open_telemetry_store"]

logger = logging.getLogger("aither.server")


class TelemetryStore(Protocol):
    """What a telemetry backend implements: the batch write and the main reads.

    Thread-safe: reads run on the request threads, writes on the server's one writer thread.
    A store that does not answer raises :class:`TelemetryUnavailable` (503 with ``Retry-After``
    on every route); reads answer exactly what the relational reads of the same name answer.
    """

    engine: str
    """The backend, for ``/healthz`` and logs (``clickhouse`` or ``chdb``)."""

    def stored_keys(self, org_id: str, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]: ...

    def write(self, org_id: str, batch: DecodedBatch, received_at_ns: int) -> None: ...

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

    def dashboard_buckets(
        self,
        org_id: str,
        kind: str,
        since_ns: int,
        until_ns: int,
        bucket_ns: int,
        *,
        by_model: bool,
        by_version: bool,
        model: str | None = None,
        version: str | None = None,
    ) -> dict[tuple[str, ...], dict[int, Bucket]]: ...

    def dashboard_histograms(
        self, org_id: str, kind: str, since_ns: int, until_ns: int, *, by_version: bool
    ) -> dict[tuple[str, ...], list[int]]: ...

    def newest_prediction(
        self, org_id: str, name: str, version: str, window: Window
    ) -> tuple[int | None, str | None]: ...

    def newest_call(self, org_id: str, model: str, window: Window) -> tuple[int | None, Any]: ...

    def quality(
        self, org_id: str, model: str, version: str | None, window: Window, since_ns: int, bucket_ns: int
    ) -> dict[int, Quality]: ...

    def newest_times(self, org_id: str) -> list[int | None]: ...

    def prune(self, before_ns: int, org_id: str | None = None) -> dict[str, int]: ...

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


class TelemetryIngestJob:
    """The writer's job for ``POST /v1/traces`` when telemetry lives in a telemetry store.

    Detection (risk levels, relational rollups for the window rules, event rules) and usage run
    in the writer's relational transaction; the batch's rows go to the telemetry store next, so
    a failed write there rolls the relational part back and the exporter retries; drift runs
    last (as after the relational label join: it reads the batch's labelled rows back). ``apply`` may
    run twice (after a batch rollback): the replay check and the telemetry write happen once.
    """

    def __init__(self, store: TelemetryStore, org_id: str, batch: DecodedBatch, received_at_ns: int) -> None:
        self.store = store
        self.org_id = org_id
        self.batch = batch
        self.received_at_ns = received_at_ns
        self.weight = max(1, len(batch.spans))
        self._new: DecodedBatch | None = None
        self._written = False

    def _new_rows(self) -> DecodedBatch:
        if self._new is None:
            batch = self.batch
            stored = self.store.stored_keys(self.org_id, [span.key for span in batch.spans])

            def new(records: list[Any]) -> list[Any]:
                return [r for r in records if (r.trace_id, r.span_id) not in stored]

            self._new = DecodedBatch(
                spans=new(batch.spans),
                predictions=new(batch.predictions),
                labels=new(batch.labels),
                llm_calls=new(batch.llm_calls),
                operations=new(batch.operations),
            )
        return self._new

    def apply(self, connection: Connection) -> IngestResult:
        new = self._new_rows()
        if new.llm_calls or new.predictions:
            detect(connection, self.org_id, new.spans, new.llm_calls, new.predictions)
        result = IngestResult(
            spans=len(new.spans),
            duplicates=len(self.batch.spans) - len(new.spans),
            predictions=len(new.predictions),
            labels=len(new.labels),
            llm_calls=len(new.llm_calls),
            operations=len(new.operations),
        )
        add_usage(
            connection,
            self.org_id,
            period_bounds(self.received_at_ns)[0],
            {
                "spans": result.spans,
                "predictions": result.predictions,
                "prediction_rows": sum(p.output_rows or 0 for p in new.predictions),
                "labels": result.labels,
                "llm_calls": result.llm_calls,
                "operations": result.operations,
            },
        )
        if not self._written:
            try:
                self.store.write(self.org_id, new, self.received_at_ns)
            except TelemetryUnavailable:
                raise
            except Exception as error:
                # unreachable or refusing: the relational part rolls back and the exporter retries
                logger.error("aither server: the telemetry store did not take a batch: %r", error)
                raise TelemetryUnavailable(
                    f"the telemetry store did not take the spans ({type(error).__name__}); retry shortly"
                ) from error
            self._written = True
        if new.predictions or new.labels or new.llm_calls or new.operations:
            # after the write, as after the relational join: the batch's labelled rows are stored
            observe_drift(connection, self.org_id, new)
        return result
