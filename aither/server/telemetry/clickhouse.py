"""The ClickHouse telemetry store: migrations, the batch write, and the reads the API makes.

Spans, predictions, LLM calls, operations, labels and rollups live here; accounts, keys, rules,
anomalies and usage stay in the relational store. Reads answer exactly what the relational
reads answer (a test runs both on the same stream), with the scoring functions shared.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from operator import attrgetter
from typing import Any

from ..detection import rollups as rollup_math
from ..detection.rollups import HOUR_NS, MINUTE_NS, Rollup, RollupKey
from ..ingest.records import DecodedBatch
from ..storage.filters import LabelFilter, LlmCallFilter, Paging, PredictionFilter
from ..storage.queries import Rows, give_labels, parse_json, parse_spans
from ..storage.schema import LATENCY_COLUMNS
from ..storage.window import Window
from . import sealed
from .catalog import CatalogReads
from .client import Executor, NativeExecutor, open_executor, value_set
from .cluster import Shards
from .conditions import equal_sql, partition_sql, read_page, window_sql
from .dashboard import DashboardReads
from .detection import DetectionReads
from .drift import DriftReads
from .labels import ClickHouseLabelJoin, span_number
from .llm import LlmReads
from .metrics import MetricsReads, scope_columns
from .schema import (
    DAY_COLUMNS,
    HISTOGRAM,
    ROLLUP_KEY,
    ROLLUP_SUM_TYPES,
    SEAL_BOOKS,
    TELEMETRY_TABLES,
    pending_migrations,
    record_migration,
)

logger = logging.getLogger("aither.server")

_SPAN_COLUMNS = (
    "trace_id", "span_id", "parent_span_id", "name", "aither_kind", "span_kind", "service_name",
    "scope_name", "start_time_ns", "end_time_ns", "status_code", "status_message", "attributes",
    "events", "links", "resource",
)  # fmt: skip
_PREDICTION_COLUMNS = (
    "trace_id", "span_id", "model_name", "model_version", "environment", "framework", "model_class",
    "method", "input_rows", "output_rows", "features", "prediction", "task", "time_ns", "latency_ms",
    "is_error", "error_message",
)  # fmt: skip
_LLM_COLUMNS = (
    "trace_id", "span_id", "name", "operation", "provider", "request_model", "response_model",
    "input_tokens", "output_tokens", "cost_usd", "finish_reasons", "time_ns", "latency_ms", "is_error",
    "error_type", "client_name", "cache_read_input_tokens", "reasoning_output_tokens", "pii_detected",
    "pii_counts", "injection_score", "injection_detected", "injection_rules", "user_id", "session_id",
    "service", "risk_level",
)  # fmt: skip
_OPERATION_COLUMNS = (
    "trace_id", "span_id", "kind", "name", "span_type", "input", "output", "cost_usd", "metadata",
    "time_ns", "latency_ms", "is_error", "error_message",
)  # fmt: skip
_TRACE_COLUMNS = (
    "trace_id", "span_id", "model_name", "model_version", "environment", "output_rows", "task", "method",
    "time_ns",
)  # fmt: skip
_ONCE = "LIMIT 1 BY span_id"
"""A trace's rows once each, in place of ``FINAL`` (which costs 18.16 tens of ms a table
however few rows it reads): a span stored twice (two servers racing on a replay) is the same
span, so either copy is the row ``FINAL`` would keep."""
_BOOLEANS = frozenset({"is_error", "pii_detected", "injection_detected"})


def _columns(records: Sequence[Any], names: Sequence[str]) -> list[list[Any]]:
    """The values of ``names`` of ``records``, column by column (booleans as 0/1, as stored)."""
    out = []
    for name in names:
        values = list(map(attrgetter(name), records))
        if name in _BOOLEANS:
            values = [None if value is None else int(value) for value in values]
        out.append(values)
    return out


def _wait(futures: Sequence[Future[None]]) -> None:
    """Wait for every insert of ``futures``; then raise the first one's error, if any."""
    errors = [error for error in (future.exception() for future in futures) if error is not None]
    if errors:
        raise errors[0]


