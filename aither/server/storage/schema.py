"""The tables of the aither server, in SQLAlchemy Core.

Times are integers of nanoseconds since the Unix epoch (OTLP's own unit), so SQLite and
PostgreSQL store and compare them the same way. JSON payloads are text: the server writes
them once and hands them back as they came. Every table carries ``org_id`` and every query
filters on it; a row of another organisation is never visible.

The migrations in ``migrations/versions`` create exactly these tables; a test compares the two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.schema import SchemaItem
from sqlalchemy.types import TypeEngine

# SQLite autoincrements only an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
RowId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

organizations = Table(
    "organizations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("plan", String(32), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
)


def _owned_table(name: str, *columns: SchemaItem) -> Table:
    """A table of things an organisation owns by id (users, keys, channels): a string ``id``,
    the organisation (a foreign key), then ``columns``."""
    return Table(
        name,
        metadata,
        Column("id", String(32), primary_key=True),
        Column("org_id", String(32), ForeignKey("organizations.id"), nullable=False),
        *columns,
    )


users = _owned_table(
    "users",
    Column("email", String(320), nullable=False),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    # accounts.email_key(email): the one caseless form two e-mails are compared in. Nullable only
    # because SQLite adds a NOT NULL column by rebuilding the table; every insert sets it.
    Column("email_key", String(320), nullable=True),
    UniqueConstraint("org_id", "email"),
    Index("ix_users_org_id_email_key", "org_id", "email_key", unique=True),
)


def _record_table(name: str, *columns: SchemaItem) -> Table:
    """A table of stored records: an autoincrementing ``id``, the organisation, then ``columns``."""
    return Table(
        name,
        metadata,
        Column("id", RowId, primary_key=True, autoincrement=True),
        Column("org_id", String(32), nullable=False),
        *columns,
    )


def _span_table(name: str, *columns: SchemaItem) -> Table:
    """A table of records decoded from spans: ``id``, organisation, the trace and span the record
    came from, then ``columns``. A span is stored once per organisation, and a trace's records
    are read by index (the trace page; for LLM calls and operations since migration 0007)."""
    return _record_table(
        name,
        Column("trace_id", String(32), nullable=False),
        Column("span_id", String(16), nullable=False),
        *columns,
        # span ids are 64 random bits, so leading with span_id keeps the replay check selective
        UniqueConstraint("org_id", "span_id", "trace_id"),
        Index(None, "org_id", "trace_id"),
    )


def _timing() -> list[Column[Any]]:
    """When a call started, how long it took and whether it failed."""
    return [
        Column("time_ns", BigInteger, nullable=False),
        Column("latency_ms", Float, nullable=False),
        Column("is_error", Boolean, nullable=False),
    ]


api_keys = _owned_table(
    "api_keys",
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("tail", String(8), nullable=False),
    Column("scopes", String(64), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("last_used_at_ns", BigInteger),
    Column("revoked_at_ns", BigInteger),
    Index(None, "org_id", "created_at_ns"),
)

spans = _span_table(
    "spans",
    Column("parent_span_id", String(16)),
    Column("name", Text, nullable=False),
    Column("aither_kind", String(16)),
    Column("span_kind", SmallInteger, nullable=False),
    Column("service_name", String(200)),
    Column("scope_name", String(200)),
    Column("start_time_ns", BigInteger, nullable=False),
    Column("end_time_ns", BigInteger, nullable=False),
    Column("status_code", SmallInteger, nullable=False),
    Column("status_message", Text),
    Column("attributes", Text, nullable=False),
    Column("events", Text),
    Column("links", Text),
    Column("resource", Text),
    Column("received_at_ns", BigInteger, nullable=False),
    Index(None, "org_id", "start_time_ns"),
)

predictions = _span_table(
    "predictions",
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(100)),
    Column("environment", String(100)),
    Column("framework", String(100)),
    Column("model_class", String(300)),
    Column("method", String(100)),
    Column("input_rows", Integer),
    Column("output_rows", Integer),
    Column("features", Text),
    Column("prediction", Text),
    Column("task", String(16)),
    *_timing(),
    Column("error_message", Text),
    # covers the metrics query's latency percentiles without a table lookup per row
    Index("ix_predictions_metrics", "org_id", "model_name", "model_version", "time_ns", "latency_ms"),
    Index(None, "org_id", "time_ns"),
    # migration 0010: one model's newest predictions in index order, whatever its versions
    Index("ix_predictions_model_time", "org_id", "model_name", "time_ns"),
)

labels = _span_table(
    "labels",
    Column("target_span_id", String(16)),
    Column("model_name", String(200)),
    Column("value", Text),
    Column("is_batch", Boolean, nullable=False),
    Column("row_indices", Text),
    Column("time_ns", BigInteger, nullable=False),
    # joined | pending | ambiguous | invalid
    Column("status", String(16), nullable=False),
    # span_id | model | only: which rule of the label join matched
    Column("join_rule", String(16)),
    Column("prediction_id", RowId, ForeignKey("predictions.id")),
    Column("rows", Integer, nullable=False),
    Column("message", Text),
    Index(None, "org_id", "status"),
    Index(None, "org_id", "model_name", "status"),
)

label_rows = _record_table(
    "label_rows",
    Column("prediction_id", RowId, ForeignKey("predictions.id"), nullable=False),
    Column("label_id", RowId, ForeignKey("labels.id"), nullable=False),
    Column("row_index", Integer, nullable=False),
    # copied from the prediction, so that metrics read one table
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(100)),
    Column("task", String(16)),
    Column("pred_class", String(200)),
    Column("pred_num", Float),
    Column("label_class", String(200)),
    Column("label_num", Float),
    Column("value", Text),
    Column("pred_time_ns", BigInteger, nullable=False),
    Column("label_time_ns", BigInteger, nullable=False),
    UniqueConstraint("prediction_id", "row_index"),
    Index(None, "label_id"),
    # covers the label-delay percentiles the same way
    Index("ix_label_rows_metrics", "org_id", "model_name", "model_version", "pred_time_ns", "label_time_ns"),
    Index(None, "org_id", "pred_time_ns"),  # migration 0010: a window's edges, any model
)

llm_calls = _span_table(
    "llm_calls",
    Column("name", Text, nullable=False),
    Column("operation", String(100)),
    Column("provider", String(100)),
    Column("request_model", String(200)),
    Column("response_model", String(200)),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("cost_usd", Float),
    Column("finish_reasons", Text),
    *_timing(),
    # migration 0002: the rest of what aither's LLM adapters record (see aither.semconv)
    Column("error_type", String(200)),
    Column("client_name", String(200)),
    Column("cache_read_input_tokens", Integer),
    Column("reasoning_output_tokens", Integer),
    # null: not scanned; JSON {"input": {"email": 2}, "output": {...}} of the matches per type
    Column("pii_detected", Boolean),
    Column("pii_counts", Text),
    Column("injection_score", Float),
    Column("injection_detected", Boolean),
    Column("injection_rules", Text),
    # migration 0003: who and in what context (enduser.id, session.id, service.name)
    Column("user_id", String(200)),
    Column("session_id", String(200)),
    Column("service", String(200)),
    # migration 0004: low | medium | high | critical, from PII, injection, errors and cost
    Column("risk_level", String(16)),
    Index(None, "org_id", "time_ns"),
    Index("ix_llm_calls_org_user", "org_id", "user_id", "time_ns"),
    Index("ix_llm_calls_org_session", "org_id", "session_id", "time_ns"),
)

operations = _span_table(
    "operations",
    # function | event
    Column("kind", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("span_type", String(100)),
    Column("input", Text),
    Column("output", Text),
    Column("cost_usd", Float),
    Column("metadata", Text),
    *_timing(),
    Column("error_message", Text),
    Index(None, "org_id", "time_ns"),
)

USAGE_COUNTERS = ("api_calls", "spans", "predictions", "prediction_rows", "labels", "llm_calls", "operations")
"""The counter columns of :data:`usage`."""

usage = Table(
    "usage",
    metadata,
    Column("org_id", String(32), ForeignKey("organizations.id"), primary_key=True),
    Column("period_start_ns", BigInteger, primary_key=True),
    *(Column(counter, BigInteger, nullable=False, default=0) for counter in USAGE_COUNTERS),
)

# --- alerts (migration 0005): channels stored through the API, and every delivery attempt -------

alert_channels = _owned_table(
    "alert_channels",
    Column("name", String(200), nullable=False),
    # webhook | slack | pagerduty | email
    Column("kind", String(16), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("min_severity", String(16), nullable=False),
    # JSON lists; empty: any rule / any type
    Column("rules", Text, nullable=False),
    Column("anomaly_types", Text, nullable=False),
    # JSON of the kind's own keys, secrets included (the API masks them)
    Column("settings", Text, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("backoff_s", Float, nullable=False),
    Column("timeout_s", Float, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    UniqueConstraint("org_id", "name"),
)

alert_deliveries = _record_table(
    "alert_deliveries",
    # chn_... for a stored channel, file:<name> for one of the rules file (so no foreign key)
    Column("channel_id", String(240), nullable=False),
    Column("channel_name", String(200), nullable=False),
    Column("channel_kind", String(16), nullable=False),
    Column("anomaly_id", BigInteger, nullable=False),
    # opened | escalated | resolved | test
    Column("event", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("title", Text, nullable=False),
    # pending | delivered | failed
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("http_status", Integer),
    Column("last_error", Text),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    Column("next_attempt_at_ns", BigInteger),
    Column("delivered_at_ns", BigInteger),
    # migration 0011: the notice as JSON, so whichever server holds the "alerts" lease can send
    # a row another server logged; and the fencing token of the lease holder that claimed it
    Column("notice", Text),
    Column("claim_token", BigInteger),
    Index(None, "org_id", "id"),
    Index(None, "org_id", "channel_id", "id"),
    Index(None, "org_id", "status", "id"),
    Index(None, "status", "id"),  # 0011: the lease holder's scan of pending rows, every org
)

# --- detection (migration 0004): per-minute rollups, anomalies, risk per LLM call ---------------

LATENCY_BUCKETS = 34
"""Fixed log buckets of the rollups' latency histogram: bucket ``i`` holds latencies in
``[2**((i-1)/2), 2**(i/2))`` ms (bucket 0: under 1 ms; the last: everything from ~65 s on), so
percentiles read from it are within ~19 % and any two rollups merge by adding columns."""

LATENCY_COLUMNS = tuple(f"lat_{i:02d}" for i in range(LATENCY_BUCKETS))

RollupValues = dict[str, type[TypeEngine[Any]]]
"""A rollup's value columns and their types, in column order."""

