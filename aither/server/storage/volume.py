"""A model's volume per version over a window, from the per-minute rollups.

Whole minutes come from the rollups (one row per minute and version, whatever the traffic);
the partial minutes at a bounded window's edges come from the predictions themselves (at most
two minutes of rows), so the counts are exact for any window and cost no scan of history.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..detection.rollups import MINUTE_NS, Rollup
from .queries import Window
from .schema import ROLLUP_SUMS, predictions, rollups

_NS_MIN, _NS_MAX = -(2**63), 2**63 - 1  # what the 64-bit time columns hold


def _ceil_minute(ns: int) -> int:
    return min(-(-ns // MINUTE_NS) * MINUTE_NS, _NS_MAX)


def _floor_minute(ns: int) -> int:
    # a window clamped to the columns' ends must stay inside them (a bound SQL can bind)
    return max(ns - ns % MINUTE_NS, _NS_MIN)


def prediction_volume(
    connection: Connection,
    org_id: str,
    model: str,
    *,
    version: str | None,
    environment: str | None,
    window: Window,
) -> dict[str | None, Rollup]:
    """Per version (None: no version): calls, output rows, errors, latency sum and histogram."""
    since, until = window.since_ns, window.until_ns
    full_from = _ceil_minute(since) if since is not None else None
    full_to = _floor_minute(until) if until is not None else None
    edges: list[tuple[int | None, int | None]] = []
    if full_from is not None and full_to is not None and full_from >= full_to:
        edges.append((since, until))  # the window lies inside one or two minutes: rows only
        full_from = full_to = None
        use_rollups = False
    else:
        use_rollups = True
        if since is not None and full_from is not None and since < full_from:
            edges.append((since, full_from))
        if until is not None and full_to is not None and full_to < until:
            edges.append((full_to, until))
    out: dict[str | None, Rollup] = {}
    if use_rollups:
        r = rollups.c
        clauses: list[Any] = [r.org_id == org_id, r.kind == "prediction", r.model == model]
        if version is not None:
            clauses.append(r.version == version)
        if environment is not None:
            clauses.append(r.environment == environment)
        if full_from is not None:
            clauses.append(r.minute_ns >= full_from)
        if full_to is not None:
            clauses.append(r.minute_ns < full_to)
        sums = [sa.func.sum(r[name]).label(name) for name in ROLLUP_SUMS]
        query = sa.select(r.version, *sums, sa.func.max(r.latency_max_ms).label("latency_max_ms"))
        for row in connection.execute(query.where(*clauses).group_by(r.version)).mappings():
            out[row["version"] or None] = Rollup.from_row({k: row[k] or 0 for k in row})
    p = predictions.c
    for start, end in edges:
        clauses = [p.org_id == org_id, p.model_name == model, *Window(start, end).clauses(p.time_ns)]
        if version is not None:
            clauses.append(p.model_version == version)
        if environment is not None:
            clauses.append(p.environment == environment)
        query = sa.select(p.model_version, p.latency_ms, p.output_rows, p.is_error).where(*clauses)
        for found in connection.execute(query):
            rollup = out.setdefault(found[0], Rollup())
            rollup.add_call(float(found[1]), bool(found[3]))
            rollup.rows += found[2] or 0
    return {key: value for key, value in out.items() if value.count}
