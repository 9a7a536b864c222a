"""LLM calls: who and in what context (user, session, service), to filter and total by them

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = ("user_id", "session_id", "service")


def upgrade() -> None:
    # nullable columns only: SQLite adds them in place, without rebuilding the table
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.add_column(sa.Column(name, sa.String(length=200), nullable=True))
    op.create_index("ix_llm_calls_org_user", "llm_calls", ["org_id", "user_id", "time_ns"])
    op.create_index("ix_llm_calls_org_session", "llm_calls", ["org_id", "session_id", "time_ns"])


def downgrade() -> None:
    op.drop_index("ix_llm_calls_org_session", table_name="llm_calls")
    op.drop_index("ix_llm_calls_org_user", table_name="llm_calls")
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
