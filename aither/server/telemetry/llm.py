"""LLM-call reads of the ClickHouse store: the list and the totals, as the relational reads answer."""

from __future__ import annotations

from typing import Any

from ...schema.vocabulary import RiskLevel
from ..storage.queries import cut_page, decode_cursor, parse_json
from ..storage.window import Window
from .client import Executor, value_set

_U64_MAX = 2**64 - 1
LLM_READ_COLUMNS = (
    "id", "trace_id", "span_id", "name", "operation", "provider", "request_model", "response_model",
    "input_tokens", "output_tokens", "cost_usd", "finish_reasons", "time_ns", "latency_ms", "is_error",
    "error_type", "client_name", "cache_read_input_tokens", "reasoning_output_tokens", "pii_detected",
    "pii_counts", "injection_score", "injection_detected", "injection_rules", "user_id", "session_id",
    "service", "risk_level",
)  # fmt: skip
_GROUPS = {
    "user": "user_id",
    "session": "session_id",
    "service": "service",
    "model": "request_model",
    "provider": "provider",
}


def window_sql(window: Window, column: str) -> tuple[str, dict[str, Any]]:
    """SQL conditions of a window on a UInt64 time column, its bounds clamped to the column."""
    sql = ""
    params: dict[str, Any] = {}
    if window.since_ns is not None:
        sql += f" AND {column} >= %(since)s"
        params["since"] = min(max(window.since_ns, 0), _U64_MAX)
    if window.until_ns is not None:
        sql += f" AND {column} < %(until)s"
        params["until"] = min(max(window.until_ns, 0), _U64_MAX)
    return sql, params


class LlmReads:
    """The LLM-call reads; mixed into the store, which sets ``x`` and ``db``."""

    x: Executor
    db: str

    def list_llm_calls(
        self,
        org_id: str,
        *,
        model: str | None = None,
        provider: str | None = None,
        pii: bool | None = None,
        injection: bool | None = None,
        error: bool | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        service: str | None = None,
        window: Window | None = None,
        limit: int = 50,
        cursor: str | None = None,
        min_risk: RiskLevel | None = None,
        trace_id: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of LLM calls, newest first (as :func:`aither.server.storage.queries.list_llm_calls`);
        ``trace_id``: one trace's (for the trace page)."""
        where, params = window_sql(window or Window(), "time_ns")
        params.update(org=org_id, limit=limit + 1)
        if trace_id is not None:
            where += " AND trace_id = %(trace)s"
            params["trace"] = trace_id
        if model is not None:
            where += " AND (request_model = %(model)s OR response_model = %(model)s)"
            params["model"] = model
        for column, value in (("provider", provider), ("user_id", user_id), ("session_id", session_id)):
            if value is not None:
                where += f" AND {column} = %({column})s"
                params[column] = value
        if service is not None:
            where += " AND service = %(service)s"
            params["service"] = service
        for column, wanted in (("pii_detected", pii), ("injection_detected", injection)):
            if wanted is not None:  # "not flagged" includes calls that were never scanned
                where += f" AND {column} = 1" if wanted else f" AND ifNull({column}, 0) = 0"
        if error is not None:
            where += f" AND is_error = {int(error)}"
        if min_risk is not None:
            where += " AND risk_level IN %(risks)s"
            params["risks"] = value_set([level.value for level in RiskLevel if level >= min_risk])
        if cursor is not None:
            time_ns, row_id = decode_cursor(cursor)
            where += " AND (time_ns < %(ct)s OR (time_ns = %(ct)s AND id < %(ci)s))"
            params.update(ct=min(max(time_ns, 0), _U64_MAX), ci=min(max(row_id, 0), _U64_MAX))
        found = self.x.execute(
            f"SELECT {', '.join(LLM_READ_COLUMNS)} FROM {self.db}.llm_calls FINAL "
            f"WHERE org_id = %(org)s{where} ORDER BY time_ns DESC, id DESC LIMIT %(limit)s",
            params,
        )
        rows = [dict(zip(LLM_READ_COLUMNS, row, strict=True)) for row in found]
        rows, next_cursor = cut_page(rows, limit)
        for row in rows:
            for key in ("is_error", "pii_detected", "injection_detected"):
                row[key] = None if row[key] is None else bool(row[key])
            for key in ("finish_reasons", "pii_counts", "injection_rules"):
                row[key] = parse_json(row[key])
        return rows, next_cursor

    def llm_call_totals(
        self, org_id: str, group_by: str, *, window: Window | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Calls, errors, tokens and cost per group, costliest first (as the relational read)."""
        column = _GROUPS[group_by]
        where, params = window_sql(window or Window(), "time_ns")
        found = self.x.execute(
            f"SELECT {column} AS key, count() AS calls, sum(is_error), sum(ifNull(input_tokens, 0)), "
            "sum(ifNull(output_tokens, 0)), sum(ifNull(cost_usd, 0)) AS cost, sum(isNull(cost_usd)) "
            f"FROM {self.db}.llm_calls FINAL WHERE org_id = %(org)s{where} GROUP BY {column} "
            f"ORDER BY cost DESC, calls DESC, {column} LIMIT %(limit)s",
            {**params, "org": org_id, "limit": limit},
        )
        return [
            {
                "key": key,
                "calls": int(calls),
                "errors": int(errors or 0),
                "input_tokens": int(input_tokens),
                "output_tokens": int(output_tokens),
                "cost_usd": float(cost),
                "unpriced": int(unpriced or 0),
            }
            for key, calls, errors, input_tokens, output_tokens, cost, unpriced in found
        ]
