"""``client.aio.models``: the async twins, traced by wrapping the client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from google import genai
from google.genai import errors

import aither
from aither.schema import semconv
from aither.testing import SpanCapture

from ..fake_gemini import EMBED_MODEL, MODEL, FakeGemini, stream_chunks
from .conftest import dump, gemini_span, make_client, only_span, priced, stream_attributes

DEFAULT_COST = (9 * 0.3 + 4 * 2.5) / 1e6


async def test_generate_content(
    fake: FakeGemini, aplain: genai.Client, atraced: Any, capture: SpanCapture
) -> None:
    fake.reply_response()
    fake.reply_response()

    expected = await aplain.aio.models.generate_content(model=MODEL, contents="Hi")
    got = await atraced.aio.models.generate_content(model=MODEL, contents="Hi")

    assert dump(got) == dump(expected)
    assert only_span(capture).attributes == gemini_span(
        fake,
        **{
            semconv.GEN_AI_RESPONSE_MODEL: MODEL,
            semconv.GEN_AI_RESPONSE_ID: "resp-01",
            semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("STOP",),
            semconv.GEN_AI_USAGE_INPUT_TOKENS: 9,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 4,
            **priced(DEFAULT_COST),
        },
    )


async def test_stream_consumed(
    fake: FakeGemini, aplain: genai.Client, atraced: Any, capture: SpanCapture
) -> None:
    fake.reply_stream()
    fake.reply_stream()

    expected = [
        dump(c) async for c in await aplain.aio.models.generate_content_stream(model=MODEL, contents="Hi")
    ]
    got = [
        dump(c) async for c in await atraced.aio.models.generate_content_stream(model=MODEL, contents="Hi")
    ]

    assert got == expected
    assert stream_attributes(only_span(capture)) == gemini_span(
        fake,
        stream=True,
        **{
            semconv.GEN_AI_RESPONSE_MODEL: MODEL,
            semconv.GEN_AI_RESPONSE_ID: "resp-02",
            semconv.GEN_AI_RESPONSE_FINISH_REASONS: ("STOP",),
            semconv.GEN_AI_USAGE_INPUT_TOKENS: 9,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 4,
            semconv.AITHER_LLM_STREAM_END: "completed",
            semconv.AITHER_LLM_STREAM_CHUNKS: 3,
            **priced(DEFAULT_COST),
        },
    )


def test_stream_closed_early_ends_when_the_sdks_generators_are_finalized(
    fake: FakeGemini, traced: Any, capture: SpanCapture
) -> None:
    # The SDK's async generators between the caller and the HTTP stream are not closed when
    # the caller closes its own: the event loop finalizes them, at the latest when it shuts
    # down (asyncio.run does), and the span ends then, once.
    fake.reply_stream()

    async def first_then_close(client: genai.Client) -> Any:
        chunks = await client.aio.models.generate_content_stream(model=MODEL, contents="Hi")
        first = await chunks.__anext__()
        await chunks.aclose()
        await client.aio.aclose()
        return first

    first = asyncio.run(first_then_close(traced))

    assert first.text == "Hel"
    attrs = stream_attributes(only_span(capture))
    assert attrs[semconv.AITHER_LLM_STREAM_END] == "closed"
    assert attrs[semconv.AITHER_LLM_STREAM_CHUNKS] == 1


async def test_connection_dropped(fake: FakeGemini, atraced: Any, capture: SpanCapture) -> None:
    fake.reply_stream(stream_chunks()[:1], drop_after=1)

    with pytest.raises(Exception) as caught:
        async for _ in await atraced.aio.models.generate_content_stream(model=MODEL, contents="Hi"):
            pass

    span = only_span(capture)
    assert span.status == "ERROR"
    attrs = stream_attributes(span)
    assert attrs[semconv.ERROR_TYPE] == type(caught.value).__name__
    assert attrs[semconv.AITHER_LLM_STREAM_END] == "error"


@pytest.mark.parametrize(("status", "exc_type"), [(429, errors.ClientError), (500, errors.ServerError)])
async def test_http_error(
    fake: FakeGemini, atraced: Any, capture: SpanCapture, status: int, exc_type: type[Exception]
) -> None:
    fake.reply_error(status)

    with pytest.raises(exc_type):
        await atraced.aio.models.generate_content(model=MODEL, contents="Hi")

    span = only_span(capture)
    assert span.status == "ERROR"
    assert span.attributes == gemini_span(
        fake,
        **{
            semconv.ERROR_TYPE: exc_type.__name__,
            semconv.HTTP_RESPONSE_STATUS_CODE: status,
            semconv.AITHER_COST_UNAVAILABLE: "no_usage",
        },
    )


async def test_streamed_request_refused(fake: FakeGemini, atraced: Any, capture: SpanCapture) -> None:
    fake.reply_error(429)

    with pytest.raises(errors.ClientError):
        async for _ in await atraced.aio.models.generate_content_stream(model=MODEL, contents="Hi"):
            pass

    span = only_span(capture)
    assert span.status == "ERROR"
    assert span.attributes[semconv.HTTP_RESPONSE_STATUS_CODE] == 429
    assert semconv.AITHER_LLM_STREAM_END not in span.attributes  # refused before any stream


async def test_embed_content(fake: FakeGemini, atraced: Any, capture: SpanCapture) -> None:
    fake.reply_embeddings([0.1, 0.2, 0.3])

    got = await atraced.aio.models.embed_content(model=EMBED_MODEL, contents="one")

    assert got.embeddings[0].values == [0.1, 0.2, 0.3]
    attrs = only_span(capture).attributes
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "embeddings"
    assert attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 3


async def test_wrapping_the_async_client_alone(fake: FakeGemini, capture: SpanCapture) -> None:
    client = make_client(fake)
    aio = capture.client.wrap(client.aio, name="writer")
    fake.reply_response()

    got = await aio.models.generate_content(model=MODEL, contents="Hi")

    assert aio is client.aio
    assert got.text == "Hello there!"
    assert only_span(capture).attributes[semconv.GEN_AI_RESPONSE_ID] == "resp-01"
    aither.unwrap(aio)
    assert "async_request" not in vars(client._api_client)
    await client.aio.aclose()
    client.close()
