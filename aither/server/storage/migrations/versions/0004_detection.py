"""Detection: per-minute rollups, anomalies, and the risk level of each LLM call

Revision ID: 0004
Revises: 0002
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from aither.server.storage.migrations._ddl import (
    Indexes,
    create_indexes,
    create_record_table,
    create_rollup_table,
    drop_table,
    not_null,
    target,
)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_LATENCY_BUCKETS = 34
_INDEXES: dict[str, Indexes] = {
    "rollups": {"ix_rollups_org_id_minute_ns": ("org_id", "minute_ns")},
    "anomalies": {
        "ix_anomalies_org_id_last_seen_ns": ("org_id", "last_seen_ns"),
        "ix_anomalies_org_id_updated_at_ns": ("org_id", "updated_at_ns"),
    },
}


def upgrade() -> None:
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("risk_level", sa.String(length=16), nullable=True))
    create_rollup_table(
        "rollups",
        target(nullable=False),
        [
            *not_null(sa.BigInteger(), "count", "errors"),
            *not_null(sa.Float(), "latency_sum_ms", "latency_max_ms", "cost_usd"),
            *not_null(sa.BigInteger(), "cost_calls", "input_tokens", "output_tokens", "pii_calls",
                      "injection_calls", "rows"),
            *not_null(sa.Integer(), *(f"lat_{i:02d}" for i in range(_LATENCY_BUCKETS))),
        ],
    )  # fmt: skip
    create_indexes("rollups", _INDEXES["rollups"])
    create_record_table(
        "anomalies",
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("anomaly_type", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("detection_method", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("recommended_action", sa.Text(), nullable=False),
        *target(nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen_ns", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("open_key", sa.String(length=800), nullable=True),
        sa.UniqueConstraint("org_id", "open_key", name="uq_anomalies_org_id_open_key"),
    )
    create_indexes("anomalies", _INDEXES["anomalies"])
    _backfill_rollups()


def _histogram(latency: sa.ColumnElement[Any]) -> list[sa.ColumnElement[Any]]:
    """The 34 latency-bucket counts in SQL: bucket i holds (2^((i-1)/2), 2^(i/2)] ms."""
    edges = [2 ** (i / 2) for i in range(_LATENCY_BUCKETS - 1)]
    columns: list[sa.ColumnElement[Any]] = [
        sa.func.sum(sa.case((latency <= edges[0], 1), else_=0)).label("lat_00")
    ]
    for i in range(1, _LATENCY_BUCKETS - 1):
        inside = sa.and_(latency > edges[i - 1], latency <= edges[i])
        columns.append(sa.func.sum(sa.case((inside, 1), else_=0)).label(f"lat_{i:02d}"))
    last = _LATENCY_BUCKETS - 1
    columns.append(sa.func.sum(sa.case((latency > edges[-1], 1), else_=0)).label(f"lat_{last:02d}"))
    return columns


def _backfill_rollups() -> None:
    """Rollups of the predictions and LLM calls stored before this migration, so metrics and
    stats keep counting them (one INSERT ... SELECT per table, grouped by minute and target)."""
    spans = sa.table(
        "spans", sa.column("org_id"), sa.column("trace_id"), sa.column("span_id"), sa.column("service_name")
    )
    names = ["org_id", "trace_id", "span_id", "time_ns", "latency_ms", "is_error"]
    predictions = sa.table(
        "predictions",
        *(sa.column(n) for n in [*names, "model_name", "model_version", "environment", "output_rows"]),
    )
    llm = sa.table(
        "llm_calls",
        *(sa.column(n) for n in [*names, "request_model", "response_model", "cost_usd", "input_tokens",
                                 "output_tokens", "pii_detected", "injection_detected"]),
    )  # fmt: skip
    zero = sa.literal(0)
    for table, kind in ((predictions, "prediction"), (llm, "llm")):
        c = table.c
        minute = (c.time_ns - c.time_ns % 60_000_000_000).label("minute_ns")
        service = sa.func.coalesce(spans.c.service_name, "").label("service")
        if kind == "prediction":
            model = c.model_name.label("model")
            version = sa.func.coalesce(c.model_version, "").label("version")
            environment = sa.func.coalesce(c.environment, "").label("environment")
            extra: list[sa.ColumnElement[Any]] = [
                sa.literal(0.0).label("cost_usd"), zero.label("cost_calls"), zero.label("input_tokens"),
                zero.label("output_tokens"), zero.label("pii_calls"), zero.label("injection_calls"),
                sa.func.coalesce(sa.func.sum(c.output_rows), 0).label("rows"),
            ]  # fmt: skip
        else:
            model = sa.func.coalesce(c.response_model, c.request_model, "").label("model")
            version, environment = sa.literal("").label("version"), sa.literal("").label("environment")
            extra = [
                sa.func.coalesce(sa.func.sum(c.cost_usd), 0.0).label("cost_usd"),
                sa.func.count(c.cost_usd).label("cost_calls"),
                sa.func.coalesce(sa.func.sum(c.input_tokens), 0).label("input_tokens"),
                sa.func.coalesce(sa.func.sum(c.output_tokens), 0).label("output_tokens"),
                sa.func.sum(sa.case((c.pii_detected.is_(True), 1), else_=0)).label("pii_calls"),
                sa.func.sum(sa.case((c.injection_detected.is_(True), 1), else_=0)).label("injection_calls"),
                zero.label("rows"),
            ]
        source = table.outerjoin(
            spans,
            sa.and_(spans.c.org_id == c.org_id, spans.c.trace_id == c.trace_id, spans.c.span_id == c.span_id),
        )
        select = (
            sa.select(
                c.org_id, minute, sa.literal(kind).label("kind"), service, model, version, environment,
                sa.func.count().label("count"),
                sa.func.sum(sa.case((c.is_error.is_(True), 1), else_=0)).label("errors"),
                sa.func.sum(c.latency_ms).label("latency_sum_ms"),
                sa.func.max(c.latency_ms).label("latency_max_ms"),
                *extra,
                *_histogram(c.latency_ms),
            )
            .select_from(source)
            .group_by(c.org_id, minute, service, model, version, environment)
        )  # fmt: skip
        # the select's labels are the rollups' column names
        columns = [column.name for column in select.selected_columns]
        rollups = sa.table("rollups", *(sa.column(name) for name in columns))
        op.execute(rollups.insert().from_select(columns, select))


def downgrade() -> None:
    for table in ("anomalies", "rollups"):
        drop_table(table, _INDEXES[table])
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.drop_column("risk_level")
