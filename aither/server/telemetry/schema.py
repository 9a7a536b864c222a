"""The ClickHouse tables of the telemetry store, as numbered migrations.

Written in the SQL that ClickHouse 18.16 (Debian's) and chDB 26.x both accept: nanosecond times
are ``UInt64`` beside a ``DateTime``/``Date`` that partitions the table (18.16 has no
``DateTime64``), no ``LowCardinality``, no ``TTL`` (18.16 has none: retention drops whole day
partitions instead). Replays are stored once by the engine: the immutable tables are
``ReplacingMergeTree`` keyed by span id and read with ``FINAL``; labels and labelled rows change
as the join re-places them, so each change is a new row with a higher ``version`` and reads take
``argMax(column, version)`` per key. Rollups go into a ``Null`` table whose materialized view
folds them into an ``AggregatingMergeTree`` (sums and a max, one row per key once merged).

A migration is applied once; ``schema_migrations`` records which.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .client import Executor

ROLLUP_KEY = ("org_id", "minute_ns", "kind", "service", "model", "version", "environment")
ROLLUP_SUM_TYPES = {
    "count": "UInt64",
    "errors": "UInt64",
    "latency_sum_ms": "Float64",
    "cost_usd": "Float64",
    "cost_calls": "UInt64",
    "input_tokens": "UInt64",
    "output_tokens": "UInt64",
    "pii_calls": "UInt64",
    "injection_calls": "UInt64",
    "rows": "UInt64",
}
"""The summed scalar columns of the rollups; the latency histogram is one ``Array(UInt64)``
(``latency_histogram``, summed element-wise with ``sumForEach``): each column of a table costs
an insert its own files, and 34 bucket columns made the rollups the dearest insert of a batch."""
HISTOGRAM = "latency_histogram"

_SECONDS = "toDateTime(intDiv({column}, 1000000000))"


def _replacing(name: str, columns: str, time_column: str, order_by: str, version: str = "") -> str:
    return f"""CREATE TABLE IF NOT EXISTS {{db}}.{name} (
{columns},
    time DateTime DEFAULT {_SECONDS.format(column=time_column)}
) ENGINE = ReplacingMergeTree({version}) PARTITION BY toYYYYMMDD(time) ORDER BY ({order_by})"""


def _span_record(name: str, columns: str, order_by: str, version: str = "") -> str:
    """A table of records decoded from spans: the organisation, the trace and span the record
    came from and its ``id`` (the span id as a number), then ``columns``; partitioned by the
    record's time. ``columns`` go on the first line of the column list."""
    return _replacing(
        name,
        f"    org_id String, trace_id String, span_id String, id UInt64, {columns}",
        "time_ns",
        order_by,
        version,
    )


_SPANS = _replacing(
    "spans",
    """    org_id String, trace_id String, span_id String, parent_span_id Nullable(String),
    name String, aither_kind Nullable(String), span_kind Int16, service_name Nullable(String),
    scope_name Nullable(String), start_time_ns UInt64, end_time_ns UInt64, status_code Int16,
    status_message Nullable(String), attributes String, events Nullable(String),
    links Nullable(String), resource Nullable(String), received_at_ns UInt64""",
    "start_time_ns",
    # the replay check looks spans up by id: 64 random bits, so the index skips nearly everything
    "org_id, span_id, trace_id",
)

_PREDICTIONS = _span_record(
    "predictions",
    """model_name String,
    model_version Nullable(String), environment Nullable(String), framework Nullable(String),
    model_class Nullable(String), method Nullable(String), input_rows Nullable(Int64),
    output_rows Nullable(Int64), features Nullable(String), prediction Nullable(String),
    task Nullable(String), time_ns UInt64, latency_ms Float64, is_error UInt8,
    error_message Nullable(String)""",
    # metrics and lists read one model over a time range
    "org_id, model_name, time_ns, trace_id, span_id",
)

