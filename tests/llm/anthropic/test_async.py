"""``aither.wrap(anthropic.AsyncAnthropic())``: the async twins of the sync tests."""

from __future__ import annotations

import gc
from typing import Any

import anthropic
import pytest

import aither
from aither.schema import semconv
from aither.testing import SpanCapture

from ..fake_anthropic import MODEL, FakeAnthropic, stream_events
from .conftest import USER, chat_span, only_span, priced, stream_attributes


async def test_create(
    fake: FakeAnthropic, aplain: anthropic.AsyncAnthropic, atraced: Any, capture: SpanCapture
) -> None:
    fake.reply_message(cache_creation=8)
    fake.reply_message(cache_creation=8)

    expected = await aplain.messages.create(model=MODEL, max_tokens=64, messages=USER)
    got = await atraced.messages.create(model=MODEL, max_tokens=64, messages=USER)

    assert got.model_dump() == expected.model_dump()
    span = only_span(capture)
    assert span.attributes == chat_span(
        fake,
        **{
            semconv.GEN_AI_RESPONSE_MODEL: MODEL,
            semconv.GEN_AI_RESPONSE_ID: "msg_01",
            semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("end_turn",),
            semconv.GEN_AI_USAGE_INPUT_TOKENS: 20,
            semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: 8,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
            **priced((12 * 1 + 8 * 1.25 + 5 * 5) / 1e6),
        },
    )


async def test_stream_consumed(
    fake: FakeAnthropic, aplain: anthropic.AsyncAnthropic, atraced: Any, capture: SpanCapture
) -> None:
    fake.reply_stream()
    fake.reply_stream()

    expected = [
        e.model_dump()
        async for e in await aplain.messages.create(model=MODEL, max_tokens=64, messages=USER, stream=True)
    ]
    stream = await atraced.messages.create(model=MODEL, max_tokens=64, messages=USER, stream=True)
    assert isinstance(stream, anthropic.AsyncStream)
    got = [e.model_dump() async for e in stream]

    assert got == expected
    assert stream_attributes(only_span(capture)) == chat_span(
        fake,
        stream=True,
        **{
            semconv.GEN_AI_RESPONSE_MODEL: MODEL,
            semconv.GEN_AI_RESPONSE_ID: "msg_02",
            semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("end_turn",),
            semconv.GEN_AI_USAGE_INPUT_TOKENS: 12,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
            semconv.AITHER_LLM_STREAM_END: "completed",
            semconv.AITHER_LLM_STREAM_CHUNKS: 8,
            **priced((12 * 1 + 5 * 5) / 1e6),
        },
    )


async def test_stream_helper(
    fake: FakeAnthropic, aplain: anthropic.AsyncAnthropic, atraced: Any, capture: SpanCapture
) -> None:
    fake.reply_stream()
    fake.reply_stream()

    async with aplain.messages.stream(model=MODEL, max_tokens=64, messages=USER) as s:
        expected = await s.get_final_message()
    async with atraced.messages.stream(model=MODEL, max_tokens=64, messages=USER) as s:
        text = [t async for t in s.text_stream]
        got = await s.get_final_message()

    assert got.model_dump() == expected.model_dump()
    assert "".join(text) == "Hello there!"
    attrs = stream_attributes(only_span(capture))
    assert attrs[semconv.AITHER_LLM_STREAM_END] == "completed"
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 5


async def test_stream_closed_early(fake: FakeAnthropic, atraced: Any, capture: SpanCapture) -> None:
    fake.reply_stream()

    stream = await atraced.messages.create(model=MODEL, max_tokens=64, messages=USER, stream=True)
    first = await stream.__anext__()
    await stream.close()

    assert first.type == "message_start"
    attrs = stream_attributes(only_span(capture))
    assert attrs[semconv.AITHER_LLM_STREAM_END] == "closed"
    assert attrs[semconv.AITHER_LLM_STREAM_CHUNKS] == 1


async def test_stream_garbage_collected(fake: FakeAnthropic, atraced: Any, capture: SpanCapture) -> None:
    fake.reply_stream()

    stream = await atraced.messages.create(model=MODEL, max_tokens=64, messages=USER, stream=True)
    await stream.__anext__()
    del stream
    gc.collect()

    assert stream_attributes(only_span(capture))[semconv.AITHER_LLM_STREAM_END] == "garbage_collected"


async def test_connection_dropped_mid_stream(
    fake: FakeAnthropic, aplain: anthropic.AsyncAnthropic, atraced: Any, capture: SpanCapture
) -> None:
    for _ in range(2):
        fake.reply_stream(stream_events()[:4], drop_after=4)

    async def consume(client: Any) -> BaseException:
        try:
            async for _ in await client.messages.create(
                model=MODEL, max_tokens=64, messages=USER, stream=True
            ):
                pass
        except Exception as exc:
            return exc
        raise AssertionError("the stream did not break")

    expected = await consume(aplain)
    got = await consume(atraced)

    assert type(got) is type(expected)
    span = only_span(capture)
    assert span.status == "ERROR"
    attrs = stream_attributes(span)
    assert attrs[semconv.ERROR_TYPE] == type(expected).__name__
    assert attrs[semconv.AITHER_LLM_STREAM_END] == "error"


@pytest.mark.parametrize(
    ("status", "exc_type"), [(429, anthropic.RateLimitError), (500, anthropic.InternalServerError)]
)
async def test_http_error(
    fake: FakeAnthropic, atraced: Any, capture: SpanCapture, status: int, exc_type: type[Exception]
) -> None:
    fake.reply_error(status)

    with pytest.raises(exc_type) as caught:
        await atraced.messages.create(model=MODEL, max_tokens=64, messages=USER)

    assert caught.value.status_code == status  # type: ignore[attr-defined]
    span = only_span(capture)
    assert span.status == "ERROR"
    assert span.attributes == chat_span(
        fake,
        **{
            semconv.ERROR_TYPE: exc_type.__name__,
            semconv.HTTP_RESPONSE_STATUS_CODE: status,
            semconv.AITHER_COST_UNAVAILABLE: "no_usage",
        },
    )


async def test_unwrap(fake: FakeAnthropic, capture: SpanCapture) -> None:
    client = capture.client.wrap(anthropic.AsyncAnthropic(base_url=fake.url, api_key="x", max_retries=0))
    aither.unwrap(client)
    fake.reply_message()

    assert (await client.messages.create(model=MODEL, max_tokens=64, messages=USER)).id == "msg_01"
    assert capture.spans() == []
    await client.close()


async def test_stream_helper_left_early(fake: FakeAnthropic, atraced: Any, capture: SpanCapture) -> None:
    fake.reply_stream()

    async with atraced.messages.stream(model=MODEL, max_tokens=64, messages=USER) as s:
        first = await s.__anext__()

    assert first.type == "message_start"
    attrs = stream_attributes(only_span(capture))
    assert attrs[semconv.AITHER_LLM_STREAM_END] == "closed"
    assert attrs[semconv.AITHER_LLM_STREAM_CHUNKS] == 1
