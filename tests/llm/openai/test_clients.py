"""Client variants and delivery: the default client, Azure, threads, SDK helpers, OTLP export."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai

import aither
from aither.testing import SpanCapture

from ..fake_openai import FakeOpenAI, response_stream_reply
from .conftest import make_client

MESSAGES = [{"role": "user", "content": "Say hello."}]


def test_module_level_wrap_uses_the_default_client(fake: FakeOpenAI, aither_default: SpanCapture) -> None:
    fake.chat()
    with aither.wrap(make_client(fake), name="bot") as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    (span,) = aither_default.spans()
    assert span.attributes["aither.llm.client.name"] == "bot"
    assert aither.last_trace_id() == span.trace_id


def test_azure_client(fake: FakeOpenAI, capture: SpanCapture) -> None:
    fake.chat()
    azure = openai.AzureOpenAI(azure_endpoint=fake.base, api_version="2024-10-21", api_key="x", max_retries=0)
    with capture.client.wrap(azure) as client:
        client.chat.completions.create(model="my-deployment", messages=MESSAGES)
    assert fake.requests[0].route == "/openai/deployments/my-deployment/chat/completions"
    (span,) = capture.spans()
    assert span.attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert span.attributes["gen_ai.request.model"] == "my-deployment"


def test_concurrent_calls_from_threads(fake: FakeOpenAI, traced: Any, capture: SpanCapture) -> None:
    calls = 40
    fake.chat(times=calls // 2)
    fake.chat_stream(times=calls // 2)
    barrier = threading.Barrier(8)

    def one(i: int) -> int:
        if i < 8:
            barrier.wait()
        if i % 2:
            return len(
                list(traced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
            )
        traced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        return 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(calls)))
    spans = capture.spans()
    assert len(spans) == calls
    assert len({s.span_id for s in spans}) == calls
    assert all(s.status == "UNSET" for s in spans)
    # every reply went to some call; which call got a stream reply depends on the scheduling
    assert fake.pending == 0


def test_responses_stream_helper(
    fake: FakeOpenAI, plain: openai.OpenAI, traced: Any, capture: SpanCapture
) -> None:
    fake.add(response_stream_reply(), times=2)
    with plain.responses.stream(model="gpt-4.1-mini", input="Say hello.") as s:
        expected = s.get_final_response()
    with traced.responses.stream(model="gpt-4.1-mini", input="Say hello.") as s:
        got = s.get_final_response()
    assert got.model_dump() == expected.model_dump()
    (span,) = capture.spans()
    assert span.attributes["aither.llm.stream.end"] == "completed"
    assert span.attributes["gen_ai.usage.output_tokens"] == 8


def test_exported_over_otlp(fake: FakeOpenAI, receiver: Any) -> None:
    client = aither.Client(otlp_endpoint=receiver.endpoint, raise_internal_errors=True)
    fake.chat()
    try:
        with client.wrap(make_client(fake), name="assistant") as traced:
            traced.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "mail me at ann@example.com"}]
            )
        assert client.flush(10)
    finally:
        client.close()
    (span,) = receiver.received("llm")
    assert span.name == "chat gpt-4o-mini"
    a = span.attributes
    assert a["gen_ai.usage.input_tokens"] == 12
    assert a["aither.cost.usd"] > 0
    assert a["aither.pii.input.email"] == 1
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
