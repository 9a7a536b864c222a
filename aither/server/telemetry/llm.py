"""LLM-call reads of the ClickHouse store: the list and the totals, as the relational reads answer."""

from __future__ import annotations

from typing import Any

from ..storage.filters import LlmCallFilter, Paging
from ..storage.queries import COST_ORDER_DIGITS, Rows, parse_json
from ..storage.window import Window
from .client import Executor, value_set
from .conditions import equal_sql, read_page, window_sql
from .sealed import LLM_DIMENSIONS, combined, llm_spec

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


class LlmReads:
    """The LLM-call reads; mixed into the store, which sets ``x`` and ``db``."""

    x: Executor
    db: str

    def list_llm_calls(self, org_id: str, where: LlmCallFilter, page: Paging) -> Rows:
        """A page of LLM calls, newest first (as :func:`aither.server.storage.queries.list_llm_calls`)."""
        sql, params = window_sql(where.window, "time_ns")
        sql += equal_sql({"trace_id": where.trace_id}, params)
        if where.model is not None:
            sql += " AND (request_model = %(model)s OR response_model = %(model)s)"
            params["model"] = where.model
        sql += equal_sql(where.equal_columns(), params)
        for column, wanted in where.flags().items():  # "not flagged" includes calls that were never scanned
            sql += f" AND {column} = 1" if wanted else f" AND ifNull({column}, 0) = 0"
        if where.error is not None:
            sql += f" AND is_error = {int(where.error)}"
        risk_levels = where.risk_levels()
        if risk_levels is not None:
            sql += " AND risk_level IN %(risks)s"
            params["risks"] = value_set(risk_levels)
        rows, next_cursor = read_page(
            self.x,
            f"{self.db}.llm_calls FINAL",
            LLM_READ_COLUMNS,
            f"org_id = %(org)s{{bound}}{sql}",
            {**params, "org": org_id},
            page,
            widen=where.trace_id is None,  # a trace's calls: one read, bounded by its window
            keys_from=f"{self.db}.llm_calls",
        )
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
        if group_by in LLM_DIMENSIONS:  # whole sealed hours from their aggregates, the rest from rows
            found: list[tuple[Any, ...]] = [
                (None if int(key_null) else key, *sums)
                for _, key, key_null, *sums in combined(
                    self.x, self.db, llm_spec(group_by), org_id, window or Window(),
                    ("dim", "key", "key_null"), equal={"dim": group_by},
                    tail=f" ORDER BY round(sum(cost), {COST_ORDER_DIGITS}) DESC, sum(calls) DESC, "
                    "key_null, key LIMIT %(limit)s",
                    params={"limit": limit},
                )
            ]  # fmt: skip
        else:
            column = _GROUPS[group_by]
            where, params = window_sql(window or Window(), "time_ns", partitions=True)
            found = self.x.execute(
                f"SELECT {column} AS key, count() AS calls, sum(is_error), sum(ifNull(input_tokens, 0)), "
                "sum(ifNull(output_tokens, 0)), sum(ifNull(cost_usd, 0)) AS cost, sum(isNull(cost_usd)) "
                f"FROM {self.db}.llm_calls FINAL WHERE org_id = %(org)s{where} GROUP BY {column} "
                f"ORDER BY round(cost, {COST_ORDER_DIGITS}) DESC, calls DESC, {column} LIMIT %(limit)s",
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
