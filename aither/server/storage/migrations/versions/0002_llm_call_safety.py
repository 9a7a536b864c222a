"""LLM calls: error type, client name, cache and reasoning tokens, PII and prompt-injection flags

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("error_type", sa.String(length=200)),
    ("client_name", sa.String(length=200)),
    ("cache_read_input_tokens", sa.Integer()),
    ("reasoning_output_tokens", sa.Integer()),
    ("pii_detected", sa.Boolean()),
    ("pii_counts", sa.Text()),
    ("injection_score", sa.Float()),
    ("injection_detected", sa.Boolean()),
    ("injection_rules", sa.Text()),
)


def upgrade() -> None:
    # nullable columns only: SQLite adds them in place, without rebuilding the table
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        for name, kind in _COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        for name, _ in reversed(_COLUMNS):
            batch_op.drop_column(name)
