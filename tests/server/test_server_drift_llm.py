"""Checks of LLM answers in the server: groundedness against retrieved text, and a judge model
reached over the OpenAI wire format (a local fake of the API, ``tests/llm/fake_openai.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llm.fake_openai import FakeOpenAI
from otlp_builder import Spans, envelope, new_trace_id

from aither.schema import semconv as sc
from aither.server import ServerSettings
from aither.server.drift import DriftSettings, monitor_for
from aither.server.drift.judge import JUDGE_PROMPT

CONTEXT = "The Eiffel Tower is in Paris. It was completed in 1889 and is 330 metres tall."


@pytest.fixture
def judge() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, judge: FakeOpenAI) -> ServerSettings:
    drift = DriftSettings(
        judge_base_url=judge.url,
        judge_model="judge-mini",
        judge_api_key="sk-judge",
        judge_sample_share=1.0,
        judge_price_input_per_mtok=1.0,
        judge_price_output_per_mtok=2.0,
    )
    return ServerSettings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'aither.db'}",
        init_api_key="aith_test_admin_key_0123456789abcdef",
        announce=False,
        write_credentials=False,
        drift=drift,
    )


def _rag(spans: Spans, answer: str) -> list[Any]:
    """A trace with a retrieval span and a generation that answers from (or beside) it."""
    trace_id = new_trace_id()
    retrieval = spans.span(
        "retrieve",
        {
            sc.AITHER_SPAN_KIND: sc.SPAN_KIND_FUNCTION,
            sc.AITHER_SPAN_TYPE: "retrieval",
            sc.AITHER_OUTPUT: envelope([CONTEXT]),
        },
        trace_id=trace_id,
    )
    generation = spans.span(
        "chat gpt-test",
        {
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: "gpt-test",
            sc.GEN_AI_INPUT_MESSAGES: json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "How tall is the Eiffel Tower?"}]}]
            ),
            sc.GEN_AI_OUTPUT_MESSAGES: json.dumps(
                [
                    {
                        "role": "assistant",
                        "parts": [{"type": "text", "content": answer}],
                        "finish_reason": "stop",
                    }
                ]
            ),
        },
        trace_id=trace_id,
    )
    return [retrieval, generation]


async def _anomalies(client: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/anomalies", params={"limit": 100})
    return {a["rule"]: a for a in response.json() if a["kind"] == "llm"}


async def test_an_answer_beside_the_retrieved_text_is_ungrounded_and_the_judge_agrees(
    client, send, spans, storage, judge
) -> None:  # type: ignore[no-untyped-def]
    judge.chat(text='{"score": 0.1, "reason": "Supported by the context."}')
    judge.chat(text='Verdict: {"score": 0.9, "reason": "The context says 330 metres, not 500."}')
    await send(*_rag(spans, "The Eiffel Tower in Paris is 330 metres tall; it was completed in 1889."))
    await send(*_rag(spans, "Roughly 500 metres, making it taller than Burj Khalifa and Shanghai Tower."))
    found = await _anomalies(client)
    assert set(found) == {"rag_groundedness"}  # the judge has not answered yet: ingest did not wait
    rag = found["rag_groundedness"]
    assert rag["anomaly_type"] == "hallucination" and rag["detection_method"] == "rag"
    assert rag["count"] == 1 and rag["evidence"]["groundedness"] < 0.5
    assert "khalifa" in rag["evidence"]["missing"]

    monitor = monitor_for(storage.engine)
    running = monitor.judge()
    assert running is not None and running.wait(2, timeout=10)
    await send(spans.span("tick", {sc.AITHER_SPAN_KIND: sc.SPAN_KIND_EVENT}))  # verdicts land with a batch
    found = await _anomalies(client)
    hallucination = found["hallucination"]
    assert hallucination["detection_method"] == "llm_check" and hallucination["model"] == "gpt-test"
    evidence = hallucination["evidence"]
    assert evidence["score"] == 0.9 and evidence["judge_model"] == "judge-mini" and evidence["with_context"]
    assert evidence["judge_cost_usd"] == pytest.approx((12 * 1.0 + 5 * 2.0) / 1e6)
    assert running.counts.judged == 2 and running.counts.cost_usd == pytest.approx(2 * 22 / 1e6)
    status = (await client.get("/api/v1/drift/judge")).json()
    assert status["configured"] and status["model"] == "judge-mini"
    assert (status["offered"], status["judged"], status["failed"], status["dropped"]) == (2, 2, 0, 0)
    assert status["input_tokens"] == 24 and status["cost_usd"] == pytest.approx(44 / 1e6)

    first = judge.requests[0]
    assert first.path == "/v1/chat/completions"
    assert first.headers.get("authorization") == "Bearer sk-judge"
    body = first.json()
    assert body["model"] == "judge-mini" and body["messages"][0]["content"] == JUDGE_PROMPT
    assert CONTEXT in body["messages"][1]["content"] and "How tall" in body["messages"][1]["content"]


async def test_a_failing_judge_costs_a_verdict_never_a_row(
    client, send, spans, storage, judge, counts
) -> None:  # type: ignore[no-untyped-def]
    judge.error(500)
    judge.chat(text="no json here")
    await send(*_rag(spans, "The Eiffel Tower in Paris is 330 metres tall."))
    await send(*_rag(spans, "The Eiffel Tower in Paris is 330 metres tall."))
    running = monitor_for(storage.engine).judge()
    assert running is not None and running.wait(2, timeout=10)
    assert running.counts.failed == 2 and running.counts.judged == 0
    status = (await client.get("/api/v1/drift/judge")).json()
    assert status["failed"] == 2 and len(status["recent_errors"]) == 2
    assert counts()["llm_calls"] == 2 and counts()["operations"] == 2
    assert await _anomalies(client) == {}
