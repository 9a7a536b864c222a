"""Label-join rollups per minute and hour, built from the label rows; hourly twin of the rollups

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from aither.server.storage.migrations._ddl import create_rollup_table, not_null, target

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_DELAY_BUCKETS = 48


def upgrade() -> None:
    for table in ("label_rollups", "label_rollups_hourly"):
        _create(table)
    # the partial minutes at a window's edges read label rows by prediction time, any model
    op.create_index("ix_label_rows_org_id_pred_time_ns", "label_rows", ["org_id", "pred_time_ns"])
    # the predictions page: one model's newest rows, in index order, whatever its versions
    op.create_index("ix_predictions_model_time", "predictions", ["org_id", "model_name", "time_ns"])
    _create_hourly_rollups()
    # an upgraded database: the rollups of the label rows it holds (a no-op on a new one)
    from aither.server.storage.label_rollups import backfill

    backfill(op.get_bind())


_ROLLUP_SUMS = (
    "count",
    "errors",
    "latency_sum_ms",
    "cost_usd",
    "cost_calls",
    "input_tokens",
    "output_tokens",
    "pii_calls",
    "injection_calls",
    "rows",
    *(f"lat_{i:02d}" for i in range(34)),
)


def _sum_type(name: str) -> sa.types.TypeEngine[Any]:
    if name in ("latency_sum_ms", "cost_usd"):
        return sa.Float()
    return sa.Integer() if name.startswith("lat_") else sa.BigInteger()


def _create_hourly_rollups() -> None:
    """The per-minute rollups' hourly twin, filled from the minutes already stored."""
    key = target(nullable=False)
    keys = [column.name for column in key]
    create_rollup_table(
        "rollups_hourly",
        key,
        [
            *(sa.Column(name, _sum_type(name), nullable=False) for name in _ROLLUP_SUMS),
            sa.Column("latency_max_ms", sa.Float(), nullable=False),
        ],
    )
    hour = "minute_ns - minute_ns % 3600000000000"
    sums = ", ".join(f'SUM("{name}")' for name in _ROLLUP_SUMS)
    columns = ", ".join(
        f'"{name}"' for name in ("org_id", "minute_ns", *keys, *_ROLLUP_SUMS, "latency_max_ms")
    )
    group = ", ".join(("org_id", hour, *keys))
    op.execute(
        f"INSERT INTO rollups_hourly ({columns}) "
        f"SELECT org_id, {hour}, {', '.join(keys)}, {sums}, MAX(latency_max_ms) FROM rollups GROUP BY {group}"
    )


def _create(name: str) -> None:
    create_rollup_table(
        name,
        [
            sa.Column("model", sa.String(length=200), nullable=False),
            sa.Column("version", sa.String(length=100), nullable=False),
            sa.Column("environment", sa.String(length=100), nullable=False),
            sa.Column("task", sa.String(length=16), nullable=False),
            sa.Column("pair", sa.SmallInteger(), nullable=False),
            *not_null(sa.String(length=200), "pred_class", "label_class"),
        ],
        [
            # ``classified`` is added by 0012 on a database already at 0010; here because the
            # backfill below is today's code, which writes it
            *not_null(sa.BigInteger(), "rows", "correct", "classified", "num_rows"),
            *not_null(sa.Float(), "err_sum", "abs_err_sum", "sq_err_sum", "delay_sum_s", "delay_max_s"),
            *not_null(sa.Integer(), *(f"dl_{i:02d}" for i in range(_DELAY_BUCKETS))),
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_predictions_model_time", table_name="predictions")
    op.drop_index("ix_label_rows_org_id_pred_time_ns", table_name="label_rows")
    op.drop_table("rollups_hourly")
    op.drop_table("label_rollups_hourly")
    op.drop_table("label_rollups")