def _apply_migrations(x: Executor, db: str, up_to: int | None) -> list[int]:
    """Apply to ``db`` the migrations its ``schema_migrations`` does not list; the versions applied."""
    applied = []
    for version, description, statements in pending_migrations(x, db, up_to):
        for statement in statements:  # each IF NOT EXISTS: a migration cut short runs again
            x.execute(statement.format(db=db))
        record_migration(x, db, version, description)
        applied.append(version)
    return applied


def _await_mutations(x: Executor, db: str, deadline_s: float = 300.0) -> None:
    """Wait until the mutations of ``db`` are done (18.16 has no ``mutations_sync``)."""
    deadline = time.monotonic() + deadline_s
    pause = threading.Event()
    pending = "SELECT count() FROM system.mutations WHERE database = %(db)s AND NOT is_done"
    while x.execute(pending, {"db": db})[0][0]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"ClickHouse's deletes did not finish within {deadline_s:.0f} s")
        pause.wait(0.05)


class ClickHouseStore(LlmReads, CatalogReads, MetricsReads, DetectionReads, DriftReads, DashboardReads):
    """Telemetry in ClickHouse (a server, or chDB in-process). Thread-safe."""

    def __init__(self, executor: Executor) -> None:
        self.x = executor
        self.db = executor.database
        self.engine = executor.engine
        self._version_lock = threading.Lock()
        self._last_version = 0
        self.shards: Shards | None = None
        """A cluster's nodes (``cluster=`` in the URL): the tables' rows live in each node's
        local database, and ``db`` holds ``Distributed`` tables over them."""
        if executor.cluster is not None:
            assert isinstance(executor, NativeExecutor)  # chDB refuses cluster= up front
            self.shards = Shards(executor, executor.cluster)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _locals(self) -> list[tuple[Executor, str]]:
        """Where the tables' rows live: each node's local database, or the one database."""
        if self.shards is None:
            return [(self.x, self.db)]
        return [(node, node.database) for node in self.shards.nodes]

    @classmethod
    def open(cls, url: str, *, up_to: int | None = None) -> ClickHouseStore:
        """Connect and apply the migrations not yet applied."""
        executor = open_executor(url)
        try:
            store = cls(executor)
        except Exception:
            executor.close()
            raise
        try:
            store.migrate(up_to)
        except Exception:
            store.close()
            raise
        return store

    def migrate(self, up_to: int | None = None) -> list[int]:
        """Apply the migrations ``schema_migrations`` does not list (up to ``up_to``, for tests of
        an upgrade); the versions applied. On a cluster: to every node's local database, then
        the entry's ``Distributed`` tables."""
        applied: set[int] = set()
        for x, db in self._locals():
            applied.update(_apply_migrations(x, db, up_to))
        if self.shards is not None:
            applied.update(self.shards.distribute(up_to))
        return sorted(applied)

    def seal(self, now_ns: int | None = None, held: Callable[[], bool] | None = None) -> int:
        """Seal the hours past their grace period, and compute again those written into since
        (:func:`.sealed.seal`); the hours computed. One server runs it: the lease's holder
        (``held``: whether it still is)."""
        return sealed.seal(self.x, self.db, now_ns, held)

    def migrations(self) -> list[int]:
        """The versions applied, in order."""
        return sorted(row[0] for row in self.x.execute(f"SELECT version FROM {self.db}.schema_migrations"))

    def close(self) -> None:
        if self.shards is not None:
            self.shards.close()
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
        self.x.close()

    def _next_version(self) -> int:
        # versions order the label join's changes; two per write (withdrawn rows, then new ones)
        with self._version_lock:
            self._last_version = max(self._last_version + 2, time.time_ns())
            return self._last_version

    # --- writes ------------------------------------------------------------------------------

    def stored_keys(self, org_id: str, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """The (trace id, span id) pairs of ``keys`` the organisation already holds."""
        if not keys:
            return set()
        rows = self.x.execute(
            f"SELECT trace_id, span_id FROM {self.db}.spans WHERE org_id = %(org)s AND span_id IN %(ids)s",
            {"org": org_id, "ids": value_set(sorted({span_id for _, span_id in keys}))},
        )
        wanted = set(keys)
        return {(trace_id, span_id) for trace_id, span_id in rows if (trace_id, span_id) in wanted}

    def write(self, org_id: str, batch: DecodedBatch, received_at_ns: int) -> None:
        """Store a batch's new rows (replays already left out) and join its labels."""
        self.write_many(org_id, [(batch, received_at_ns)])

    def write_many(self, org_id: str, parts: Sequence[tuple[DecodedBatch, int]]) -> None:
        """Store the new rows of several batches (each with the time it was received) with one
        insert per table, and join their labels together.

        Predictions go first, so the label join of the same batch finds them; spans last, so
        that a span the replay check finds has all its rows stored.
        """
        db = self.db
        spans = [span for batch, _ in parts for span in batch.spans]
        predictions = [p for batch, _ in parts for p in batch.predictions]
        labels = [label for batch, _ in parts for label in batch.labels]
        llm_calls = [call for batch, _ in parts for call in batch.llm_calls]
        operations = [o for batch, _ in parts for o in batch.operations]
        received = [received_at_ns for batch, received_at_ns in parts for _ in batch.spans]
        services = {span.key: span.service_name or "" for span in spans}
        rollup_rows = []
        for key, rollup in rollup_math.collect(llm_calls, predictions, services).items():
            row = rollup.to_row()
            sums = (row[name] for name in ROLLUP_SUM_TYPES)
            histogram = [round(count) for count in rollup.histogram]
            rollup_rows.append((org_id, *key, *sums, histogram, rollup.latency_max_ms))
        # each insert waits mostly on the server writing its part's files: the tables' inserts
        # run side by side, the label join as soon as the predictions it reads are in. The
        # spans go last: the replay check reads them, so a server killed mid-write leaves no
        # spans whose other rows are missing, and the exporter's retry writes the batch again
        first = [
            self._submit(
                f"{db}.prediction_traces",
                ("org_id", *_TRACE_COLUMNS),
                [[org_id] * len(predictions), *_columns(predictions, _TRACE_COLUMNS)],
            ),
            self._submit(*self._records("predictions", _PREDICTION_COLUMNS, org_id, predictions)),
        ]
        rest = [
            self._submit(*self._records("llm_calls", _LLM_COLUMNS, org_id, llm_calls)),
            self._submit(*self._records("operations", _OPERATION_COLUMNS, org_id, operations)),
            self._submit(
                f"{db}.rollup_input",
                (*ROLLUP_KEY, *ROLLUP_SUM_TYPES, HISTOGRAM, "latency_max_ms"),
                [list(column) for column in zip(*rollup_rows, strict=True)],
            ),
        ]
        label_times: set[int] = set()
        try:
            _wait(first)
            if predictions or labels:
                join = ClickHouseLabelJoin(self.x, org_id, self._next_version())
                join.join(predictions, labels)
                label_times = join.times_ns
        finally:
            _wait(rest)
        # the past hours written into, once their rows are stored: read from the rows until
        # the sealing job has computed them again (before the spans: a retry marks them again)
        now = time.time_ns()
        sealed.mark(
            self.x,
            db,
            {
                "predictions": sealed.hours_to_mark((p.time_ns for p in predictions), now),
                "labels": sealed.hours_to_mark(label_times, now),
                "llm": sealed.hours_to_mark((call.time_ns for call in llm_calls), now),
            },
        )
        self.x.insert_columns(
            f"{db}.spans",
            ("org_id", *_SPAN_COLUMNS, "received_at_ns"),
            [[org_id] * len(spans), *_columns(spans, _SPAN_COLUMNS), received],
        )

    def _submit(self, table: str, columns: Sequence[str], data: list[list[Any]]) -> Future[None]:
        """Insert ``data`` (column by column) on the store's insert threads."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(4, thread_name_prefix="aither-clickhouse-insert")
            return self._pool.submit(self.x.insert_columns, table, columns, data)

    def _records(
        self, table: str, columns: Sequence[str], org_id: str, records: Sequence[Any]
    ) -> tuple[str, tuple[str, ...], list[list[Any]]]:
        """The insert of typed records into ``table``, each with its ``id`` (its span id as a
        number): (table, columns, data)."""
        return (
            f"{self.db}.{table}",
            ("org_id", "id", *columns),
            [[org_id] * len(records), [span_number(r.span_id) for r in records], *_columns(records, columns)],
        )

    def prune(self, before_ns: int, org_id: str | None = None) -> dict[str, int]:
        """Delete telemetry older than ``before_ns``; the rows deleted per table.

        Of every organisation (retention): drop the day partitions wholly before the cutoff,
        in place of the ``TTL`` that 18.16 lacks, so the newest day goes when it is wholly past
        (a label's versions share its day, and a labelled row's its prediction's, so a key
        never loses only some versions). Of one organisation (``POST /api/v1/prune``): an
        ``ALTER TABLE ... DELETE`` of its rows before the cutoff's second, waited for (a
        mutation rewrites the parts it touches: dear, and meant for a rare, explicit prune).
        """
        cutoff_s = max(before_ns, 0) // 1_000_000_000
        deleted: dict[str, int] = {}
        if org_id is None:
            day = time.strftime("%Y%m%d", time.gmtime(cutoff_s))
            for x, db in self._locals():
                parts = x.execute(
                    "SELECT table, partition, sum(rows) FROM system.parts "
                    "WHERE database = %(db)s AND table IN %(tables)s AND active AND partition < %(day)s "
                    "GROUP BY table, partition",
                    {"db": db, "tables": TELEMETRY_TABLES, "day": day},
                )
                for table, partition, rows in parts:
                    x.execute(f"ALTER TABLE {db}.{table} DROP PARTITION {partition}")
                    deleted[table] = deleted.get(table, 0) + int(rows)
            return deleted
        # the cutoff's hour loses some of its rows: read from the rows until computed again
        cut_hour = cutoff_s * 1_000_000_000 // sealed.HOUR_NS * sealed.HOUR_NS
        sealed.mark(self.x, self.db, {kind: [cut_hour] for kind in sealed.KINDS})
        for x, db in self._locals():
            for table in TELEMETRY_TABLES:
                if table in SEAL_BOOKS:
                    continue
                day_column = DAY_COLUMNS.get(table, "time")
                where = f"org_id = %(org)s AND {day_column} < toDateTime(%(cutoff)s)"
                params = {"org": org_id, "cutoff": cutoff_s}
                ((rows,),) = x.execute(f"SELECT count() FROM {db}.{table} WHERE {where}", params)
                if rows:
                    x.execute(f"ALTER TABLE {db}.{table} DELETE WHERE {where}", params)
                    deleted[table] = deleted.get(table, 0) + int(rows)
        for x, db in self._locals():
            _await_mutations(x, db)
        return deleted

    # --- reads -------------------------------------------------------------------------------

    def read_rollups(
        self, org_id: str, since_ns: int | None, until_ns: int | None
    ) -> list[tuple[RollupKey, Rollup]]:
        """The rollups of ``since <= minute < until`` summed per (kind, model, version), as the
        relational stats read sums them: whole hours from ``rollups_hourly``, the minutes around
        them from ``rollups``; keys with the minute 0 and the service and environment '' (stats
        reads neither). A month is then 720 hourly rows a key, not 43,200 minutes."""
        since = rollup_math._minute(since_ns) if since_ns is not None else None
        # the first minute not counted: minute < until is minute < until rounded up to a minute
        end = None if until_ns is None else -(-until_ns // MINUTE_NS) * MINUTE_NS
        first_hour = None if since is None else -(-since // HOUR_NS) * HOUR_NS
        last_hour = None if end is None else end // HOUR_NS * HOUR_NS
        if first_hour is not None and last_hour is not None and first_hour >= last_hour:
            tiers = [("rollups", "minute", Window(since, end))]
        else:
            tiers = [("rollups_hourly", "hour", Window(first_hour, last_hour))]
            if since is not None and since != first_hour:
                tiers.append(("rollups", "minute", Window(since, first_hour)))
            if end is not None and end != last_hour:
                tiers.append(("rollups", "minute", Window(last_hour, end)))
        sums = ", ".join(f"sumMerge({name})" for name in ROLLUP_SUM_TYPES)
        totals: dict[RollupKey, Rollup] = {}
        for table, time_column, window in tiers:
            where, params = window_sql(window, f"{time_column}_ns")
            where += partition_sql(window, time_column)
            for row in self.x.execute(
                f"SELECT kind, model, version, {sums}, sumForEachMerge({HISTOGRAM}), "
                f"maxMerge(latency_max_ms) FROM {self.db}.{table} "
                f"WHERE org_id = %(org)s{where} GROUP BY kind, model, version",
                {"org": org_id, **params},
            ):
                sums_of = dict(zip(ROLLUP_SUM_TYPES, row[3:-2], strict=True))
                histogram = [float(count) for count in row[-2]]
                sums_of.update(zip(LATENCY_COLUMNS, histogram, strict=True), latency_max_ms=row[-1])
                key = (0, row[0], "", row[1], row[2], "")
                totals.setdefault(key, Rollup()).merge(Rollup.from_row(sums_of))
        return list(totals.items())

    def label_status_counts(self, org_id: str, model: str | None) -> dict[str, int]:
        """Labels by join status: those naming ``model``, or naming none when it is None."""
        # whole sealed hours from their aggregates, the rest from the labels' newest versions
        named = {"model_key": model or "", "model_null": int(model is None)}
        found = sealed.combined(
            self.x, self.db, sealed.LABELS, org_id, Window(), ("status_key",), equal=named
        )
        return {status: int(count) for status, count in found}

    def list_predictions(self, org_id: str, where: PredictionFilter, page: Paging) -> Rows:
        """A page of predictions, newest first (as :func:`aither.server.storage.queries.list_predictions`)."""
        sql, params = window_sql(where.window, "time_ns")
        sql += equal_sql(scope_columns(where), params)
        if where.error is not None:
            sql += f" AND is_error = {int(where.error)}"
        if where.labelled is not None:
            found_in = "IN" if where.labelled else "NOT IN"
            sql += (
                f" AND (trace_id, span_id) {found_in} "
                f"(SELECT pred_trace_id, pred_span_id FROM {self._label_rows('{pred_bound}')})"
            )
        rows, next_cursor = read_page(
            self.x,
            f"{self.db}.predictions FINAL",
            ("id", *_PREDICTION_COLUMNS),
            f"org_id = %(org)s{{bound}}{sql}",
            {**params, "org": org_id},
            page,
            keys_from=f"{self.db}.predictions",
        )
        self._attach_labels(org_id, rows)
        return rows, next_cursor

    def _attach_labels(self, org_id: str, rows: list[dict[str, Any]]) -> None:
        """Give each prediction its labelled-row count and true values (``label`` for one row,
        ``labels`` {row: value} for the first 1000), its JSON parsed."""
        values: dict[tuple[str, str], dict[int, Any]] = defaultdict(dict)
        counts: dict[tuple[str, str], int] = defaultdict(int)
        if rows:
            keys = value_set([(row["trace_id"], row["span_id"]) for row in rows])
            # a labelled row carries its prediction's time: the rows' times bound the read
            window = Window(min(row["time_ns"] for row in rows), max(row["time_ns"] for row in rows) + 1)
            bounds, params = window_sql(window, "pred_time_ns")
            bounds += partition_sql(window)
            for trace_id, span_id, row_index, value in self.x.execute(
                "SELECT pred_trace_id, pred_span_id, row_index, value FROM "
                + self._label_rows(f"AND (pred_trace_id, pred_span_id) IN %(keys)s{bounds}"),
                {"org": org_id, "keys": keys, **params},
            ):
                counts[(trace_id, span_id)] += 1
                if row_index < 1000:
                    values[(trace_id, span_id)][row_index] = parse_json(value)
        for row in rows:
            key = (row["trace_id"], row["span_id"])
            row["is_error"] = bool(row["is_error"])
            row["labelled_rows"] = counts.get(key, 0)
            give_labels(row, values.get(key, {}))

    def get_trace(self, org_id: str, trace_id: str) -> dict[str, Any] | None:
        """Every span of a trace with its typed rows (as :func:`aither.server.storage.queries.get_trace`);
        None when the organisation has none. Rows sort by time, then span id.

        The trace's spans and their start times come from ``span_traces`` (ordered by trace);
        every row of a span carries the span's start as its ``time_ns``, so the rows of the
        trace are read by the spans' keys and between the first and last start, in the day
        partitions those span: no table is scanned for the trace id."""
        spans_of = self.x.execute(
            f"SELECT span_id, start_time_ns FROM {self.db}.span_traces "
            "WHERE org_id = %(org)s AND trace_id = %(trace)s",
            {"org": org_id, "trace": trace_id},
        )
        if not spans_of:
            return None
        first = min(int(start) for _, start in spans_of)
        last = max(int(start) for _, start in spans_of)
        window = Window(first, last + 1)
        params = {"org": org_id, "trace": trace_id, "ids": value_set(sorted({s for s, _ in spans_of}))}
        bounds, window_params = window_sql(window, "time_ns")
        bounds += partition_sql(window)
        params.update(window_params)
        where = f"WHERE org_id = %(org)s AND trace_id = %(trace)s{bounds}"
        found = self.x.execute(
            f"SELECT {', '.join(_SPAN_COLUMNS)} FROM {self.db}.spans WHERE org_id = %(org)s "
            f"AND span_id IN %(ids)s AND trace_id = %(trace)s{partition_sql(window)} "
            f"ORDER BY start_time_ns, span_id {_ONCE}",
            params,
        )
        if not found:
            return None
        span_rows = [dict(zip(_SPAN_COLUMNS, row, strict=True)) for row in found]
        columns = ("id", *_PREDICTION_COLUMNS)
        prediction_rows = [
            dict(zip(columns, row, strict=True))
            for row in self.x.execute(
                f"SELECT {', '.join(columns)} FROM {self.db}.predictions {where} "
                f"ORDER BY time_ns, id {_ONCE}",
                params,
            )
        ]
        texts = {row["span_id"]: (row["features"], row["prediction"]) for row in prediction_rows}
        self._attach_labels(org_id, prediction_rows)
        parse_spans(span_rows, texts)
        labels, _ = self.list_labels(
            org_id, LabelFilter(trace_id=trace_id), Paging(limit=10_000), window=window
        )
        llm_rows, _ = self.list_llm_calls(
            org_id, LlmCallFilter(trace_id=trace_id, window=window), Paging(limit=10_000)
        )
        operations = [
            dict(zip(("id", *_OPERATION_COLUMNS), row, strict=True))
            for row in self.x.execute(
                f"SELECT id, {', '.join(_OPERATION_COLUMNS)} FROM {self.db}.operations {where} "
                f"ORDER BY time_ns, id {_ONCE}",
                params,
            )
        ]
        for row in operations:
            row["is_error"] = bool(row["is_error"])
            for key in ("input", "output", "metadata"):
                row[key] = parse_json(row[key])
        return {
            "trace_id": trace_id,
            "spans": span_rows,
            "predictions": prediction_rows,
            "labels": labels,
            "llm_calls": sorted(llm_rows, key=lambda row: (row["time_ns"], row["id"])),
            "operations": operations,
        }
