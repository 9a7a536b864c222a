"""LLM rollups: the LLM totals' sums per minute and hour of call time (``llm_rollups``).

Every stored LLM call adds to one rollup row, keyed by organisation, minute of the call,
service, provider, request model and end user (:data:`~.schema.LLM_ROLLUP_KEYS`, each '' for
a call that did not say). The columns are counts and sums (calls, errors, tokens, cost, calls
without a cost), so merging is adding. ``llm_rollups_hourly`` holds the same sums per hour.

They are kept in the transaction that stores the calls: ingest adds the batch's newly stored
calls with an upsert that never reads (:func:`upsert`), so a replayed call, which stores no
new row, adds nothing. Retention deletes whole minutes (hours) before its cutoff and computes
the cutoff's minute and hour again from the calls left (:func:`prune`). So the rollups always
equal an aggregate of ``llm_calls``.

:func:`totals` reads a window's whole hours from the hourly table, the whole minutes around
them from the per-minute one and its partial first and last minute from ``llm_calls`` (the
window helpers of :mod:`.rollup_time`), so the totals are exact for any window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..ingest.records import LlmCallRecord
from .bulk import upsert_sql
from .rollup_time import (
    HOUR_NS,
    MINUTE_NS,
    by_table,
    hour_of,
    in_ranges,
    minute_of,
    prune_step,
    split_window,
    tiers,
)
from .schema import LLM_ROLLUP_KEYS, LLM_ROLLUP_SUMS, llm_calls, llm_rollups, llm_rollups_hourly

Key = tuple[int, str, str, str, str]
"""(minute_ns, service, provider, model, user_id)."""
Sums = list[Any]
"""calls, errors, input tokens, output tokens, cost, unpriced (as :data:`LLM_ROLLUP_SUMS`)."""

GROUPS = {"service": "service", "provider": "provider", "model": "model", "user": "user_id"}
"""The totals' groups the rollups answer, and their rollup column."""
_RAW = {"service": "service", "provider": "provider", "model": "request_model", "user": "user_id"}
_NS_MAX = 2**63 - 1


def collect(calls: Iterable[LlmCallRecord]) -> dict[Key, Sums]:
    """The rollups of some calls, per (minute, key)."""
    out: dict[Key, Sums] = {}
    for call in calls:
        key = (
            minute_of(call.time_ns),
            call.service or "",
            call.provider or "",
            call.request_model or "",
            call.user_id or "",
        )
        sums = out.get(key)
        if sums is None:
            sums = out[key] = [0, 0, 0, 0, 0.0, 0]
        sums[0] += 1
        sums[1] += bool(call.is_error)
        sums[2] += call.input_tokens or 0
        sums[3] += call.output_tokens or 0
        if call.cost_usd is None:
            sums[5] += 1
        else:
            sums[4] += call.cost_usd
    return out


def upsert(connection: Connection, org_id: str, batch: Mapping[Key, Sums]) -> None:
    """Add per-minute rollups to both tables: one ``INSERT ... ON CONFLICT DO UPDATE`` each."""
    if not batch:
        return
    hours: dict[Key, Sums] = {}
    for (minute, *key), sums in batch.items():
        merged = hours.setdefault((hour_of(minute), *key), [0, 0, 0, 0, 0.0, 0])  # type: ignore[arg-type]
        for index, value in enumerate(sums):
            merged[index] += value
    for table, rows in ((llm_rollups, batch), (llm_rollups_hourly, hours)):
        values = [
            {
                "org_id": org_id,
                "minute_ns": key[0],
                **dict(zip(LLM_ROLLUP_KEYS, key[1:], strict=True)),
                **dict(zip(LLM_ROLLUP_SUMS, sums, strict=True)),
            }
            for key, sums in rows.items()
        ]
        sql = upsert_sql(
            connection.dialect.name,
            table.name,
            ("org_id", "minute_ns", *LLM_ROLLUP_KEYS),
            LLM_ROLLUP_SUMS,
            (),
        )
        connection.exec_driver_sql(sql, values)  # type: ignore[arg-type]


