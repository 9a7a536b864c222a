"""LLM-call spans, built by hand with the names of ``aither.semconv`` (what aither's LLM adapters
emit), stored as rows of ``llm_calls`` and served by ``/api/v1/llm-calls`` and the trace view."""

from __future__ import annotations

import datetime as dt
from typing import Any

from otlp_builder import ids, new_trace_id

from aither.schema import semconv as sc

SECOND = 1_000_000_000


def _iso(ns: int) -> str:
    """How the API writes a time: UTC, to the microsecond (truncated)."""
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=ns // 1000)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _chat_attributes(**extra: Any) -> dict[str, Any]:
    return {
        sc.AITHER_SCHEMA_VERSION: sc.SCHEMA_VERSION,
        sc.AITHER_SPAN_KIND: sc.SPAN_KIND_LLM,
        sc.GEN_AI_OPERATION_NAME: sc.GEN_AI_OPERATION_CHAT,
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini-2024-07-18",
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
        sc.GEN_AI_USAGE_INPUT_TOKENS: 120,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 48,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 64,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 16,
        sc.AITHER_COST_USD: 0.000047,
        sc.AITHER_COST_SOURCE: "genai-prices 0.2.3",
        sc.AITHER_LLM_CLIENT_NAME: "support-bot",
        **extra,
    }


async def test_an_llm_span_becomes_a_whole_llm_call_row(client, send, spans) -> None:  # type: ignore[no-untyped-def]
    span = spans.span(
        "chat gpt-4o-mini",
        _chat_attributes(
            **{
                sc.AITHER_PII_DETECTED: True,
                sc.AITHER_PII_INPUT_PREFIX + "email": 2,
                sc.AITHER_PII_OUTPUT_PREFIX + "phone": 1,
                sc.AITHER_INJECTION_SCORE: 0.75,
                sc.AITHER_INJECTION_DETECTED: True,
                sc.AITHER_INJECTION_RULES: ["ignore_previous", "reveal_prompt"],
            }
        ),
        duration_ms=250.0,
    )
    trace_id, span_id = ids(span)
    await send(span)
    items = (await client.get("/api/v1/llm-calls")).json()["items"]
    assert items == [
        {
            "trace_id": trace_id,
            "span_id": span_id,
            "name": "chat gpt-4o-mini",
            "operation": "chat",
            "provider": "openai",
            "request_model": "gpt-4o-mini",
            "response_model": "gpt-4o-mini-2024-07-18",
            "input_tokens": 120,
            "output_tokens": 48,
            "cost_usd": 0.000047,
            "finish_reasons": ["stop"],
            "time": _iso(spans.now_ns),
            "latency_ms": 250.0,
            "status": "ok",
            "error_type": None,
            "client_name": "support-bot",
            "cache_read_input_tokens": 64,
            "reasoning_output_tokens": 16,
            "pii_detected": True,
            "pii_counts": {"input": {"email": 2}, "output": {"phone": 1}},
            "injection_score": 0.75,
            "injection_detected": True,
            "injection_rules": ["ignore_previous", "reveal_prompt"],
            "user_id": None,
            "session_id": None,
            "service": "test-service",  # the resource's, as the span names none
            "risk_level": "critical",  # injection detected
        }
    ]
    trace = (await client.get(f"/api/v1/traces/{trace_id}")).json()
    assert trace["llm_calls"] == items
    assert trace["spans"][0]["attributes"][sc.AITHER_COST_SOURCE] == "genai-prices 0.2.3"