_ROLLUP_VALUES: RollupValues = {
    "count": BigInteger,
    "errors": BigInteger,
    "latency_sum_ms": Float,
    "latency_max_ms": Float,
    "cost_usd": Float,
    "cost_calls": BigInteger,
    "input_tokens": BigInteger,
    "output_tokens": BigInteger,
    "pii_calls": BigInteger,
    "injection_calls": BigInteger,
    "rows": BigInteger,
    **dict.fromkeys(LATENCY_COLUMNS, Integer),
}
"""The value columns of :data:`rollups` and their types, in column order."""

ROLLUP_SUMS = tuple(name for name in _ROLLUP_VALUES if name != "latency_max_ms")
"""The additive columns of :data:`rollups` (an upsert adds them; ``latency_max_ms`` takes the max)."""


def _rollup_tables(
    name: str, keys: Callable[[], list[Column[Any]]], values: RollupValues, *minute_only: SchemaItem
) -> tuple[Table, Table]:
    """A rollup table and its hourly twin, ``{name}_hourly``: one row per organisation, minute
    (the hour's start, in the twin) and ``keys()``, which make the primary key with them, holding
    ``values``, none nullable. The hourly tables (migration 0010 on) let a week be read as 168
    rows per key where a reader's buckets allow. ``minute_only``: what only the first table has."""

    def columns() -> list[Column[Any]]:
        return [
            Column("org_id", String(32), primary_key=True),
            Column("minute_ns", BigInteger, primary_key=True),
            *keys(),
            *(Column(column, kind, nullable=False) for column, kind in values.items()),
        ]

    return Table(name, metadata, *columns(), *minute_only), Table(f"{name}_hourly", metadata, *columns())


