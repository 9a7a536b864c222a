"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aither.server.storage.migrations._ddl import (
    ROW_ID,
    Indexes,
    create_indexes,
    create_record_table,
    create_span_table,
    drop_table,
    org_foreign_key,
    org_id,
    timing,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_INDEXES: dict[str, Indexes] = {
    "llm_calls": {"ix_llm_calls_org_id_time_ns": ("org_id", "time_ns")},
    "operations": {"ix_operations_org_id_time_ns": ("org_id", "time_ns")},
    "predictions": {
        "ix_predictions_metrics": ("org_id", "model_name", "model_version", "time_ns", "latency_ms"),
        "ix_predictions_org_id_time_ns": ("org_id", "time_ns"),
        "ix_predictions_org_id_trace_id": ("org_id", "trace_id"),
    },
    "spans": {
        "ix_spans_org_id_start_time_ns": ("org_id", "start_time_ns"),
        "ix_spans_org_id_trace_id": ("org_id", "trace_id"),
    },
    "labels": {
        "ix_labels_org_id_model_name_status": ("org_id", "model_name", "status"),
        "ix_labels_org_id_status": ("org_id", "status"),
        "ix_labels_org_id_trace_id": ("org_id", "trace_id"),
    },
    "api_keys": {"ix_api_keys_org_id_created_at_ns": ("org_id", "created_at_ns")},
    "label_rows": {
        "ix_label_rows_label_id": ("label_id",),
        "ix_label_rows_metrics": ("org_id", "model_name", "model_version", "pred_time_ns", "label_time_ns"),
    },
}
"""Each table's indexes, created after the table and dropped before it."""

# what usage counts per organisation and period, one column each
_USAGE_COUNTERS = (
    "api_calls", "spans", "predictions", "prediction_rows", "labels", "llm_calls", "operations",
)  # fmt: skip


def upgrade() -> None:
    create_span_table(
        "llm_calls",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("operation", sa.String(length=100), nullable=True),
        sa.Column("provider", sa.String(length=100), nullable=True),
        sa.Column("request_model", sa.String(length=200), nullable=True),
        sa.Column("response_model", sa.String(length=200), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("finish_reasons", sa.Text(), nullable=True),
        *timing(),
    )
    create_indexes("llm_calls", _INDEXES["llm_calls"])
    create_span_table(
        "operations",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("span_type", sa.String(length=100), nullable=True),
        sa.Column("input", sa.Text(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("metadata", sa.Text(), nullable=True),
        *timing(),
        sa.Column("error_message", sa.Text(), nullable=True),
    )
    create_indexes("operations", _INDEXES["operations"])
    op.create_table(
        "organizations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("plan", sa.String(length=32), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    create_span_table(
        "predictions",
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=True),
        sa.Column("environment", sa.String(length=100), nullable=True),
        sa.Column("framework", sa.String(length=100), nullable=True),
        sa.Column("model_class", sa.String(length=300), nullable=True),
        sa.Column("method", sa.String(length=100), nullable=True),
        sa.Column("input_rows", sa.Integer(), nullable=True),
        sa.Column("output_rows", sa.Integer(), nullable=True),
        sa.Column("features", sa.Text(), nullable=True),
        sa.Column("prediction", sa.Text(), nullable=True),
        sa.Column("task", sa.String(length=16), nullable=True),
        *timing(),
        sa.Column("error_message", sa.Text(), nullable=True),
    )
    create_indexes("predictions", _INDEXES["predictions"])
    create_span_table(
        "spans",
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("aither_kind", sa.String(length=16), nullable=True),
        sa.Column("span_kind", sa.SmallInteger(), nullable=False),
        sa.Column("service_name", sa.String(length=200), nullable=True),
        sa.Column("scope_name", sa.String(length=200), nullable=True),
        sa.Column("start_time_ns", sa.BigInteger(), nullable=False),
        sa.Column("end_time_ns", sa.BigInteger(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=True),
        sa.Column("links", sa.Text(), nullable=True),
        sa.Column("resource", sa.Text(), nullable=True),
        sa.Column("received_at_ns", sa.BigInteger(), nullable=False),
    )
    create_indexes("spans", _INDEXES["spans"])
    create_span_table(
        "labels",
        sa.Column("target_span_id", sa.String(length=16), nullable=True),
        sa.Column("model_name", sa.String(length=200), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("is_batch", sa.Boolean(), nullable=False),
        sa.Column("row_indices", sa.Text(), nullable=True),
        sa.Column("time_ns", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("join_rule", sa.String(length=16), nullable=True),
        sa.Column("prediction_id", ROW_ID, nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["prediction_id"], ["predictions.id"], name=op.f("fk_labels_prediction_id_predictions")
        ),
    )
    create_indexes("labels", _INDEXES["labels"])
    op.create_table(
        "usage",
        org_id(),
        sa.Column("period_start_ns", sa.BigInteger(), nullable=False),
        *(sa.Column(counter, sa.BigInteger(), nullable=False) for counter in _USAGE_COUNTERS),
        org_foreign_key("usage"),
        sa.PrimaryKeyConstraint("org_id", "period_start_ns", name=op.f("pk_usage")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        org_id(),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        org_foreign_key("users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("org_id", "email", name=op.f("uq_users_org_id_email")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        org_id(),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("tail", sa.String(length=8), nullable=False),
        sa.Column("scopes", sa.String(length=64), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at_ns", sa.BigInteger(), nullable=True),
        org_foreign_key("api_keys"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    create_indexes("api_keys", _INDEXES["api_keys"])
    create_record_table(
        "label_rows",
        sa.Column("prediction_id", ROW_ID, nullable=False),
        sa.Column("label_id", ROW_ID, nullable=False),
        sa.Column("row_index", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=True),
        sa.Column("task", sa.String(length=16), nullable=True),
        sa.Column("pred_class", sa.String(length=200), nullable=True),
        sa.Column("pred_num", sa.Float(), nullable=True),
        sa.Column("label_class", sa.String(length=200), nullable=True),
        sa.Column("label_num", sa.Float(), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("pred_time_ns", sa.BigInteger(), nullable=False),
        sa.Column("label_time_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["label_id"], ["labels.id"], name=op.f("fk_label_rows_label_id_labels")),
        sa.ForeignKeyConstraint(
            ["prediction_id"], ["predictions.id"], name=op.f("fk_label_rows_prediction_id_predictions")
        ),
        sa.UniqueConstraint("prediction_id", "row_index", name=op.f("uq_label_rows_prediction_id_row_index")),
    )
    create_indexes("label_rows", _INDEXES["label_rows"])


def downgrade() -> None:
    # the reverse of upgrade's order: a table goes after those that reference it
    for table in (
        "label_rows", "api_keys", "users", "usage", "labels", "spans", "predictions", "organizations",
        "operations", "llm_calls",
    ):  # fmt: skip
        drop_table(table, _INDEXES.get(table, {}))
