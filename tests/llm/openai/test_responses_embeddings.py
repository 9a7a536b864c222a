"""The Responses API (plain and streamed), embeddings and legacy completions."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from aither.testing import SpanCapture
from aither.tracing.llm_record import MAX_EMBEDDING_DIMENSIONS, captured_embedding, decode_embedding

from ..fake_openai import FakeOpenAI, embeddings, response, response_events, response_stream_reply
from ..wire import json_reply
from .conftest import make_client
from .expect import NO_INJECTION, base, content, cost

RESPONSE_MODEL = "gpt-4.1-mini-2025-04-14"


def responses_attributes(fake: FakeOpenAI, *, reason: str = "stop", **usage: int) -> dict[str, Any]:
    counts = {"input_tokens": 20, "output_tokens": 8, "cache_read_tokens": 0, "reasoning_tokens": 0, **usage}
    return {
        **base(fake, model="gpt-4.1-mini"),
        **NO_INJECTION,
        "gen_ai.response.model": RESPONSE_MODEL,
        "gen_ai.response.id": "resp_1",
        "gen_ai.response.finish_reasons": (reason,),
        "openai.response.service_tier": "default",
        "gen_ai.usage.input_tokens": counts["input_tokens"],
        "gen_ai.usage.output_tokens": counts["output_tokens"],
        "gen_ai.usage.cache_read.input_tokens": counts["cache_read_tokens"],
        "gen_ai.usage.reasoning.output_tokens": counts["reasoning_tokens"],
        **cost(RESPONSE_MODEL, **counts),
    }


def test_response(fake: FakeOpenAI, plain: openai.OpenAI, traced: Any, capture: SpanCapture) -> None:
    fake.add(json_reply(response(cached=10, reasoning=3)), times=2)
    kwargs: dict[str, Any] = {
        "model": "gpt-4.1-mini",
        "input": "Say hello.",
        "instructions": "Be terse.",
        "max_output_tokens": 64,
        "temperature": 0.5,
    }
    expected = plain.responses.create(**kwargs)
    got = traced.responses.create(**kwargs)
    assert got.model_dump() == expected.model_dump()
    assert got.output_text == "Hello there!"
    (span,) = capture.spans()
    assert span.name == "chat gpt-4.1-mini"
    assert span.attributes == {
        **responses_attributes(fake, cache_read_tokens=10, reasoning_tokens=3),
        "gen_ai.request.max_tokens": 64,
        "gen_ai.request.temperature": 0.5,
    }


def test_incomplete_response_and_content(fake: FakeOpenAI, content_capture: SpanCapture) -> None:
    fake.add(json_reply(response(status="incomplete")))
    with content_capture.client.wrap(make_client(fake)) as client:
        client.responses.create(
            model="gpt-4.1-mini",
            instructions="Be terse.",
            input=[{"role": "user", "content": [{"type": "input_text", "text": "Say hello."}]}],
        )
    (span,) = content_capture.spans()
    assert span.attributes["gen_ai.response.finish_reasons"] == ("max_output_tokens",)
    assert content(span, "gen_ai.system_instructions") == [{"type": "text", "content": "Be terse."}]
    assert content(span, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Say hello."}]}
    ]
    assert content(span, "gen_ai.output.messages") == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello there!"}],
            "finish_reason": "max_output_tokens",
        }
    ]


def test_streamed_response(fake: FakeOpenAI, plain: openai.OpenAI, traced: Any, capture: SpanCapture) -> None:
    fake.add(response_stream_reply(), times=2)
    expected = list(plain.responses.create(model="gpt-4.1-mini", input="Say hello.", stream=True))
    got = list(traced.responses.create(model="gpt-4.1-mini", input="Say hello.", stream=True))
    assert [e.model_dump() for e in got] == [e.model_dump() for e in expected]
    assert [e.type for e in got][-1] == "response.completed"
    assert "stream_options" not in fake.requests[1].json()  # usage comes with response.completed
    (span,) = capture.spans()
    ttft = span.attributes["gen_ai.response.time_to_first_chunk"]
    assert ttft > 0
    assert span.attributes == {
        **responses_attributes(fake),
        "gen_ai.request.stream": True,
        "gen_ai.response.time_to_first_chunk": ttft,
        "aither.llm.stream.chunks": len(response_events()),
        "aither.llm.stream.end": "completed",
    }


async def test_async_streamed_response_closed_early(
    fake: FakeOpenAI, atraced: Any, capture: SpanCapture
) -> None:
    fake.add(response_stream_reply())
    stream = await atraced.responses.create(model="gpt-4.1-mini", input="Say hello.", stream=True)
    async for event in stream:
        if event.type == "response.output_text.delta":
            break
    await stream.close()
    (span,) = capture.spans()
    a = span.attributes
    assert a["aither.llm.stream.end"] == "closed"
    assert a["aither.llm.stream.chunks"] == 4  # created, item added, part added, the first delta
    assert a["gen_ai.response.id"] == "resp_1"
    assert a["aither.cost.unavailable"] == "no_usage"


def test_embeddings(fake: FakeOpenAI, plain: openai.OpenAI, traced: Any, capture: SpanCapture) -> None:
    fake.add(embeddings, times=2)
    expected = plain.embeddings.create(model="text-embedding-3-small", input=["a cat", "a dog"])
    got = traced.embeddings.create(model="text-embedding-3-small", input=["a cat", "a dog"])
    assert got.model_dump() == expected.model_dump()
    assert len(got.data[0].embedding) == 4
    (span,) = capture.spans()
    assert span.name == "embeddings text-embedding-3-small"
    assert span.attributes == {
        **base(fake, operation="embeddings", model="text-embedding-3-small"),
        "gen_ai.request.encoding_formats": ("base64",),  # what the SDK sends by default
        "gen_ai.response.model": "text-embedding-3-small",
        "gen_ai.embeddings.dimension.count": 4,
        "gen_ai.usage.input_tokens": 6,
        **cost("text-embedding-3-small", input_tokens=6),
    }


async def test_async_embeddings_with_pii(fake: FakeOpenAI, atraced: Any, capture: SpanCapture) -> None:
    fake.add(embeddings)
    got = await atraced.embeddings.create(
        model="text-embedding-3-small", input="write to ann@example.com", encoding_format="float"
    )
    assert len(got.data) == 1
    (span,) = capture.spans()
    assert span.attributes["aither.pii.input.email"] == 1
    assert span.attributes["gen_ai.request.encoding_formats"] == ("float",)
    assert "aither.injection.score" not in span.attributes


def test_legacy_completions(fake: FakeOpenAI, traced: Any, capture: SpanCapture) -> None:
    fake.add(
        json_reply(
            {
                "id": "cmpl-1",
                "object": "text_completion",
                "created": 1,
                "model": "gpt-3.5-turbo-instruct",
                "choices": [{"index": 0, "text": " world", "logprobs": None, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3},
            }
        )
    )
    got = traced.completions.create(model="gpt-3.5-turbo-instruct", prompt="hello", max_tokens=1)
    assert got.choices[0].text == " world"
    (span,) = capture.spans()
    assert span.name == "text_completion gpt-3.5-turbo-instruct"
    a = span.attributes
    assert a["gen_ai.response.finish_reasons"] == ("length",)
    assert a["gen_ai.usage.input_tokens"] == 2
    assert a["gen_ai.request.max_tokens"] == 1


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_embeddings_vectors_are_recorded_when_asked(fake: FakeOpenAI, encoding: str) -> None:
    fake.add(embeddings, times=2)
    capture = SpanCapture(capture_embeddings=True)
    try:
        client = capture.client.wrap(make_client(fake))
        got = client.embeddings.create(
            model="text-embedding-3-small", input=["a cat", "a dog"], encoding_format=encoding
        )  # type: ignore[arg-type]
        client.close()
        (span,) = capture.spans()
    finally:
        capture.close()
    # the first input's vector, as the server's embedding drift reads it (float32, base64)
    recorded = decode_embedding(span.attributes["aither.embedding.prompt"])
    assert recorded == pytest.approx([0.1, 0.2, 0.3, 0.4], rel=1e-6)
    assert "aither.embedding.response" not in span.attributes
    assert got.data[0].embedding is not None  # the caller's result is untouched


def test_embeddings_vectors_are_not_recorded_by_default(
    fake: FakeOpenAI, traced: Any, capture: SpanCapture
) -> None:
    fake.add(embeddings)
    traced.embeddings.create(model="text-embedding-3-small", input="a cat", encoding_format="float")
    (span,) = capture.spans()
    assert not any(key.startswith("aither.embedding.") for key in span.attributes)


def test_captured_embedding_skips_vectors_the_server_could_not_read() -> None:
    assert captured_embedding([1.0, float("nan")]) is None
    assert captured_embedding([]) is None
    assert captured_embedding([0.0] * (MAX_EMBEDDING_DIMENSIONS + 1)) is None
    assert captured_embedding("not base64!") is None
    assert captured_embedding("AAAA" * (MAX_EMBEDDING_DIMENSIONS + 1)) is None  # too long as base64
    assert decode_embedding(captured_embedding([0.5, -2.0]) or "") == [0.5, -2.0]