_LLM_CALLS = _span_record(
    "llm_calls",
    """name String,
    operation Nullable(String), provider Nullable(String), request_model Nullable(String),
    response_model Nullable(String), input_tokens Nullable(Int64), output_tokens Nullable(Int64),
    cost_usd Nullable(Float64), finish_reasons Nullable(String), time_ns UInt64,
    latency_ms Float64, is_error UInt8, error_type Nullable(String), client_name Nullable(String),
    cache_read_input_tokens Nullable(Int64), reasoning_output_tokens Nullable(Int64),
    pii_detected Nullable(UInt8), pii_counts Nullable(String), injection_score Nullable(Float64),
    injection_detected Nullable(UInt8), injection_rules Nullable(String), user_id Nullable(String),
    session_id Nullable(String), service Nullable(String), risk_level Nullable(String)""",
    "org_id, time_ns, trace_id, span_id",
)

_OPERATIONS = _span_record(
    "operations",
    """kind String, name String,
    span_type Nullable(String), input Nullable(String), output Nullable(String),
    cost_usd Nullable(Float64), metadata Nullable(String), time_ns UInt64, latency_ms Float64,
    is_error UInt8, error_message Nullable(String)""",
    "org_id, time_ns, trace_id, span_id",
)

_LABELS = _span_record(
    "labels",
    """target_span_id Nullable(String),
    model_name Nullable(String), value Nullable(String), is_batch UInt8,
    row_indices Nullable(String), time_ns UInt64, status String, join_rule Nullable(String),
    prediction_trace_id Nullable(String), prediction_span_id Nullable(String),
    prediction_model Nullable(String), rows Int64, message Nullable(String), version UInt64""",
    "org_id, trace_id, span_id",
    "version",
)

_LABEL_ROWS = _replacing(
    "label_rows",
    """    org_id String, model_name String, pred_trace_id String, pred_span_id String,
    row_index Int64, label_trace_id String, label_span_id String,
    model_version Nullable(String), environment Nullable(String), task Nullable(String),
    pred_class Nullable(String), pred_num Nullable(Float64), label_class Nullable(String),
    label_num Nullable(Float64), value Nullable(String), pred_time_ns UInt64,
    label_time_ns UInt64, deleted UInt8, version UInt64""",
    # partitioned by the prediction's time, which every version of a row shares
    "pred_time_ns",
    "org_id, model_name, pred_trace_id, pred_span_id, row_index",
    "version",
)

_ROLLUP_INPUT = (
    "CREATE TABLE IF NOT EXISTS {db}.rollup_input (org_id String, minute_ns UInt64, kind String, "
    "service String, model String, version String, environment String, "
    + ", ".join(f"{name} {kind}" for name, kind in ROLLUP_SUM_TYPES.items())
    + f", {HISTOGRAM} Array(UInt64), latency_max_ms Float64) ENGINE = Null"
)
_ROLLUPS = (
    "CREATE TABLE IF NOT EXISTS {db}.rollups (org_id String, minute_ns UInt64, kind String, "
    "service String, model String, version String, environment String, "
    + ", ".join(f"{name} AggregateFunction(sum, {kind})" for name, kind in ROLLUP_SUM_TYPES.items())
    + f", {HISTOGRAM} AggregateFunction(sumForEach, Array(UInt64))"
    + ", latency_max_ms AggregateFunction(max, Float64), "
    f"minute DateTime DEFAULT {_SECONDS.format(column='minute_ns')}"
    ") ENGINE = AggregatingMergeTree() PARTITION BY toYYYYMMDD(minute) "
    f"ORDER BY ({', '.join(ROLLUP_KEY)})"
)
_ROLLUPS_VIEW = (
    "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollups_view TO {db}.rollups AS SELECT "
    + ", ".join(ROLLUP_KEY)
    + ", "
    + ", ".join(f"sumState({name}) AS {name}" for name in ROLLUP_SUM_TYPES)
    + f", sumForEachState({HISTOGRAM}) AS {HISTOGRAM}"
    + f", maxState(latency_max_ms) AS latency_max_ms, {_SECONDS.format(column='minute_ns')} AS minute"
    + " FROM {db}.rollup_input GROUP BY "
    + ", ".join(ROLLUP_KEY)
)

