"""The time arithmetic of the rollups: minutes and hours, and a window cut into what the
hourly tables, the per-minute tables and the raw rows each answer.

Every rollup table (``rollups``, ``label_rollups``, ``llm_rollups`` and their ``_hourly``
twins) keys its rows by organisation and the start of a minute (or hour) in ``minute_ns``;
the reads and retention here work on any of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

MINUTE_NS = 60_000_000_000
HOUR_NS = 60 * MINUTE_NS
NS_MIN, NS_MAX = -(2**63), 2**63 - 1  # what the 64-bit time columns hold


def minute_of(time_ns: int) -> int:
    """The start of the minute ``time_ns`` falls in (floor; clamped to the time columns)."""
    return max(time_ns - time_ns % MINUTE_NS, NS_MIN)


def hour_of(time_ns: int) -> int:
    """The start of the hour ``time_ns`` falls in (floor; clamped to the time columns)."""
    return max(time_ns - time_ns % HOUR_NS, NS_MIN)


def ceil_to(time_ns: int, unit: int) -> int:
    """``time_ns`` rounded up to a whole ``unit`` (clamped to the time columns)."""
    return min(-(-time_ns // unit) * unit, NS_MAX)


@dataclass(frozen=True, slots=True)
class Split:
    """A window cut into whole minutes (from the rollups) and partial edges (from the rows)."""

    full_from: int | None
    full_to: int | None
    use_rollups: bool
    edges: tuple[tuple[int | None, int | None], ...]


def split_window(since: int | None, until: int | None) -> Split:
    """Whole minutes ``[full_from, full_to)`` and the partial minutes at a bounded window's edges."""
    full_from = ceil_to(since, MINUTE_NS) if since is not None else None
    full_to = minute_of(until) if until is not None else None
    if full_from is not None and full_to is not None and full_from >= full_to:
        return Split(None, None, False, ((since, until),))  # inside one or two minutes: rows only
    edges = []
    if since is not None and full_from is not None and since < full_from:
        edges.append((since, full_from))
    if until is not None and full_to is not None and full_to < until:
        edges.append((full_to, until))
    return Split(full_from, full_to, True, tuple(edges))


def tiers(split: Split, hourly: bool = True) -> list[tuple[bool, int | None, int | None]]:
    """The spans of a split's whole minutes, as (from the hourly table?, from, to): whole hours
    from the hourly table, the minutes around them from the per-minute one."""
    if not split.use_rollups:
        return []
    if not hourly:
        return [(False, split.full_from, split.full_to)]
    hour_from = ceil_to(split.full_from, HOUR_NS) if split.full_from is not None else None
    hour_to = hour_of(split.full_to) if split.full_to is not None else None
    if hour_from is not None and hour_to is not None and hour_from >= hour_to:
        return [(False, split.full_from, split.full_to)]
    out: list[tuple[bool, int | None, int | None]] = [(True, hour_from, hour_to)]
    if split.full_from is not None and hour_from is not None and split.full_from < hour_from:
        out.append((False, split.full_from, hour_from))
    if split.full_to is not None and hour_to is not None and hour_to < split.full_to:
        out.append((False, hour_to, split.full_to))
    return out


def bucket_spans(
    since_ns: int, until_ns: int, bucket_ns: int, minutes: tuple[int, int] | None = None
) -> list[tuple[bool, int, int]]:
    """The window's minutes ``[floor(since), until)`` (or ``minutes``: [first, end) minute
    starts) as (from the hourly table?, from, to) spans, for sums per bucket.

    An hour comes from the hourly rollups when all its minutes are in the range and in one
    bucket; the rest (the hours at the range's ends and those a bucket boundary cuts) from the
    per-minute ones, so every minute counts in the same bucket either way.
    """

    def bucket(minute: int) -> int:
        return 0 if minute < since_ns else (minute - since_ns) // bucket_ns

    first, end = minutes if minutes is not None else (minute_of(since_ns), ceil_to(until_ns, MINUTE_NS))
    hour = ceil_to(first, HOUR_NS)
    spans: list[tuple[bool, int, int]] = []

    def add(hourly: bool, low: int, high: int) -> None:
        if low >= high:
            return
        if spans and spans[-1][0] == hourly and spans[-1][2] == low:
            spans[-1] = (hourly, spans[-1][1], high)
        else:
            spans.append((hourly, low, high))

    add(False, first, min(hour, end))
    # A bucket at a time, not an hour at a time (a window of centuries is millions of hours):
    # the run of whole hours whose last minute stays in the bucket the first one starts in, then
    # at most one hour that a bucket boundary cuts.
    while hour + HOUR_NS <= end:
        bucket_end = since_ns + (bucket(hour) + 1) * bucket_ns
        inside = (bucket_end - 1 - (hour + HOUR_NS - MINUTE_NS)) // HOUR_NS + 1
        whole = min(max(inside, 0), (end - hour) // HOUR_NS)
        if whole:
            add(True, hour, hour + whole * HOUR_NS)
            hour += whole * HOUR_NS
        else:
            add(False, hour, hour + HOUR_NS)
            hour += HOUR_NS
    add(False, max(hour, first), end)
    return spans


Range = tuple[int | None, int | None]
"""A range ``[from, to)`` of minute starts, either end open."""


def by_table(spans: Iterable[tuple[bool, int | None, int | None]]) -> Iterator[tuple[bool, list[Range]]]:
    """Spans (from the hourly table?, from, to) as (from the hourly table?, its ranges): the
    hourly table first, a table without ranges left out."""
    for hourly in (True, False):
        ranges = [(low, high) for from_hours, low, high in spans if from_hours == hourly]
        if ranges:
            yield hourly, ranges


def in_ranges(r: Any, org_id: str, ranges: Iterable[Range]) -> Any:
    """The condition on a rollup table's columns ``r``: the organisation's rows whose
    ``minute_ns`` is in one of ``ranges``."""
    # each range a whole index condition, so the database seeks each on (org_id, minute_ns)
    return sa.or_(
        *(
            sa.and_(
                r.org_id == org_id,
                *([r.minute_ns >= low] if low is not None else []),
                *([r.minute_ns < high] if high is not None else []),
            )
            for low, high in ranges
        )
    )


def prune_step(
    connection: Connection, minutes: sa.Table, hours: sa.Table, cutoff_ns: int, org_id: str | None
) -> int | None:
    """Delete up to an hour of whole minutes from ``minutes``, else up to a day of whole hours
    from ``hours``, before the cutoff (of one organisation, or of all when None); rows deleted,
    None once none is left."""
    for table, first_kept, span in (
        (minutes, minute_of(cutoff_ns), HOUR_NS),
        (hours, hour_of(cutoff_ns), 24 * HOUR_NS),
    ):
        t = table.c
        where = [t.minute_ns < first_kept, *([t.org_id == org_id] if org_id is not None else [])]
        oldest = connection.execute(sa.select(sa.func.min(t.minute_ns)).where(*where)).scalar()
        if oldest is not None:
            end = min(first_kept, oldest + span)
            return int(connection.execute(table.delete().where(*where, t.minute_ns < end)).rowcount)
    return None
