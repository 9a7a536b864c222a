"""ui_sessions: the dashboard's server-side sign-in sessions; llm_calls and operations by trace

The trace page reads a trace's LLM calls and operations; without an index on
``(org_id, trace_id)`` each trace scanned both tables.

Revision ID: 0007
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ui_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("scopes", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name=op.f("fk_ui_sessions_key_id_api_keys")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_ui_sessions_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_ui_sessions")),
    )
    op.create_index(op.f("ix_ui_sessions_key_id"), "ui_sessions", ["key_id"], unique=False)
    op.create_index(op.f("ix_ui_sessions_expires_at_ns"), "ui_sessions", ["expires_at_ns"], unique=False)
    for table in ("llm_calls", "operations"):
        op.create_index(op.f(f"ix_{table}_org_id_trace_id"), table, ["org_id", "trace_id"], unique=False)


def downgrade() -> None:
    for table in ("operations", "llm_calls"):
        op.drop_index(op.f(f"ix_{table}_org_id_trace_id"), table_name=table)
    op.drop_index(op.f("ix_ui_sessions_expires_at_ns"), table_name="ui_sessions")
    op.drop_index(op.f("ix_ui_sessions_key_id"), table_name="ui_sessions")
    op.drop_table("ui_sessions")
