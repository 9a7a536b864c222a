"""The official ``google-genai`` clients against :class:`FakeGemini`: one plain, one wrapped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from google import genai
from google.genai import types

from aither.schema import semconv
from aither.testing import CapturedSpan, SpanCapture

from ..fake_gemini import MODEL, FakeGemini


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@pytest.fixture
def capture() -> Iterator[SpanCapture]:
    """Content capture off (the default)."""
    c = SpanCapture()
    yield c
    c.close()


def make_client(fake: FakeGemini) -> genai.Client:
    """No retries: the SDK's default when ``retry_options`` is not given."""
    return genai.Client(api_key="x", http_options=types.HttpOptions(base_url=fake.url))


@pytest.fixture
def plain(fake: FakeGemini) -> Iterator[genai.Client]:
    client = make_client(fake)
    yield client
    client.close()


@pytest.fixture
def traced(fake: FakeGemini, capture: SpanCapture) -> Iterator[Any]:
    client = capture.client.wrap(make_client(fake), name="writer")
    yield client
    client.close()


@pytest.fixture
async def aplain(fake: FakeGemini) -> AsyncIterator[genai.Client]:
    """A plain client for ``client.aio`` tests: its async connections closed in the test's loop."""
    client = make_client(fake)
    yield client
    await client.aio.aclose()
    client.close()


@pytest.fixture
async def atraced(fake: FakeGemini, capture: SpanCapture) -> AsyncIterator[Any]:
    client = capture.client.wrap(make_client(fake), name="writer")
    yield client
    await client.aio.aclose()
    client.close()


def gemini_span(
    fake: FakeGemini,
    *,
    model: str = MODEL,
    operation: str = "generate_content",
    stream: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """The attributes every span of a request to the fake has, plus ``extra``."""
    attrs: dict[str, Any] = {
        semconv.AITHER_SPAN_KIND: "llm",
        semconv.AITHER_SCHEMA_VERSION: "2",
        semconv.GEN_AI_OPERATION_NAME: operation,
        semconv.GEN_AI_PROVIDER_NAME: "gcp.gemini",
        semconv.GEN_AI_REQUEST_MODEL: model,
        semconv.AITHER_LLM_CLIENT_NAME: "writer",
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: fake.port,
        semconv.AITHER_INJECTION_SCORE: 0.0,
        semconv.AITHER_INJECTION_DETECTED: False,
    }
    if stream:
        attrs[semconv.GEN_AI_REQUEST_STREAM] = True
    attrs.update(extra)
    return attrs


def priced(usd: float, model: str = MODEL) -> dict[str, Any]:
    return {
        semconv.AITHER_COST_USD: pytest.approx(usd, rel=1e-9),
        semconv.AITHER_COST_SOURCE: "genai-prices 0.2.3",
        semconv.AITHER_COST_PRICE_MODEL: model,
    }


def only_span(capture: SpanCapture) -> CapturedSpan:
    spans = capture.spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def stream_attributes(span: CapturedSpan) -> dict[str, Any]:
    attrs = dict(span.attributes)
    ttft = attrs.pop(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    assert 0 < ttft < 30
    return attrs


def dump(response: Any) -> dict[str, Any]:
    """A response as data, less the HTTP headers (their ``date`` differs between calls)."""
    found: dict[str, Any] = response.model_dump(exclude={"sdk_http_response"})
    return found
