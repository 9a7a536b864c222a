"""SQL conditions and pages shared by the ClickHouse reads, as the relational reads filter and page."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..storage.filters import Paging
from ..storage.queries import Rows, cut_page, decode_cursor
from ..storage.window import Window
from .client import Executor, value_set

_U64_MAX = 2**64 - 1


def _u64(value: int) -> int:
    """``value`` clamped to a UInt64 column (a bound past it matches as the column's end would)."""
    return min(max(value, 0), _U64_MAX)


def window_sql(window: Window, column: str, *, partitions: bool = False) -> tuple[str, dict[str, Any]]:
    """SQL conditions of a window on a UInt64 time column, its bounds clamped to the column;
    ``partitions``: the same bounds on the table's ``time`` (:func:`partition_sql`), when
    ``column`` is the time the table is partitioned by."""
    sql = ""
    params: dict[str, Any] = {}
    if window.since_ns is not None:
        sql += f" AND {column} >= %(since)s"
        params["since"] = _u64(window.since_ns)
    if window.until_ns is not None:
        sql += f" AND {column} < %(until)s"
        params["until"] = _u64(window.until_ns)
    if partitions:
        sql += partition_sql(window)
    return sql, params


_DATETIME_END_NS = 2**32 * 1_000_000_000
"""Past ``DateTime``'s range (2106): a bound there prunes no partition."""


def partition_sql(window: Window, column: str = "time") -> str:
    """The window (its bounds as :func:`window_sql` binds them: ``%(since)s``, ``%(until)s``) on
    a table's ``DateTime`` partition column, ``column`` (the seconds of its nanosecond time), so
    the day partitions outside it are not read: a condition implied by :func:`window_sql`'s,
    added beside it for the engine, which cannot see it through the ``DEFAULT`` expression."""
    sql = ""
    if window.since_ns is not None and 0 < window.since_ns < _DATETIME_END_NS:
        sql += f" AND {column} >= toDateTime(intDiv(%(since)s, 1000000000))"
    if window.until_ns is not None and 0 <= window.until_ns < _DATETIME_END_NS:
        sql += f" AND {column} <= toDateTime(intDiv(%(until)s, 1000000000))"
    return sql


def equal_sql(wanted: Mapping[str, Any], params: dict[str, Any]) -> str:
    """`` AND column = %(column)s`` for each column given a value (None: any); the values go
    into ``params`` under the column's name."""
    sql = ""
    for column, value in wanted.items():
        if value is not None:
            sql += f" AND {column} = %({column})s"
            params[column] = value
    return sql


NEWEST_FIRST_SPANS_NS = (3_600_000_000_000, 86_400_000_000_000, 8 * 86_400_000_000_000)
"""How far back a page looks first (1 hour, 1 day, 8 days, then everything): a page of
the newest rows is nearly always in the last hour, and ClickHouse (18.16 has no reading in
key order) sorts every row a query reads before it cuts the page."""


def read_page(
    x: Executor,
    source: str,
    columns: Sequence[str],
    where: str,
    params: dict[str, Any],
    page: Paging,
    *,
    now_ns: int | None = None,
    widen: bool = True,
    keys_from: str | None = None,
) -> Rows:
    """A page of the rows of ``source`` matching ``where``, newest first (by ``time_ns``, then
    ``id``), as dicts of ``columns``; and the cursor of the next page.

    ``{bound}`` in ``source`` or ``where`` (where the rows' ``time_ns`` and ``time`` are in
    scope; ``{pred_bound}`` in a read of ``label_rows``, on ``pred_time_ns``) takes the time
    bounds: the cursor's or ``until``'s as the newest, and a lower bound that widens: the
    page is read over the last hour before the cursor (or ``until``, or ``now_ns``), then a
    day, then 8 days, then everything, until a read fills the page (``widen=False``: one
    read of everything). A full page of rows newer than a bound is the page itself (every
    row past the bound is older than all of them), so the answer is the unbounded read's.

    ``keys_from``: the table ``source`` reads with ``FINAL``, named alone: the widening reads
    then take only the page's (``time_ns``, ``id``) from it, and one read of ``source`` the
    rows of those keys (the rows ``FINAL`` keeps have the same keys as the rows before it).
    """
    params = {**params, "limit": page.limit + 1}
    high = params.get("until")  # the newest time a row of the page can have (``time_ns <= high``)
    if page.cursor is not None:
        time_ns, row_id = decode_cursor(page.cursor)
        where += " AND (time_ns < %(ct)s OR (time_ns = %(ct)s AND id < %(ci)s))"
        params.update(ct=_u64(time_ns), ci=_u64(row_id))
        high = params["ct"] if high is None else min(high, params["ct"])
    anchor = min(time.time_ns() if now_ns is None else now_ns, _U64_MAX if high is None else high)
    since = params.get("since", 0)
    bounds: list[int | None] = [anchor - span for span in NEWEST_FIRST_SPANS_NS if anchor - span > since]
    if not widen:
        bounds = []

    def bounded(sql: str, low: int | None) -> str:
        for token, column in (("{bound}", "time_ns"), ("{pred_bound}", "pred_time_ns")):
            bound = ""
            if low is not None:
                bound += f" AND {column} >= %(low)s{_partition(' >= ', '%(low)s', low)}"
                params["low"] = low
            elif since:  # the window's own start, on the partitions too
                bound += _partition(" >= ", "%(since)s", since)
            if high is not None:
                bound += f" AND {column} <= %(high)s{_partition(' <= ', '%(high)s', high)}"
                params["high"] = high
            sql = sql.replace(token, bound)
        return sql

    newest = " ORDER BY time_ns DESC, id DESC LIMIT %(limit)s"
    if keys_from is not None:
        # the page's keys first, from the table without FINAL and without its wide columns
        # (a replay stored twice is one key), then those rows alone
        for low in [*bounds, None]:
            keys = x.execute(
                bounded(f"SELECT DISTINCT time_ns, id FROM {keys_from} WHERE {where}{newest}", low), params
            )
            if len(keys) >= page.limit + 1:
                break
        if not keys:
            return [], None
        params["keys"] = value_set(keys)
        where += " AND (time_ns, id) IN %(keys)s"
        # the keys' times bound the one read of their rows (and a labelled-rows subquery's)
        high = max(k[0] for k in keys)
        lows: list[int | None] = [min(k[0] for k in keys)]
    else:
        lows = [*bounds, None]
    for low in lows:
        found = x.execute(
            bounded(f"SELECT {', '.join(columns)} FROM {source} WHERE {where}{newest}", low), params
        )
        if len(found) >= page.limit + 1:
            break
    return cut_page([dict(zip(columns, row, strict=True)) for row in found], page.limit)


def _partition(compare: str, param: str, value: int) -> str:
    """The same bound on the ``time`` partition column, where ``DateTime`` can hold it."""
    if not 0 <= value < _DATETIME_END_NS:
        return ""
    return f" AND time{compare}toDateTime(intDiv({param}, 1000000000))"
