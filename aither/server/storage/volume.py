"""A model's volume per version over a window, from the per-minute rollups.

Whole hours come from the hourly rollups and the whole minutes around them from the per-minute
ones (one row per hour or minute and version, whatever the traffic);
the partial minutes at a bounded window's edges come from the predictions themselves (at most
two minutes of rows), so the counts are exact for any window and cost no scan of history.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..detection.rollups import Rollup
from .filters import ModelScope
from .rollup_time import in_ranges, split_window, tiers
from .schema import ROLLUP_SUMS, predictions, rollups, rollups_hourly
from .window import Window


def prediction_volume(connection: Connection, org_id: str, scope: ModelScope) -> dict[str | None, Rollup]:
    """Per version of ``scope.model`` (None: no version): calls, output rows, errors, latency sum
    and histogram."""
    volume, _ = model_volumes(connection, org_id, scope)
    return {key[1]: rollup for key, rollup in volume.items()}


def model_volumes(
    connection: Connection, org_id: str, scope: ModelScope
) -> tuple[dict[tuple[str, str | None], Rollup], dict[tuple[str, str | None], str | None]]:
    """Per (model, version) (version None: no version): the same sums, of every model unless
    ``scope.model`` is given; and per (model, version), the largest environment seen (as SQL's
    ``max()`` of the rows gives)."""
    window = scope.window
    split = split_window(window.since_ns, window.until_ns)
    out: dict[tuple[str, str | None], Rollup] = {}
    environments: dict[tuple[str, str | None], str | None] = {}
    for hourly, low, high in tiers(split):
        r = (rollups_hourly if hourly else rollups).c
        clauses: list[Any] = [
            in_ranges(r, org_id, [(low, high)]),
            r.kind == "prediction",
            *scope.clauses(r.model, r.version, r.environment),
        ]
        sums = [sa.func.sum(r[name]).label(name) for name in ROLLUP_SUMS]
        query = sa.select(
            r.model,
            r.version,
            *sums,
            sa.func.max(r.latency_max_ms).label("latency_max_ms"),
            sa.func.max(r.environment).label("max_environment"),
        )
        for row in connection.execute(query.where(*clauses).group_by(r.model, r.version)).mappings():
            key = (row["model"], row["version"] or None)
            # PostgreSQL's SUM of a BIGINT is a NUMERIC: floats, as the rollups hold
            summed = Rollup.from_row({k: float(row[k] or 0) for k in (*ROLLUP_SUMS, "latency_max_ms")})
            if key in out:
                out[key].merge(summed)
            else:
                out[key] = summed
            if (environments.get(key) or "") < (row["max_environment"] or ""):
                environments[key] = row["max_environment"]
    p = predictions.c
    for start, end in split.edges:
        edge = replace(scope, window=Window(start, end))
        clauses = [p.org_id == org_id, *edge.clauses(p.model_name, p.model_version, p.environment, p.time_ns)]
        query = sa.select(
            p.model_name, p.model_version, p.latency_ms, p.output_rows, p.is_error, p.environment
        ).where(*clauses)
        for found in connection.execute(query):
            key = (found[0], found[1])
            rollup = out.setdefault(key, Rollup())
            rollup.add_call(float(found[2]), bool(found[4]))
            rollup.rows += found[3] or 0
            if found[5] is not None and (environments.get(key) or "") < found[5]:
                environments[key] = found[5]
    return {key: value for key, value in out.items() if value.count}, environments
