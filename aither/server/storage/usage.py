"""Usage counters per organisation and calendar month (UTC).

Telemetry counts (spans, predictions, labels...) are added by the ingest job in the same
transaction as the rows, so they can't drift from what was stored. API calls are counted in
memory by :class:`UsageMeter` (a read request must not cost a write) and folded into the table
by the writer about once a second; reads add what is still pending, so the count is exact.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .schema import USAGE_COUNTERS, api_keys, usage

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _to_ns(moment: dt.datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def period_bounds(now_ns: int) -> tuple[int, int]:
    """(start, end) in ns of the calendar month (UTC) holding ``now_ns``."""
    now = dt.datetime.fromtimestamp(now_ns / 1e9, tz=dt.timezone.utc)
    start = dt.datetime(now.year, now.month, 1, tzinfo=dt.timezone.utc)
    end = dt.datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=dt.timezone.utc)
    return _to_ns(start), _to_ns(end)


def add_usage(connection: Connection, org_id: str, period_start_ns: int, counts: dict[str, int]) -> None:
    """Add to an organisation's counters for a period (the writer is the only caller)."""
    counts = {name: value for name, value in counts.items() if value}
    if not counts:
        return
    unknown = set(counts) - set(USAGE_COUNTERS)
    if unknown:
        raise ValueError(f"unknown usage counters: {sorted(unknown)}")
    where = (usage.c.org_id == org_id) & (usage.c.period_start_ns == period_start_ns)
    added = {name: usage.c[name] + value for name, value in counts.items()}
    updated = connection.execute(usage.update().where(where).values(added))
    if updated.rowcount == 0:
        row: dict[str, Any] = dict.fromkeys(USAGE_COUNTERS, 0)
        row.update(counts, org_id=org_id, period_start_ns=period_start_ns)
        if connection.dialect.name == "postgresql":
            # another server may insert the period's first row at the same moment: add to it
            from sqlalchemy.dialects.postgresql import insert

            statement = insert(usage).values(row)
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[usage.c.org_id, usage.c.period_start_ns], set_=added
                )
            )
        else:  # SQLite: one writer per file
            connection.execute(usage.insert().values(row))


def read_usage(connection: Connection, org_id: str, period_start_ns: int) -> dict[str, int]:
    """The stored counters of an organisation for a period (zeros when none)."""
    row = connection.execute(
        sa.select(*(usage.c[name] for name in USAGE_COUNTERS)).where(
            (usage.c.org_id == org_id) & (usage.c.period_start_ns == period_start_ns)
        )
    ).first()
    if row is None:
        return dict.fromkeys(USAGE_COUNTERS, 0)
    return {name: int(value) for name, value in zip(USAGE_COUNTERS, row, strict=True)}


class UsageMeter:
    """API calls and key last-use times, counted in memory and flushed by the writer. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # held while a flush commits and while a reader adds stored and pending counts, so a
        # call is counted exactly once by every reader
        self.consistent = threading.Lock()
        self._calls: Counter[tuple[str, int]] = Counter()
        self._last_used: dict[str, int] = {}

    def api_call(self, org_id: str, key_id: str, now_ns: int) -> None:
        start, _ = period_bounds(now_ns)
        with self._lock:
            self._calls[(org_id, start)] += 1
            self._last_used[key_id] = now_ns

    def pending_calls(self, org_id: str, period_start_ns: int) -> int:
        with self._lock:
            return self._calls.get((org_id, period_start_ns), 0)

    def last_used(self, key_id: str) -> int | None:
        with self._lock:
            return self._last_used.get(key_id)

    def flush(self, engine: Engine) -> None:
        """Write what has been counted; on failure keep it for the next try."""
        with self.consistent:
            with self._lock:
                calls, self._calls = self._calls, Counter()
                last_used, self._last_used = self._last_used, {}
            if calls or last_used:
                self._write(engine, calls, last_used)

    def _write(self, engine: Engine, calls: Counter[tuple[str, int]], last_used: dict[str, int]) -> None:
        try:
            with engine.begin() as connection:
                for (org_id, start), count in calls.items():
                    add_usage(connection, org_id, start, {"api_calls": count})
                for key_id, when in last_used.items():
                    connection.execute(
                        api_keys.update().where(api_keys.c.id == key_id).values(last_used_at_ns=when)
                    )
        except Exception:
            with self._lock:
                self._calls.update(calls)
                for key_id, when in last_used.items():
                    self._last_used[key_id] = max(when, self._last_used.get(key_id, 0))
            raise
