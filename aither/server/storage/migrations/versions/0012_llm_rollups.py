"""LLM rollups per minute and hour, built from the LLM calls (the LLM totals read them); the
label rollups count the rows with a true class (the stats' accuracy reads them)

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aither.server.storage.migrations._ddl import create_rollup_table, not_null

revision = "0012"
# the lead re-chains this after the lease migration (0011) when the branches merge
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("llm_rollups", "llm_rollups_hourly"):
        create_rollup_table(
            table,
            [
                sa.Column("service", sa.String(length=200), nullable=False),
                sa.Column("provider", sa.String(length=100), nullable=False),
                *not_null(sa.String(length=200), "model", "user_id"),
            ],
            [
                *not_null(sa.BigInteger(), "calls", "errors", "input_tokens", "output_tokens"),
                sa.Column("cost_usd", sa.Float(), nullable=False),
                sa.Column("unpriced", sa.BigInteger(), nullable=False),
            ],
        )
    # an upgraded database: the rollups of the calls it holds (a no-op on a new one)
    from aither.server.storage import label_rollups, llm_rollups

    bind = op.get_bind()
    llm_rollups.backfill(bind)
    # 0010 creates ``classified`` since it backfills with today's code; a database that was
    # already at 0010 gets it here, and its label rollups computed again to fill it
    if "classified" not in {c["name"] for c in sa.inspect(bind).get_columns("label_rollups")}:
        for table in ("label_rollups", "label_rollups_hourly"):
            op.add_column(table, sa.Column("classified", sa.BigInteger(), nullable=False, server_default="0"))
            op.execute(f"DELETE FROM {table}")
        label_rollups.backfill(bind)


def downgrade() -> None:
    op.drop_table("llm_rollups_hourly")
    op.drop_table("llm_rollups")