_PREDICTION_TRACE_COLUMNS = (
    "org_id, trace_id, span_id, model_name, model_version, environment, output_rows, task, method, time_ns"
)
_PREDICTION_TRACES = _replacing(
    "prediction_traces",
    """    org_id String, trace_id String, span_id String, model_name String,
    model_version Nullable(String), environment Nullable(String), output_rows Nullable(Int64),
    task Nullable(String), method Nullable(String), time_ns UInt64""",
    "time_ns",
    "org_id, trace_id, span_id",
)
# the predictions already stored (a rerun of a cut-short migration doubles none: replaced by key)
_PREDICTION_TRACES_BACKFILL = (
    f"INSERT INTO {{db}}.prediction_traces ({_PREDICTION_TRACE_COLUMNS}) "
    f"SELECT {_PREDICTION_TRACE_COLUMNS} FROM {{db}}.predictions FINAL"
)

_HOUR = "intDiv(minute_ns, 3600000000000) * 3600000000000"
_ROLLUPS_HOURLY = (
    _ROLLUPS.replace("{db}.rollups (", "{db}.rollups_hourly (")
    .replace("minute_ns UInt64", "hour_ns UInt64")
    .replace("column='minute_ns'", "column='hour_ns'")
    .replace(
        "minute DateTime DEFAULT toDateTime(intDiv(minute_ns,",
        "hour DateTime DEFAULT toDateTime(intDiv(hour_ns,",
    )
    .replace("PARTITION BY toYYYYMMDD(minute)", "PARTITION BY toYYYYMMDD(hour)")
    .replace("ORDER BY (org_id, minute_ns,", "ORDER BY (org_id, hour_ns,")
)
_HOURLY_KEY = ", ".join(("org_id", f"{_HOUR} AS hour_ns", *ROLLUP_KEY[2:]))
_HOURLY_GROUP = ", ".join(("org_id", "hour_ns", *ROLLUP_KEY[2:]))
_HOURLY_HOUR = _SECONDS.format(column="hour_ns")
_ROLLUPS_HOURLY_VIEW = (
    "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.rollups_hourly_view TO {db}.rollups_hourly AS SELECT "
    + _HOURLY_KEY
    + ", "
    + ", ".join(f"sumState({name}) AS {name}" for name in ROLLUP_SUM_TYPES)
    + f", sumForEachState({HISTOGRAM}) AS {HISTOGRAM}"
    + f", maxState(latency_max_ms) AS latency_max_ms, {_HOURLY_HOUR} AS hour"
    + " FROM {db}.rollup_input GROUP BY "
    + _HOURLY_GROUP
)
# the rollups already stored, once: a rerun of a cut-short migration finds the table filled
_ROLLUPS_HOURLY_BACKFILL = (
    "INSERT INTO {db}.rollups_hourly SELECT "
    + _HOURLY_KEY
    + ", "
    + ", ".join(f"sumMergeState({name}) AS {name}" for name in ROLLUP_SUM_TYPES)
    + f", sumForEachMergeState({HISTOGRAM}) AS {HISTOGRAM}"
    + f", maxMergeState(latency_max_ms) AS latency_max_ms, {_HOURLY_HOUR} AS hour"
    + " FROM {db}.rollups WHERE (SELECT count() FROM {db}.rollups_hourly) = 0 GROUP BY "
    + _HOURLY_GROUP
)

_SPAN_TRACES = _replacing(
    "span_traces",
    "    org_id String, trace_id String, span_id String, start_time_ns UInt64",
    "start_time_ns",
    "org_id, trace_id, span_id",
)
_SPAN_TRACES_COLUMNS = "org_id, trace_id, span_id, start_time_ns, time"
_SPAN_TRACES_VIEW = (
    "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.span_traces_view TO {db}.span_traces AS "
    f"SELECT {_SPAN_TRACES_COLUMNS} FROM {{db}}.spans"
)
_SPAN_TRACES_BACKFILL = (
    f"INSERT INTO {{db}}.span_traces ({_SPAN_TRACES_COLUMNS}) SELECT {_SPAN_TRACES_COLUMNS} FROM {{db}}.spans"
)

