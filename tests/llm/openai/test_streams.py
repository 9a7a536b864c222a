"""Streamed chat completions: the same chunks in the same order, and a span that ends exactly once."""

from __future__ import annotations

import gc
import time
from typing import Any

import openai
import pytest

from aither.testing import CapturedSpan, SpanCapture

from ..fake_openai import FakeOpenAI, usage
from .conftest import make_client
from .expect import NO_INJECTION, base, chat_response, content, without

MESSAGES = [{"role": "user", "content": "Say hello."}]
PIECES = ("Hel", "lo", " there!")
CHUNKS = len(PIECES) + 2  # the role chunk, one per piece, the finish chunk


def stream_attributes(fake: FakeOpenAI, span: CapturedSpan, **overrides: Any) -> dict[str, Any]:
    """The expected attributes; checks the time to first chunk (not scripted) on the way."""
    ttft = span.attributes["gen_ai.response.time_to_first_chunk"]
    duration = (span.raw.end_time - span.raw.start_time) / 1e9
    assert 0 < ttft <= duration
    return {
        **base(fake),
        **NO_INJECTION,
        "gen_ai.request.stream": True,
        "gen_ai.response.time_to_first_chunk": ttft,
        "aither.llm.stream.usage_requested": True,
        "aither.llm.stream.chunks": CHUNKS,
        "aither.llm.stream.end": "completed",
        **chat_response(id="chatcmpl-2"),
        **overrides,
    }


def test_stream_yields_the_same_chunks_and_records_usage(
    fake: FakeOpenAI, plain: openai.OpenAI, traced: Any, capture: SpanCapture
) -> None:
    fake.chat_stream(times=2, pieces=PIECES)
    expected = list(plain.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    stream = traced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.Stream)
    got = list(stream)

    assert [c.model_dump() for c in got] == [c.model_dump() for c in expected]
    assert [c.to_json() for c in got] == [c.to_json() for c in expected]  # unset fields stay unset
    assert "stream_options" not in fake.requests[0].json()
    assert fake.requests[1].json()["stream_options"] == {"include_usage": True}
    (span,) = capture.spans()
    assert span.status == "UNSET"
    assert span.attributes == stream_attributes(fake, span)


def test_usage_the_caller_asked_for_reaches_the_caller(
    fake: FakeOpenAI, plain: openai.OpenAI, traced: Any, capture: SpanCapture
) -> None:
    fake.chat_stream(times=2, usage_=usage(prompt=40, completion=9))
    kwargs: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    expected = list(plain.chat.completions.create(**kwargs))
    got = list(traced.chat.completions.create(**kwargs))
    assert [c.to_json() for c in got] == [c.to_json() for c in expected]
    assert got[-1].usage.prompt_tokens == 40
    (span,) = capture.spans()
    assert span.attributes == without(
        stream_attributes(
            fake,
            span,
            **{"aither.llm.stream.chunks": CHUNKS + 1},
            **chat_response(id="chatcmpl-2", prompt=40, completion=9),
        ),
        "aither.llm.stream.usage_requested",
    )


async def test_async_stream(
    fake: FakeOpenAI, aplain: openai.AsyncOpenAI, atraced: Any, capture: SpanCapture
) -> None:
    fake.chat_stream(times=2)
    expected = [
        c
        async for c in await aplain.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True
        )
    ]
    stream = await atraced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.AsyncStream)
    async with stream:
        got = [c async for c in stream]
    assert [c.to_json() for c in got] == [c.to_json() for c in expected]
    (span,) = capture.spans()
    assert span.attributes == stream_attributes(fake, span)


async def test_async_stream_closed_early(fake: FakeOpenAI, atraced: Any, capture: SpanCapture) -> None:
    fake.chat_stream()
    stream = await atraced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    first = await stream.__anext__()
    assert first.choices[0].delta.role == "assistant"
    await stream.close()
    await stream.close()
    (span,) = capture.spans()
    assert span.attributes["aither.llm.stream.end"] == "closed"
    assert span.attributes["aither.llm.stream.chunks"] == 1


