"""ui_sessions: the dashboard's server-side sign-in sessions; llm_calls and operations by trace

The trace page reads a trace's LLM calls and operations; without an index on
``(org_id, trace_id)`` each trace scanned both tables.

Revision ID: 0007
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aither.server.storage.migrations._ddl import (
    Indexes,
    create_indexes,
    drop_indexes,
    org_foreign_key,
    org_id,
)

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


_INDEXES: dict[str, Indexes] = {
    "ui_sessions": {
        "ix_ui_sessions_key_id": ("key_id",),
        "ix_ui_sessions_expires_at_ns": ("expires_at_ns",),
    },
    "llm_calls": {"ix_llm_calls_org_id_trace_id": ("org_id", "trace_id")},
    "operations": {"ix_operations_org_id_trace_id": ("org_id", "trace_id")},
}


def upgrade() -> None:
    op.create_table(
        "ui_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        org_id(),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("scopes", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("expires_at_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name=op.f("fk_ui_sessions_key_id_api_keys")),
        org_foreign_key("ui_sessions"),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_ui_sessions")),
    )
    for table, indexes in _INDEXES.items():
        create_indexes(table, indexes)


def downgrade() -> None:
    for table, indexes in reversed(_INDEXES.items()):
        drop_indexes(table, indexes)
    op.drop_table("ui_sessions")