def _rollup_keys() -> list[Column[Any]]:
    return [
        # llm | prediction; key parts are '' rather than NULL so the upsert's conflict target matches
        Column("kind", String(16), primary_key=True),
        Column("service", String(200), primary_key=True),
        Column("model", String(200), primary_key=True),
        Column("version", String(100), primary_key=True),
        Column("environment", String(100), primary_key=True),
    ]


rollups, rollups_hourly = _rollup_tables(
    "rollups", _rollup_keys, _ROLLUP_VALUES, Index(None, "org_id", "minute_ns")
)

anomalies = _record_table(
    "anomalies",
    Column("rule", String(64), nullable=False),
    Column("anomaly_type", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("detection_method", String(32), nullable=False),
    # open | acknowledged | resolved
    Column("status", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("recommended_action", Text, nullable=False),
    Column("kind", String(16)),
    Column("service", String(200)),
    Column("model", String(200)),
    Column("version", String(100)),
    Column("environment", String(100)),
    Column("evidence", Text, nullable=False),
    Column("count", Integer, nullable=False),
    Column("first_seen_ns", BigInteger, nullable=False),
    Column("last_seen_ns", BigInteger, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
    Column("resolved_at_ns", BigInteger),
    Column("acknowledged_at_ns", BigInteger),
    Column("trace_id", String(32)),
    # rule and target while the anomaly is open, NULL once resolved: the unique constraint keeps
    # one open anomaly per condition (NULLs never collide, on SQLite and PostgreSQL alike)
    Column("open_key", String(800)),
    UniqueConstraint("org_id", "open_key"),
    Index(None, "org_id", "last_seen_ns"),
    Index(None, "org_id", "updated_at_ns"),
)

# Dashboard sign-in (aither/server/sessions.py): one row per signed-in browser. The cookie
# holds the token; only its SHA-256 is stored, like an API key's. Scopes are the key's at
# sign-in; the key's revocation is checked on every request, so a revoked key's sessions end.
ui_sessions = Table(
    "ui_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("key_id", String(32), ForeignKey("api_keys.id"), nullable=False),
    Column("org_id", String(32), ForeignKey("organizations.id"), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("scopes", String(64), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    Column("expires_at_ns", BigInteger, nullable=False),
    Index(None, "key_id"),
    Index(None, "expires_at_ns"),
)

# --- drift (issue 14): references, and what each closed window found -------------------------
drift_references = _record_table(
    "drift_references",
    Column("model_name", String(200), nullable=False),
    # '' for a reference of every version of the model
    Column("model_version", String(100), nullable=False),
    # first_rows | dataset | window
    Column("source", String(16), nullable=False),
    Column("rows", Integer, nullable=False),
    # JSON of aither.server.drift.reference.Reference: summaries and a bounded sample
    Column("body", Text, nullable=False),
    Column("created_at_ns", BigInteger, nullable=False),
    UniqueConstraint("org_id", "model_name", "model_version"),
)

drift_scores = _record_table(
    "drift_scores",
    Column("model_name", String(200), nullable=False),
    Column("model_version", String(100), nullable=False),
    Column("environment", String(100), nullable=False),
    Column("window_start_ns", BigInteger, nullable=False),
    Column("window_end_ns", BigInteger, nullable=False),
    # when the window was judged (wall clock): the rows of one window share it
    Column("judged_at_ns", BigInteger, nullable=False),
    # input | output | performance | outliers
    Column("side", String(16), nullable=False),
    Column("feature", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    # the headline score: PSI for a column, the metric for performance, the rate for outliers
    Column("score", Float),
    Column("drifted", Boolean, nullable=False),
    Column("rows", Integer, nullable=False),
    # JSON: every method's score and the numbers behind them
    Column("details", Text, nullable=False),
    Index(None, "org_id", "model_name", "window_end_ns"),
)

# --- detection rules changed through the API (0009) ---------------------------------------

detection_rules = Table(
    "detection_rules",
    metadata,
    Column("org_id", String(32), primary_key=True),
    # JSON in the rules file's shape: what PUT /api/v1/rules changed from the rules file
    Column("settings", Text, nullable=False),
    Column("updated_at_ns", BigInteger, nullable=False),
)

# --- label-join rollups (migration 0010): the metrics' sums per minute of prediction time ----

DELAY_BUCKETS = 48
"""Fixed log buckets of the label-delay histogram, in seconds, as the latency histogram's:
bucket ``i`` holds delays in ``[2**((i-1)/2), 2**(i/2))`` s (bucket 0: a second or less; the
last: everything from ~97 days on)."""

DELAY_COLUMNS = tuple(f"dl_{i:02d}" for i in range(DELAY_BUCKETS))

_LABEL_ROLLUP_VALUES: RollupValues = {
    "rows": BigInteger,
    "correct": BigInteger,  # predicted class == true class, any task
    # the true class known, any task (migration 0012): the stats' accuracy denominator
    "classified": BigInteger,
    "num_rows": BigInteger,  # both values numbers: the error sums' count
    "err_sum": Float,
    "abs_err_sum": Float,
    "sq_err_sum": Float,
    "delay_sum_s": Float,
    "delay_max_s": Float,
    **dict.fromkeys(DELAY_COLUMNS, Integer),
}
"""The value columns of :data:`label_rollups` and their types, in column order."""

LABEL_ROLLUP_SUMS = tuple(name for name in _LABEL_ROLLUP_VALUES if name != "delay_max_s")
"""The additive columns of :data:`label_rollups` (an upsert adds them; ``delay_max_s`` takes the max)."""


def _label_rollup_keys() -> list[Column[Any]]:
    return [
        # key parts are '' rather than NULL (no version, no task) so the upsert's conflict
        # target matches
        Column("model", String(200), primary_key=True),
        Column("version", String(100), primary_key=True),
        Column("environment", String(100), primary_key=True),
        Column("task", String(16), primary_key=True),
        # 1: a classification row with both classes known, one cell of the confusion matrix
        # (pred_class, label_class); 0: any other labelled row, classes ''
        Column("pair", SmallInteger, primary_key=True),
        Column("pred_class", String(200), primary_key=True),
        Column("label_class", String(200), primary_key=True),
    ]


# minute_ns: the minute (hour) of the prediction's time: metrics windows apply to it
label_rollups, label_rollups_hourly = _rollup_tables(
    "label_rollups", _label_rollup_keys, _LABEL_ROLLUP_VALUES
)

# --- leases (0011): periodic work that runs on one server of several -----------------------

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    # host:pid:random of the server holding it
    Column("holder", String(200), nullable=False),
    # the fencing token: one more at every change of holder, checked by each fenced write
    Column("token", BigInteger, nullable=False),
    Column("expires_at_ns", BigInteger, nullable=False),
    Column("acquired_at_ns", BigInteger, nullable=False),
)

# --- LLM rollups (migration 0012): the LLM totals' sums per minute (hour) of call time -------

_LLM_ROLLUP_KEY_LENGTHS = {"service": 200, "provider": 100, "model": 200, "user_id": 200}
"""The LLM rollups' key parts besides organisation and minute, and their lengths (``model``:
the request model)."""

LLM_ROLLUP_KEYS = tuple(_LLM_ROLLUP_KEY_LENGTHS)
"""What an LLM rollup row is keyed by besides organisation and minute: the totals' bounded
groups (``session`` is one per conversation, so its totals read the indexed rows)."""

_LLM_ROLLUP_VALUES: RollupValues = {
    "calls": BigInteger,
    "errors": BigInteger,
    "input_tokens": BigInteger,
    "output_tokens": BigInteger,
    "cost_usd": Float,
    "unpriced": BigInteger,  # calls without a cost
}

LLM_ROLLUP_SUMS = tuple(_LLM_ROLLUP_VALUES)
"""The additive columns of :data:`llm_rollups` (an upsert adds them)."""


def _llm_rollup_keys() -> list[Column[Any]]:
    # '' rather than NULL for a call that did not say, so the upsert's conflict target matches
    return [Column(key, String(length), primary_key=True) for key, length in _LLM_ROLLUP_KEY_LENGTHS.items()]


llm_rollups, llm_rollups_hourly = _rollup_tables("llm_rollups", _llm_rollup_keys, _LLM_ROLLUP_VALUES)