def test_stream_closed_early(fake: FakeOpenAI, traced: Any, capture: SpanCapture) -> None:
    fake.chat_stream()
    stream = traced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    next(stream)
    next(stream)
    stream.close()
    stream.close()  # a second close ends nothing twice
    assert stream.response.is_closed
    (span,) = capture.spans()
    a = span.attributes
    assert a["aither.llm.stream.end"] == "closed"
    assert a["aither.llm.stream.chunks"] == 2
    assert a["gen_ai.response.id"] == "chatcmpl-2"
    assert "gen_ai.usage.input_tokens" not in a
    assert a["aither.cost.unavailable"] == "no_usage"


def test_with_block_exit_ends_the_span(fake: FakeOpenAI, traced: Any, capture: SpanCapture) -> None:
    fake.chat_stream()
    with traced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True) as stream:
        for _ in stream:
            break
    (span,) = capture.spans()
    assert span.attributes["aither.llm.stream.end"] == "closed"
    assert span.attributes["aither.llm.stream.chunks"] == 1


def test_a_for_loop_over_the_call_itself_ends_the_span_completed(
    fake: FakeOpenAI, traced: Any, capture: SpanCapture
) -> None:
    # The loop keeps only the iterator of the returned stream, not the stream: the span must
    # not end as a dropped stream's before the chunks are read.
    fake.chat_stream()
    seen = 0
    for _ in traced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
        gc.collect()
        assert capture.spans() == []  # still open
        seen += 1
    assert seen == CHUNKS
    (span,) = capture.spans()
    assert span.attributes["aither.llm.stream.end"] == "completed"
    assert span.attributes["aither.llm.stream.chunks"] == CHUNKS


def test_leaving_a_loop_and_reading_on_counts_every_chunk_once(
    fake: FakeOpenAI, traced: Any, capture: SpanCapture
) -> None:
    fake.chat_stream()
    stream = traced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    for _ in stream:
        break
    gc.collect()  # the first loop's iterator is gone; the stream is not
    assert capture.spans() == []
    second = next(stream)
    rest = list(stream)
    assert second is not None and len(rest) == CHUNKS - 2
    (span,) = capture.spans()
    assert span.attributes["aither.llm.stream.end"] == "completed"
    assert span.attributes["aither.llm.stream.chunks"] == CHUNKS


def test_unconsumed_stream_ends_when_collected(fake: FakeOpenAI, traced: Any, capture: SpanCapture) -> None:
    fake.chat_stream()
    stream = traced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    next(stream)
    dropped_at = time.time_ns()
    del stream
    gc.collect()
    (span,) = capture.spans()
    assert span.raw.end_time <= dropped_at  # the span ends at the last chunk, not at the collection
    assert span.attributes["aither.llm.stream.end"] == "garbage_collected"
    assert span.attributes["aither.llm.stream.chunks"] == 1


def test_stream_left_by_a_loop_ends_when_the_loop_was_left(
    fake: FakeOpenAI, traced: Any, capture: SpanCapture
) -> None:
    fake.chat_stream()
    stream = traced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    read_from = time.time_ns()
    for n, _ in enumerate(stream, 1):
        if n == 3:
            break
    left_at = time.time_ns()
    assert capture.spans() == []  # the stream may still be read on
    del stream
    gc.collect()
    (span,) = capture.spans()
    assert read_from <= span.raw.end_time <= left_at  # the loop's end, not the collection
    assert span.attributes["aither.llm.stream.end"] == "garbage_collected"
    assert span.attributes["aither.llm.stream.chunks"] == 3


