"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_calls",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("operation", sa.String(length=100), nullable=True),
        sa.Column("provider", sa.String(length=100), nullable=True),
        sa.Column("request_model", sa.String(length=200), nullable=True),
        sa.Column("response_model", sa.String(length=200), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("finish_reasons", sa.Text(), nullable=True),
        sa.Column("time_ns", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("is_error", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_calls")),
        sa.UniqueConstraint(
            "org_id", "span_id", "trace_id", name=op.f("uq_llm_calls_org_id_span_id_trace_id")
        ),
    )
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_llm_calls_org_id_time_ns"), ["org_id", "time_ns"], unique=False)

    op.create_table(
        "operations",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("span_type", sa.String(length=100), nullable=True),
        sa.Column("input", sa.Text(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("metadata", sa.Text(), nullable=True),
        sa.Column("time_ns", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("is_error", sa.Boolean(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
        sa.UniqueConstraint(
            "org_id", "span_id", "trace_id", name=op.f("uq_operations_org_id_span_id_trace_id")
        ),
    )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_operations_org_id_time_ns"), ["org_id", "time_ns"], unique=False)

    op.create_table(
        "organizations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("plan", sa.String(length=32), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "predictions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
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
        sa.Column("time_ns", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("is_error", sa.Boolean(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
        sa.UniqueConstraint(
            "org_id", "span_id", "trace_id", name=op.f("uq_predictions_org_id_span_id_trace_id")
        ),
    )
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_predictions_metrics",
            ["org_id", "model_name", "model_version", "time_ns", "latency_ms"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_predictions_org_id_time_ns"), ["org_id", "time_ns"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_predictions_org_id_trace_id"), ["org_id", "trace_id"], unique=False
        )

    op.create_table(
        "spans",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spans")),
        sa.UniqueConstraint("org_id", "span_id", "trace_id", name=op.f("uq_spans_org_id_span_id_trace_id")),
    )
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_spans_org_id_start_time_ns"), ["org_id", "start_time_ns"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_spans_org_id_trace_id"), ["org_id", "trace_id"], unique=False)

    op.create_table(
        "labels",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("target_span_id", sa.String(length=16), nullable=True),
        sa.Column("model_name", sa.String(length=200), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("is_batch", sa.Boolean(), nullable=False),
        sa.Column("row_indices", sa.Text(), nullable=True),
        sa.Column("time_ns", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("join_rule", sa.String(length=16), nullable=True),
        sa.Column("prediction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["prediction_id"], ["predictions.id"], name=op.f("fk_labels_prediction_id_predictions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
        sa.UniqueConstraint("org_id", "span_id", "trace_id", name=op.f("uq_labels_org_id_span_id_trace_id")),
    )
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_labels_org_id_model_name_status"), ["org_id", "model_name", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_labels_org_id_status"), ["org_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_labels_org_id_trace_id"), ["org_id", "trace_id"], unique=False)

    op.create_table(
        "usage",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("period_start_ns", sa.BigInteger(), nullable=False),
        sa.Column("api_calls", sa.BigInteger(), nullable=False),
        sa.Column("spans", sa.BigInteger(), nullable=False),
        sa.Column("predictions", sa.BigInteger(), nullable=False),
        sa.Column("prediction_rows", sa.BigInteger(), nullable=False),
        sa.Column("labels", sa.BigInteger(), nullable=False),
        sa.Column("llm_calls", sa.BigInteger(), nullable=False),
        sa.Column("operations", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_usage_org_id_organizations")),
        sa.PrimaryKeyConstraint("org_id", "period_start_ns", name=op.f("pk_usage")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_users_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("org_id", "email", name=op.f("uq_users_org_id_email")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("tail", sa.String(length=8), nullable=False),
        sa.Column("scopes", sa.String(length=64), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("revoked_at_ns", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_api_keys_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_keys_org_id_created_at_ns"), ["org_id", "created_at_ns"], unique=False
        )

    op.create_table(
        "label_rows",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("prediction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("label_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_rows")),
        sa.UniqueConstraint("prediction_id", "row_index", name=op.f("uq_label_rows_prediction_id_row_index")),
    )
    with op.batch_alter_table("label_rows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_rows_label_id"), ["label_id"], unique=False)
        batch_op.create_index(
            "ix_label_rows_metrics",
            ["org_id", "model_name", "model_version", "pred_time_ns", "label_time_ns"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("label_rows", schema=None) as batch_op:
        batch_op.drop_index("ix_label_rows_metrics")
        batch_op.drop_index(batch_op.f("ix_label_rows_label_id"))

    op.drop_table("label_rows")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_org_id_created_at_ns"))

    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_table("usage")
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_labels_org_id_trace_id"))
        batch_op.drop_index(batch_op.f("ix_labels_org_id_status"))
        batch_op.drop_index(batch_op.f("ix_labels_org_id_model_name_status"))

    op.drop_table("labels")
    with op.batch_alter_table("spans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spans_org_id_trace_id"))
        batch_op.drop_index(batch_op.f("ix_spans_org_id_start_time_ns"))

    op.drop_table("spans")
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_predictions_org_id_trace_id"))
        batch_op.drop_index(batch_op.f("ix_predictions_org_id_time_ns"))
        batch_op.drop_index("ix_predictions_metrics")

    op.drop_table("predictions")
    op.drop_table("organizations")
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operations_org_id_time_ns"))

    op.drop_table("operations")
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_llm_calls_org_id_time_ns"))

    op.drop_table("llm_calls")
