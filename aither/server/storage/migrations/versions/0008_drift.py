"""Drift: references per model version, and the scores of each closed window

Revision ID: 0008
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aither.server.storage.migrations._ddl import Indexes, create_indexes, create_record_table, drop_table

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_INDEXES: Indexes = {
    "ix_drift_scores_org_id_model_name_window_end_ns": ("org_id", "model_name", "window_end_ns"),
}


def upgrade() -> None:
    create_record_table(
        "drift_references",
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint(
            "org_id",
            "model_name",
            "model_version",
            name="uq_drift_references_org_id_model_name_model_version",
        ),
    )
    create_record_table(
        "drift_scores",
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("environment", sa.String(length=100), nullable=False),
        sa.Column("window_start_ns", sa.BigInteger(), nullable=False),
        sa.Column("window_end_ns", sa.BigInteger(), nullable=False),
        sa.Column("judged_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("side", sa.String(length=16), nullable=False),
        sa.Column("feature", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
    )
    create_indexes("drift_scores", _INDEXES)


def downgrade() -> None:
    drop_table("drift_scores", _INDEXES)
    op.drop_table("drift_references")
