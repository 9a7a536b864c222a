"""What the window rules read from the ClickHouse store when several servers share it.

The lease holder that runs the window rules has seen only its own share of the stream, so at
each tick it reads each organisation's newest event time and the calls of the last seconds from
the store (:mod:`aither.server.detection.shared`); with telemetry in ClickHouse, those live here
and the relational tables stay empty. The rows come back in the shapes the relational reads
give, so one function turns either into the window rules' recent view.
"""

from __future__ import annotations

from typing import Any

from .client import Executor

LlmRow = tuple[str, str, int, float, float | None, int | None, int | None, bool]
"""(service, model, time_ns, latency_ms, cost_usd, input_tokens, output_tokens, is_error)."""
PredictionRow = tuple[str, str, str, str, int, float, bool]
"""(service, model, version, environment, time_ns, latency_ms, is_error)."""

# the service is the span's (as the rollups have it), found by id among the spans of the same
# calls: the right side of the join holds those spans only, never the organisation's all
_WITH_SERVICE = """SELECT {columns} FROM (
    SELECT trace_id, span_id, {inner} FROM {db}.{table} FINAL WHERE {where}
) AS calls ANY LEFT JOIN (
    SELECT trace_id, span_id, ifNull(service_name, '') AS service FROM {db}.spans
    WHERE org_id = %(org)s AND span_id IN (SELECT span_id FROM {db}.{table} WHERE {where})
) AS services USING (trace_id, span_id) ORDER BY time_ns, trace_id, span_id"""

# time_ns bounds the rows; time (seconds, the partition key) lets the engine skip older days
_RECENT = (
    "org_id = %(org)s AND time >= toDateTime(%(start_s)s) AND time_ns >= %(start)s AND time_ns <= %(now)s"
)


class DetectionReads:
    """The window rules' reads; mixed into the store, which sets ``x`` and ``db``."""

    x: Executor
    db: str

    def newest_event_ns(self, org_id: str) -> int | None:
        """The newest time of a stored LLM call or prediction; None when there is none."""
        found = [
            int(row[0])
            for table in ("llm_calls", "predictions")
            for row in self.x.execute(
                f"SELECT max(time_ns), count() FROM {self.db}.{table} WHERE org_id = %(org)s", {"org": org_id}
            )
            if int(row[1])  # max() of no rows is 0 here, not NULL
        ]
        return max(found) if found else None

    def recent_rows(
        self, org_id: str, start_ns: int, now_ns: int
    ) -> tuple[list[LlmRow], list[PredictionRow]]:
        """The LLM calls and predictions of ``start_ns <= time <= now_ns``, oldest first, each once."""
        params: dict[str, Any] = {
            "org": org_id,
            "start": max(start_ns, 0),
            "start_s": max(start_ns, 0) // 1_000_000_000,
            "now": max(now_ns, 0),
        }
        llm = self._recent_with_service(
            "llm_calls",
            (
                "ifNull(response_model, ifNull(request_model, '')) AS model",
                "time_ns",
                "latency_ms",
                "cost_usd",
                "input_tokens",
                "output_tokens",
                "is_error",
            ),
            params,
        )
        predictions = self._recent_with_service(
            "predictions",
            (
                "model_name",
                "ifNull(model_version, '') AS version",
                "ifNull(environment, '') AS env",
                "time_ns",
                "latency_ms",
                "is_error",
            ),
            params,
        )
        return (
            [
                (service, model, int(t), float(latency), cost, tokens_in, tokens_out, bool(error))
                for service, model, t, latency, cost, tokens_in, tokens_out, error in llm
            ],
            [
                (service, model, version, env, int(t), float(latency), bool(error))
                for service, model, version, env, t, latency, error in predictions
            ],
        )

    def _recent_with_service(self, table: str, selected: tuple[str, ...], params: dict[str, Any]) -> Any:
        """``selected`` (columns, or ``expression AS name``) of ``table``'s rows in the window of
        ``params``, oldest first, each led by its span's service."""
        names = ["service", *(expression.rsplit(" AS ", 1)[-1] for expression in selected)]
        sql = _WITH_SERVICE.format(
            db=self.db, table=table, where=_RECENT, inner=", ".join(selected), columns=", ".join(names)
        )
        return self.x.execute(sql, params)
