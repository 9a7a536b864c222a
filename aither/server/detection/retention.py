"""Retention: delete telemetry older than a cutoff, in small batches through the single writer.

Each batch is one writer job of at most ``batch_rows`` rows, so ingest jobs queue between
batches instead of waiting for the whole prune. Predictions go with their label rows and the
labels joined to them, so no label points at a deleted prediction; rollups and resolved
anomalies go by time too, and the label-join rollups' partly pruned minute is computed again
from the label rows left, so they still equal those rows. SQLite reuses the freed pages (and,
for a database created with ``auto_vacuum=INCREMENTAL``, hands them back to the file system),
so a server under steady load with retention on stops growing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..lease import HolderLoop
from ..storage import label_rollups, llm_rollups
from ..storage.schema import (
    anomalies,
    drift_scores,
    label_rows,
    labels,
    llm_calls,
    operations,
    predictions,
    rollups,
    spans,
)
from .rollups import prune_hourly

if TYPE_CHECKING:
    from ..storage import Storage

BATCH_ROWS = 5_000
# steps that delete a span of minutes (hours) at a time, until none is left
_BY_MINUTE = ("rollups", "rollups_hourly", "label_rollups", "llm_rollups")


@dataclass
class PruneResult:
    """Rows deleted per table."""

    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def _org(column: Any, org_id: str | None) -> list[Any]:
    return [column == org_id] if org_id is not None else []


def _delete_ids(connection: Connection, table: sa.Table, ids: sa.Select[Any]) -> int:
    found = [row[0] for row in connection.execute(ids)]
    if not found:
        return 0
    connection.execute(table.delete().where(table.c.id.in_(found)))
    return len(found)


def _steps(cutoff_ns: int, org_id: str | None, limit: int) -> list[tuple[str, Callable[[Connection], int]]]:
    p = predictions.c
    old_predictions = sa.select(p.id).where(p.time_ns < cutoff_ns, *_org(p.org_id, org_id))

    def delete_rollups(connection: Connection) -> int:
        where = [rollups.c.minute_ns < cutoff_ns, *_org(rollups.c.org_id, org_id)]
        oldest = connection.execute(sa.select(sa.func.min(rollups.c.minute_ns)).where(*where)).scalar()
        if oldest is None:
            return 0
        # a rollup row per target and minute: an hour at a time keeps a batch small
        end = min(cutoff_ns, oldest + 3_600_000_000_000)
        return int(connection.execute(rollups.delete().where(*where, rollups.c.minute_ns < end)).rowcount)

    def by_time(table: sa.Table, column: str) -> Callable[[Connection], int]:
        return lambda connection: _delete_ids(
            connection,
            table,
            sa.select(table.c.id)
            .where(table.c[column] < cutoff_ns, *_org(table.c.org_id, org_id))
            .limit(limit),
        )

    return [
        (
            "label_rows",
            lambda c: _delete_ids(
                c,
                label_rows,
                sa.select(label_rows.c.id)
                .where(label_rows.c.pred_time_ns < cutoff_ns, *_org(label_rows.c.org_id, org_id))
                .limit(limit),
            ),
        ),
        (
            "labels",
            lambda c: _delete_ids(
                c,
                labels,
                sa.select(labels.c.id)
                .where(
                    sa.or_(
                        labels.c.prediction_id.in_(old_predictions),
                        sa.and_(labels.c.prediction_id.is_(None), labels.c.time_ns < cutoff_ns),
                    ),
                    *_org(labels.c.org_id, org_id),
                )
                .limit(limit),
            ),
        ),
        # after label_rows: the cutoff's minute is computed again from the rows left
        ("label_rollups", lambda c: label_rollups.prune(c, cutoff_ns, org_id)),
        ("predictions", by_time(predictions, "time_ns")),
        ("llm_calls", by_time(llm_calls, "time_ns")),
        # after llm_calls: the cutoff's minute is computed again from the calls left
        ("llm_rollups", lambda c: llm_rollups.prune(c, cutoff_ns, org_id)),
        ("operations", by_time(operations, "time_ns")),
        ("spans", by_time(spans, "start_time_ns")),
        ("rollups", delete_rollups),
        # after the minutes: the cutoff's hour is rebuilt from the minutes left
        ("rollups_hourly", lambda c: prune_hourly(c, cutoff_ns, org_id)),
        ("drift_scores", by_time(drift_scores, "window_end_ns")),  # what past windows found
        (
            "anomalies",
            lambda c: _delete_ids(
                c,
                anomalies,
                sa.select(anomalies.c.id)
                .where(
                    anomalies.c.last_seen_ns < cutoff_ns,
                    anomalies.c.open_key.is_(None),
                    *_org(anomalies.c.org_id, org_id),
                )
                .limit(limit),
            ),
        ),
    ]


def prune(
    storage: Storage, cutoff_ns: int, *, org_id: str | None = None, batch_rows: int = BATCH_ROWS
) -> PruneResult:
    """Delete rows older than ``cutoff_ns`` (of one organisation, or all), batch by batch.

    Blocks until done; each batch waits its turn in the writer's queue like any ingest job.
    """
    result = PruneResult()
    for table, step in _steps(cutoff_ns, org_id, batch_rows):
        while True:
            deleted = storage.writer.run(step, timeout=120.0)
            if deleted:
                result.deleted[table] = result.deleted.get(table, 0) + deleted
            if deleted < batch_rows if table not in _BY_MINUTE else deleted == 0:
                break
    if result.total and storage.dialect == "sqlite":
        storage.writer.run(_incremental_vacuum, timeout=120.0)
    if storage.telemetry is not None:  # --telemetry-db: the telemetry itself is there
        for table, rows in storage.telemetry.prune(cutoff_ns, org_id).items():
            result.deleted[table] = result.deleted.get(table, 0) + rows
    return result


def _incremental_vacuum(connection: Connection) -> None:
    # a no-op unless the file was created with auto_vacuum=INCREMENTAL; freed pages are reused anyway
    cursor = connection.exec_driver_sql("PRAGMA incremental_vacuum")
    if cursor.returns_rows:
        cursor.fetchall()  # each step frees one page: read it to the end


class RetentionLoop(HolderLoop):
    """Prunes everything older than ``retention_s`` every ``every_s`` seconds, on its own thread.

    ``lease``: with several servers on one database, a function that says whether this server
    holds the lease (its fencing token, or None); only the holder prunes. Pruning twice would
    be harmless (the same deletes), but it would double the load for nothing.
    """

    name = "aither-retention"
    what = "retention"

    def __init__(
        self,
        storage: Storage,
        retention_s: float,
        every_s: float = 60.0,
        *,
        lease: Callable[[], int | None] | None = None,
    ) -> None:
        self.storage = storage
        self.retention_s = retention_s
        super().__init__(every_s, lease)

    def work(self, token: int | None) -> None:
        prune(self.storage, time.time_ns() - int(self.retention_s * 1e9))
