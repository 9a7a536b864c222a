"""Detection: per-minute rollups, anomalies, and the risk level of each LLM call

Revision ID: 0004
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

_LATENCY_BUCKETS = 34
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("risk_level", sa.String(length=16), nullable=True))
    op.create_table(
        "rollups",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("minute_ns", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("service", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("latency_sum_ms", sa.Float(), nullable=False),
        sa.Column("latency_max_ms", sa.Float(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("cost_calls", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("pii_calls", sa.BigInteger(), nullable=False),
        sa.Column("injection_calls", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        *(sa.Column(f"lat_{i:02d}", sa.Integer(), nullable=False) for i in range(_LATENCY_BUCKETS)),
        sa.PrimaryKeyConstraint(
            "org_id", "minute_ns", "kind", "service", "model", "version", "environment", name="pk_rollups"
        ),
    )
    op.create_index("ix_rollups_org_id_minute_ns", "rollups", ["org_id", "minute_ns"])
    op.create_table(
        "anomalies",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("anomaly_type", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("detection_method", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("recommended_action", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("service", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("version", sa.String(length=100), nullable=True),
        sa.Column("environment", sa.String(length=100), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen_ns", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.Column("open_key", sa.String(length=800), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_anomalies"),
        sa.UniqueConstraint("org_id", "open_key", name="uq_anomalies_org_id_open_key"),
    )
    op.create_index("ix_anomalies_org_id_last_seen_ns", "anomalies", ["org_id", "last_seen_ns"])
    op.create_index("ix_anomalies_org_id_updated_at_ns", "anomalies", ["org_id", "updated_at_ns"])


def downgrade() -> None:
    op.drop_index("ix_anomalies_org_id_updated_at_ns", table_name="anomalies")
    op.drop_index("ix_anomalies_org_id_last_seen_ns", table_name="anomalies")
    op.drop_table("anomalies")
    op.drop_index("ix_rollups_org_id_minute_ns", table_name="rollups")
    op.drop_table("rollups")
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.drop_column("risk_level")