def test_malformed_chunk_raises_what_the_sdk_raises(
    fake: FakeOpenAI, plain: openai.OpenAI, traced: Any, capture: SpanCapture
) -> None:
    fake.chat_stream(times=2, malformed_at=2)
    with pytest.raises(Exception) as plain_error:
        list(plain.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    got: list[Any] = []
    stream = traced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    with pytest.raises(Exception) as traced_error:
        got.extend(stream)  # keeps the chunks that came before the error
    assert type(traced_error.value) is type(plain_error.value)
    assert len(got) == 2
    (span,) = capture.spans()
    assert span.status == "ERROR"
    assert span.attributes["aither.llm.stream.end"] == "error"
    assert span.attributes["aither.llm.stream.chunks"] == 2
    assert span.attributes["error.type"] == type(plain_error.value).__name__


def test_dropped_connection_mid_stream(
    fake: FakeOpenAI, plain: openai.OpenAI, traced: Any, capture: SpanCapture
) -> None:
    fake.chat_stream(times=2, drop_after=2)
    with pytest.raises(openai.APIConnectionError):
        list(plain.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    got: list[Any] = []
    stream = traced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIConnectionError):
        got.extend(stream)
    assert len(got) == 2
    (span,) = capture.spans()
    assert span.status == "ERROR"
    assert span.attributes["error.type"] == "APIConnectionError"
    assert span.attributes["aither.llm.stream.end"] == "error"
    assert span.attributes["aither.llm.stream.chunks"] == 2


def test_streamed_tool_call_and_text_are_captured(fake: FakeOpenAI, content_capture: SpanCapture) -> None:
    tool_call = {
        "index": 0,
        "id": "call_9",
        "type": "function",
        "function": {"name": "lookup", "arguments": '{"q": 1}'},
    }
    fake.chat_stream(tool_call=tool_call, finish_reason="tool_calls")
    with content_capture.client.wrap(make_client(fake)) as client:
        chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    assert len(chunks) == CHUNKS + 1
    (span,) = content_capture.spans()
    assert content(span, "gen_ai.output.messages") == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Hello there!"},
                {"type": "tool_call", "id": "call_9", "name": "lookup", "arguments": '{"q": 1}'},
            ],
            "finish_reason": "tool_calls",
        }
    ]
    assert content(span, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Say hello."}]}
    ]


def test_stream_helper_of_the_sdk(
    fake: FakeOpenAI, plain: openai.OpenAI, traced: Any, capture: SpanCapture
) -> None:
    fake.chat_stream(times=2)
    with plain.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as s:
        expected = s.get_final_completion()
    with traced.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as s:
        got = s.get_final_completion()
    assert got.model_dump() == expected.model_dump()
    (span,) = capture.spans()
    assert span.attributes["aither.llm.stream.end"] == "completed"
    assert span.attributes["gen_ai.usage.input_tokens"] == 12


def test_stream_usage_request_can_be_turned_off(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    monkeypatch.setenv("AITHER_OPENAI_STREAM_USAGE", "false")
    capture = SpanCapture()  # the variable is read when a client is made
    request.addfinalizer(capture.close)
    fake.chat_stream()
    with capture.client.wrap(make_client(fake)) as client:
        assert (
            len(list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)))
            == CHUNKS
        )
    assert "stream_options" not in fake.requests[0].json()
    (span,) = capture.spans()
    assert "aither.llm.stream.usage_requested" not in span.attributes
    assert span.attributes["aither.cost.unavailable"] == "no_usage"
    assert span.attributes["aither.llm.stream.end"] == "completed"


@pytest.mark.parametrize("captured", [False, True])
def test_a_long_stream_is_read_whole(
    fake: FakeOpenAI, capture: SpanCapture, content_capture: SpanCapture, captured: bool
) -> None:
    # 300 chunks: the text of each reaches the span, with or without content capture.
    pieces = tuple(f"w{i} " for i in range(300))
    fake.chat_stream(pieces=pieces)
    cap = content_capture if captured else capture
    with cap.client.wrap(make_client(fake)) as client:
        got = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    assert len(got) == len(pieces) + 2
    (span,) = cap.spans()
    assert span.attributes["aither.llm.stream.chunks"] == len(pieces) + 2
    assert list(span.attributes["gen_ai.response.finish_reasons"]) == ["stop"]
    assert span.attributes["gen_ai.response.id"] == "chatcmpl-2"
    assert span.attributes["gen_ai.usage.input_tokens"] == 12
    if captured:
        (message,) = content(span, "gen_ai.output.messages")
        assert message["parts"] == [{"type": "text", "content": "".join(pieces)}]