async def test_llm_calls_filter_by_flags_provider_model_and_error(client, send, spans) -> None:  # type: ignore[no-untyped-def]
    base = spans.now_ns
    flagged_pii = spans.span(
        "chat a",
        _chat_attributes(**{sc.AITHER_PII_DETECTED: True, sc.AITHER_PII_INPUT_PREFIX + "ssn": 1}),
        start_ns=base,
    )
    injected = spans.span(
        "chat b",
        _chat_attributes(**{sc.AITHER_INJECTION_SCORE: 0.9, sc.AITHER_INJECTION_DETECTED: True}),
        start_ns=base + SECOND,
    )
    # scanned and clean, as the adapters write it: no aither.pii.* at all, an injection score
    clean = spans.span(
        "chat c",
        _chat_attributes(**{sc.AITHER_INJECTION_SCORE: 0.1, sc.AITHER_INJECTION_DETECTED: False}),
        start_ns=base + 2 * SECOND,
    )
    failed = spans.span(
        "chat d",
        {
            sc.AITHER_SPAN_KIND: sc.SPAN_KIND_LLM,
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_PROVIDER_NAME: "anthropic",
            sc.GEN_AI_REQUEST_MODEL: "claude-haiku",
            sc.ERROR_TYPE: "RateLimitError",
            sc.HTTP_RESPONSE_STATUS_CODE: 429,
        },
        start_ns=base + 3 * SECOND,
        error="rate limited",
    )
    await send(flagged_pii, injected, clean, failed)

    async def names(**params: Any) -> list[str]:
        response = await client.get("/api/v1/llm-calls", params=params)
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["items"]]

    assert await names() == ["chat d", "chat c", "chat b", "chat a"]
    assert await names(pii="true") == ["chat a"]
    # "not flagged" includes calls that say nothing about it (never scanned)
    assert await names(pii="false") == ["chat d", "chat c", "chat b"]
    assert await names(injection="true") == ["chat b"]
    flags = {
        item["name"]: (item["pii_detected"], item["injection_detected"])
        for item in (await client.get("/api/v1/llm-calls")).json()["items"]
    }
    assert flags == {
        "chat a": (True, None),  # PII found; the injection scan left nothing on this span
        "chat b": (False, True),  # scanned (an injection score), no PII found
        "chat c": (False, False),
        "chat d": (None, None),  # never scanned
    }
    assert await names(error="true") == ["chat d"]
    assert await names(provider="anthropic") == ["chat d"]
    assert await names(model="gpt-4o-mini-2024-07-18") == ["chat c", "chat b", "chat a"]
    (row,) = (await client.get("/api/v1/llm-calls", params={"error": "true"})).json()["items"]
    assert (row["status"], row["error_type"], row["pii_detected"], row["injection_detected"]) == (
        "error",
        "RateLimitError",
        None,
        None,
    )
    assert (await client.get("/api/v1/llm-calls", params={"pii": "maybe"})).status_code == 422


async def test_replayed_llm_spans_are_stored_once_and_counted_in_usage(client, send, spans, counts) -> None:  # type: ignore[no-untyped-def]
    trace_id = new_trace_id()
    calls = [
        spans.span(f"chat {index}", _chat_attributes(), trace_id=trace_id, start_ns=spans.now_ns + index)
        for index in range(3)
    ]
    await send(*calls)
    await send(*calls)
    assert counts()["llm_calls"] == 3
    usage = (await client.get("/api/v1/org/usage")).json()
    assert (usage["llm_calls"], usage["spans"]) == (3, 3)


async def test_llm_calls_by_user_session_and_service_and_their_totals(client, send, spans) -> None:  # type: ignore[no-untyped-def]
    """Who and in what context: filter by enduser.id, session.id and service.name, and total
    calls, tokens and cost per user (cost per user), session or service."""
    base = spans.now_ns

    def call(name: str, offset: int, cost: float | None, **who: str) -> Any:
        attrs = _chat_attributes(**who)
        if cost is None:
            del attrs[sc.AITHER_COST_USD]
        else:
            attrs[sc.AITHER_COST_USD] = cost
        return spans.span(name, attrs, start_ns=base + offset * SECOND)

    await send(
        call("a1", 0, 0.25, **{sc.ENDUSER_ID: "ada", sc.SESSION_ID: "s1"}),
        call("a2", 1, 0.5, **{sc.ENDUSER_ID: "ada", sc.SESSION_ID: "s2", sc.SERVICE_NAME: "gateway"}),
        call("b1", 2, 0.125, **{sc.ENDUSER_ID: "bob", sc.SESSION_ID: "s3"}),
        call("b2", 3, None, **{sc.ENDUSER_ID: "bob"}),
        call("anon", 4, 2.0),
    )

    async def names(**params: Any) -> list[str]:
        response = await client.get("/api/v1/llm-calls", params=params)
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["items"]]

    assert await names(user_id="ada") == ["a2", "a1"]
    assert await names(session_id="s3") == ["b1"]
    assert await names(service="gateway") == ["a2"]
    assert await names(service="test-service") == ["anon", "b2", "b1", "a1"]
    (a2,) = (await client.get("/api/v1/llm-calls", params={"service": "gateway"})).json()["items"]
    assert (a2["user_id"], a2["session_id"], a2["service"]) == ("ada", "s2", "gateway")

    async def totals(group_by: str) -> list[tuple[Any, ...]]:
        response = await client.get("/api/v1/llm-calls/totals", params={"group_by": group_by})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["group_by"] == group_by
        return [
            (
                t["key"],
                t["calls"],
                t["errors"],
                t["input_tokens"],
                t["output_tokens"],
                t["cost_usd"],
                t["unpriced"],
            )
            for t in body["items"]
        ]

    assert await totals("user") == [
        (None, 1, 0, 120, 48, 2.0, 0),
        ("ada", 2, 0, 240, 96, 0.75, 0),
        ("bob", 2, 0, 240, 96, 0.125, 1),  # b2 has no price: counted, not summed
    ]
    assert await totals("service") == [
        ("test-service", 4, 0, 480, 192, 2.375, 1),
        ("gateway", 1, 0, 120, 48, 0.5, 0),
    ]
    assert [row[0] for row in await totals("session")] == [None, "s2", "s1", "s3"]
    bad = await client.get("/api/v1/llm-calls/totals", params={"group_by": "colour"})
    assert bad.status_code == 422