_HOUR_DAY = f"hour DateTime DEFAULT {_SECONDS.format(column='hour_ns')}"
_SEALED_HOURS = (
    "CREATE TABLE IF NOT EXISTS {db}.sealed_hours (hour_ns UInt64, kind String, seal UInt64, "
    f"{_HOUR_DAY}) ENGINE = MergeTree() PARTITION BY toYYYYMMDD(hour) ORDER BY (kind, hour_ns, seal)"
)
_SEAL_DIRTY = (
    "CREATE TABLE IF NOT EXISTS {db}.seal_dirty (hour_ns UInt64, kind String, marker UInt64, "
    f"resolved UInt8, {_HOUR_DAY}) ENGINE = ReplacingMergeTree(resolved) PARTITION BY toYYYYMMDD(hour) "
    "ORDER BY (kind, hour_ns, marker)"
)


def _sealed(name: str, columns: str, order_by: str) -> str:
    """An aggregate table of sealed hours: each (hour, seal) one computation of the hour."""
    return (
        f"CREATE TABLE IF NOT EXISTS {{db}}.{name} (org_id String, hour_ns UInt64, seal UInt64, "
        f"{columns}, {_HOUR_DAY}) ENGINE = MergeTree() PARTITION BY toYYYYMMDD(hour) "
        f"ORDER BY ({order_by})"
    )


_SEALED_PREDICTIONS = _sealed(
    "sealed_predictions",
    "model_name String, version String, version_null UInt8, env String, env_null UInt8, "
    "predictions UInt64, out_rows Int64, errors UInt64, latency_sum Float64, first_ns UInt64, "
    "last_ns UInt64, last_task String, max_framework Nullable(String), "
    "max_model_class Nullable(String), max_task Nullable(String), latency_histogram Array(UInt64)",
    "org_id, model_name, hour_ns, seal",
)
_SEALED_LABEL_ROWS = _sealed(
    "sealed_label_rows",
    "model_name String, version String, version_null UInt8, env String, env_null UInt8, "
    "task_key String, pair UInt8, pred_key String, label_key String, labelled UInt64, correct UInt64, "
    "classified UInt64, num_rows UInt64, abs_err_sum Float64, sq_err_sum Float64, delay_sum Float64, "
    "delay_max Float64, delay_histogram Array(UInt64)",
    "org_id, model_name, hour_ns, seal",
)
_SEALED_LABELS = _sealed(
    "sealed_labels",
    "model_key String, model_null UInt8, status_key String, labels UInt64",
    "org_id, model_key, hour_ns, seal",
)
_SEALED_LLM_CALLS = _sealed(
    "sealed_llm_calls",
    "dim String, key String, key_null UInt8, calls UInt64, errors UInt64, in_tokens Int64, "
    "out_tokens Int64, cost Float64, unpriced UInt64",
    "org_id, dim, hour_ns, seal",
)

MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "telemetry tables, label join tables, per-minute rollups",
        (
            _SPANS,
            _PREDICTIONS,
            _LLM_CALLS,
            _OPERATIONS,
            _LABELS,
            _LABEL_ROWS,
            _ROLLUP_INPUT,
            _ROLLUPS,
            _ROLLUPS_VIEW,
        ),
    ),
    (
        2,
        "predictions by trace, for the label join (predictions are ordered by model and time)",
        (_PREDICTION_TRACES, _PREDICTION_TRACES_BACKFILL),
    ),
    (
        3,
        "hourly rollups (stats over days read hours, not minutes); spans by trace (a trace's "
        "spans and their times, for the trace read)",
        (
            _ROLLUPS_HOURLY,
            _ROLLUPS_HOURLY_BACKFILL,
            _ROLLUPS_HOURLY_VIEW,
            _SPAN_TRACES,
            _SPAN_TRACES_VIEW,
            _SPAN_TRACES_BACKFILL,
        ),
    ),
    (
        4,
        "sealed hours: exact aggregates of each hour past a grace period (models, metrics, "
        "LLM totals, stats read them), the hours sealed and the hours written into since",
        (
            _SEALED_HOURS,
            _SEAL_DIRTY,
            _SEALED_PREDICTIONS,
            _SEALED_LABEL_ROWS,
            _SEALED_LABELS,
            _SEALED_LLM_CALLS,
        ),
    ),
)
"""(version, description, statements); statements name the database as ``{db}``."""

MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS {db}.schema_migrations (version UInt32, description String, "
    "applied_at DateTime DEFAULT now()) ENGINE = MergeTree() ORDER BY version"
)


def pending_migrations(x: Executor, db: str, up_to: int | None) -> list[tuple[int, str, tuple[str, ...]]]:
    """The migrations ``db``'s ``schema_migrations`` does not list yet (up to ``up_to``), in
    order; the table is made first if it is not there."""
    x.execute(MIGRATIONS_TABLE.format(db=db))
    done = {row[0] for row in x.execute(f"SELECT version FROM {db}.schema_migrations")}
    return [m for m in MIGRATIONS if m[0] not in done and (up_to is None or m[0] <= up_to)]


def record_migration(x: Executor, db: str, version: int, description: str) -> None:
    """List migration ``version`` as applied in ``db``."""
    x.insert(f"{db}.schema_migrations", ("version", "description"), [(version, description)])


TELEMETRY_TABLES = (
    "spans", "predictions", "prediction_traces", "llm_calls", "operations", "labels", "label_rows", "rollups",
    "rollups_hourly", "span_traces", "sealed_predictions", "sealed_label_rows", "sealed_llm_calls",
    "sealed_labels", "sealed_hours", "seal_dirty",
)  # fmt: skip
"""The tables that hold telemetry (retention drops their old day partitions)."""
DAY_COLUMNS = {
    "rollups": "minute", "rollups_hourly": "hour", "sealed_predictions": "hour", "sealed_label_rows": "hour",
    "sealed_llm_calls": "hour", "sealed_labels": "hour", "sealed_hours": "hour", "seal_dirty": "hour",
}  # fmt: skip
"""The ``DateTime`` column a table is partitioned by, where it is not ``time``."""
SEAL_BOOKS = ("sealed_hours", "seal_dirty")
"""The sealing's own tables, of every organisation: retention drops their days; the prune of
one organisation leaves them (it marks the cutoff's hour written into instead)."""

SHARDING_KEYS = {
    "spans": "cityHash64(trace_id)",
    "predictions": "cityHash64(trace_id)",
    "prediction_traces": "cityHash64(trace_id)",
    "llm_calls": "cityHash64(trace_id)",
    "operations": "cityHash64(trace_id)",
    "labels": "cityHash64(trace_id)",
    "label_rows": "cityHash64(pred_trace_id)",
    "rollup_input": "cityHash64(org_id, minute_ns, kind, service, model, version, environment)",
    "rollups": "cityHash64(org_id, minute_ns, kind, service, model, version, environment)",
    "rollups_hourly": "cityHash64(org_id, hour_ns, kind, service, model, version, environment)",
    "span_traces": "cityHash64(trace_id)",
    "sealed_hours": "cityHash64(hour_ns)",
    "seal_dirty": "cityHash64(hour_ns)",
    "sealed_predictions": "cityHash64(org_id, hour_ns)",
    "sealed_label_rows": "cityHash64(org_id, hour_ns)",
    "sealed_llm_calls": "cityHash64(org_id, hour_ns)",
    "sealed_labels": "cityHash64(org_id, hour_ns)",
}
"""Sharded ClickHouse (:mod:`.cluster`): the shard of each table's rows, by the trace they came
from. Every version of a ``ReplacingMergeTree`` key, and every replay of a span, lands on one
shard, so ``FINAL`` (which replaces rows within a shard) and ``LIMIT 1 BY`` stay right. A label's
versions share its own trace; a labelled row's versions come from different labels, possibly in
other traces, but share the PREDICTION's trace. A prediction and its ``prediction_traces`` row
share a shard, so migration 2's backfill copies within each shard. A rollup key's rows go to one
shard (its merges then pay off; reads merge the states of every shard anyway). The sealed
hours' aggregates (:mod:`.sealed`) go by organisation and hour, their books by hour: every
read sums them over all shards, and the job's ``FINAL`` runs on each shard's own rows, where
replays sit with their first copy. A migration that
alters a table must alter its ``Distributed`` table too (created ``AS`` the local one)."""
