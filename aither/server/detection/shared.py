"""What the window rules read from the database when several servers share it.

One server alone sees every call it stores, so it keeps each organisation's event clock and
the last seconds of calls in memory (:mod:`.engine`, :mod:`.windows`). When several servers
ingest into one database, the lease holder that runs the window rules has seen only its own
share, so it reads these from the database instead, at each tick: the organisations, each
one's newest event time, and the calls of the last :data:`~.windows.RECENT_S` seconds. The
rollups (the minute series and baselines) were always read from the database. With telemetry
in a telemetry store (``--telemetry-db``), the relational tables of calls stay empty: the clocks
and the latest calls are read from that store instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..storage.schema import llm_calls, organizations, predictions, spans
from .rollups import MINUTE_NS
from .windows import RECENT_S, RecentCall, RecentCalls

if TYPE_CHECKING:  # the telemetry package imports detection
    from ..telemetry import TelemetryStore


def organisations(connection: Connection) -> list[str]:
    """Every organisation (a handful: the tick skips those with nothing stored)."""
    return [row[0] for row in connection.execute(sa.select(organizations.c.id))]


def newest_event_ns(
    connection: Connection, org_id: str, telemetry: TelemetryStore | None = None
) -> int | None:
    """The newest time of a stored LLM call or prediction (each an index's last entry), read
    from ``telemetry`` when telemetry lives there (``--telemetry-db``)."""
    if telemetry is not None:
        return telemetry.newest_event_ns(org_id)
    newest = [
        connection.execute(sa.select(sa.func.max(table.c.time_ns)).where(table.c.org_id == org_id)).scalar()
        for table in (llm_calls, predictions)
    ]
    found = [int(value) for value in newest if value is not None]
    return max(found) if found else None


def recent_calls(
    connection: Connection, org_id: str, now_ns: int, telemetry: TelemetryStore | None = None
) -> RecentCalls:
    """The calls of the :data:`RECENT_S` seconds before ``now_ns``, as the in-memory view holds
    them; from ``telemetry`` when telemetry lives there."""
    start = now_ns - int(RECENT_S * 1e9)
    if telemetry is not None:
        calls, prediction_rows = telemetry.recent_rows(org_id, start, now_ns)
        return _recent(calls, prediction_rows)

    def rows(table: sa.Table, *columns: Any) -> Iterable[Any]:
        """The window's rows of ``table``, oldest first: the span's service, then ``columns``."""
        joined = table.join(
            spans,
            sa.and_(
                spans.c.org_id == table.c.org_id,
                spans.c.trace_id == table.c.trace_id,
                spans.c.span_id == table.c.span_id,
            ),
        )
        query = (
            sa.select(sa.func.coalesce(spans.c.service_name, ""), *columns)
            .select_from(joined)
            .where(table.c.org_id == org_id, table.c.time_ns >= start, table.c.time_ns <= now_ns)
            .order_by(table.c.time_ns)
        )
        return connection.execute(query)

    c = llm_calls.c
    p = predictions.c
    return _recent(
        rows(
            llm_calls,
            sa.func.coalesce(c.response_model, c.request_model, ""),
            c.time_ns,
            c.latency_ms,
            c.cost_usd,
            c.input_tokens,
            c.output_tokens,
            c.is_error,
        ),
        rows(
            predictions,
            p.model_name,
            sa.func.coalesce(p.model_version, ""),
            sa.func.coalesce(p.environment, ""),
            p.time_ns,
            p.latency_ms,
            p.is_error,
        ),
    )


def _recent(calls: Iterable[Any], prediction_rows: Iterable[Any]) -> RecentCalls:
    """The recent view of LLM-call rows (service, model, time, latency, cost, tokens in and out,
    error) and prediction rows (service, model, version, environment, time, latency, error)."""
    recent = RecentCalls()
    for service, model, time_ns, latency, cost, tokens_in, tokens_out, error in calls:
        tokens = (tokens_in or 0) + (tokens_out or 0)
        key = (time_ns - time_ns % MINUTE_NS, "llm", service, model, "", "")
        recent.add(key, RecentCall(time_ns, latency, cost, tokens, bool(error)))
    for service, model, version, environment, time_ns, latency, error in prediction_rows:
        key = (time_ns - time_ns % MINUTE_NS, "prediction", service, model, version, environment)
        recent.add(key, RecentCall(time_ns, latency, None, 0, bool(error)))
    return recent