def _raw_sums() -> list[Any]:
    """The rollup sums as aggregates of ``llm_calls`` rows (as the raw totals compute them)."""
    c = llm_calls.c
    return [
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(sa.case((c.is_error.is_(True), 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(c.input_tokens), 0),
        sa.func.coalesce(sa.func.sum(c.output_tokens), 0),
        sa.func.coalesce(sa.func.sum(c.cost_usd), 0.0),
        sa.func.coalesce(sa.func.sum(sa.case((c.cost_usd.is_(None), 1), else_=0)), 0),
    ]


def _raw_keys() -> list[Any]:
    c = llm_calls.c
    return [sa.func.coalesce(c[_RAW[group]], "") for group in GROUPS]


def _insert_from_calls(connection: Connection, *clauses: Any) -> None:
    """Per-minute rollups of the calls matching ``clauses`` (one ``INSERT ... SELECT``)."""
    c = llm_calls.c
    minute = c.time_ns - c.time_ns % MINUTE_NS  # times are after 1970: truncation is floor
    keys = _raw_keys()
    query = sa.select(c.org_id, minute, *keys, *_raw_sums()).where(*clauses).group_by(c.org_id, minute, *keys)
    names = ["org_id", "minute_ns", *LLM_ROLLUP_KEYS, *LLM_ROLLUP_SUMS]
    connection.execute(llm_rollups.insert().from_select(names, query))


def _rebuild_hours(connection: Connection, org_id: str | None, hour: int | None = None) -> None:
    """Hourly rows as the sums of their minutes: one hour (``hour``), or all of them."""
    h, r = llm_rollups_hourly.c, llm_rollups.c
    hour_start = r.minute_ns - r.minute_ns % HOUR_NS
    where = [*([r.org_id == org_id] if org_id is not None else [])]
    delete = [*([h.org_id == org_id] if org_id is not None else [])]
    if hour is not None:
        where += [r.minute_ns >= hour, r.minute_ns < min(hour + HOUR_NS, _NS_MAX)]
        delete.append(h.minute_ns == hour)
    connection.execute(llm_rollups_hourly.delete().where(*delete))
    keys = [r[name] for name in LLM_ROLLUP_KEYS]
    query = (
        sa.select(r.org_id, hour_start, *keys, *(sa.func.sum(r[name]) for name in LLM_ROLLUP_SUMS))
        .where(*where)
        .group_by(r.org_id, hour_start, *keys)
    )
    names = ["org_id", "minute_ns", *LLM_ROLLUP_KEYS, *LLM_ROLLUP_SUMS]
    connection.execute(llm_rollups_hourly.insert().from_select(names, query))


def backfill(connection: Connection) -> None:
    """Build every organisation's rollups from ``llm_calls`` (an upgraded database): two
    ``INSERT ... SELECT`` statements, the minutes then the hours from them."""
    _insert_from_calls(connection)
    _rebuild_hours(connection, None)


def prune(connection: Connection, cutoff_ns: int, org_id: str | None) -> int:
    """One retention step, after ``llm_calls``: delete up to an hour of whole minutes (a day of
    whole hours) before the cutoff; rows deleted.

    Once none is left, the cutoff's own minute and hour (partly pruned) are computed again from
    the calls that remain, and 0 is returned.
    """
    first_minute, first_hour = minute_of(cutoff_ns), hour_of(cutoff_ns)
    deleted = prune_step(connection, llm_rollups, llm_rollups_hourly, cutoff_ns, org_id)
    if deleted is not None:
        return deleted
    if first_minute < cutoff_ns:
        r, c = llm_rollups.c, llm_calls.c
        org = [r.org_id == org_id] if org_id is not None else []
        connection.execute(llm_rollups.delete().where(r.minute_ns == first_minute, *org))
        _insert_from_calls(
            connection,
            c.time_ns >= first_minute,
            c.time_ns < first_minute + MINUTE_NS,
            *([c.org_id == org_id] if org_id is not None else []),
        )
    if first_hour < cutoff_ns:
        _rebuild_hours(connection, org_id, first_hour)
    return 0


def totals(
    connection: Connection, org_id: str, group_by: str, since: int | None, until: int | None
) -> dict[str | None, Sums]:
    """The sums of the calls whose time is in ``[since, until)`` per ``group_by`` (a key of
    :data:`GROUPS`; None for calls that did not say): whole hours from the hourly rollups, the
    minutes around them from the per-minute ones, the partial edge minutes from ``llm_calls``."""
    split = split_window(since, until)
    out: dict[str | None, Sums] = {}

    def add(key: str | None, values: Iterable[Any]) -> None:
        sums = out.setdefault(key or None, [0, 0, 0, 0, 0.0, 0])  # '' is "did not say"
        for index, value in enumerate(values):
            sums[index] += value or 0

    for hourly, ranges in by_table(tiers(split)):
        r = (llm_rollups_hourly if hourly else llm_rollups).c
        column = r[GROUPS[group_by]]
        query = sa.select(column, *(sa.func.sum(r[name]) for name in LLM_ROLLUP_SUMS)).where(
            in_ranges(r, org_id, ranges)
        )
        for row in connection.execute(query.group_by(column)):
            add(row[0], row[1:])
    c = llm_calls.c
    for low, high in split.edges:
        column = c[_RAW[group_by]]
        clauses = [
            c.org_id == org_id,
            *([c.time_ns >= low] if low is not None else []),
            *([c.time_ns < high] if high is not None else []),
        ]
        for row in connection.execute(sa.select(column, *_raw_sums()).where(*clauses).group_by(column)):
            add(row[0], row[1:])
    return out
