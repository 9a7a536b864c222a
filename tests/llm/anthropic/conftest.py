"""The official Anthropic clients against :class:`FakeAnthropic`: one plain, one wrapped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import pytest

from aither.schema import semconv
from aither.testing import CapturedSpan, SpanCapture

from ..fake_anthropic import MODEL, FakeAnthropic


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def capture() -> Iterator[SpanCapture]:
    """Content capture off (the default)."""
    c = SpanCapture()
    yield c
    c.close()


def make_client(fake: FakeAnthropic) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.url, api_key="x", max_retries=0)


@pytest.fixture
def plain(fake: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    client = make_client(fake)
    yield client
    client.close()


@pytest.fixture
def traced(fake: FakeAnthropic, capture: SpanCapture) -> Iterator[Any]:
    client = capture.client.wrap(make_client(fake), name="assistant")
    yield client
    client.close()


@pytest.fixture
async def aplain(fake: FakeAnthropic) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(base_url=fake.url, api_key="x", max_retries=0)
    yield client
    await client.close()


@pytest.fixture
async def atraced(fake: FakeAnthropic, capture: SpanCapture) -> AsyncIterator[Any]:
    client = capture.client.wrap(
        anthropic.AsyncAnthropic(base_url=fake.url, api_key="x", max_retries=0), name="assistant"
    )
    yield client
    await client.close()


def chat_span(
    fake: FakeAnthropic, *, model: str = MODEL, stream: bool = False, **extra: Any
) -> dict[str, Any]:
    """The attributes every span of a ``chat`` request to the fake has, plus ``extra``."""
    attrs: dict[str, Any] = {
        semconv.AITHER_SPAN_KIND: "llm",
        semconv.AITHER_SCHEMA_VERSION: "2",
        semconv.GEN_AI_OPERATION_NAME: "chat",
        semconv.GEN_AI_PROVIDER_NAME: "anthropic",
        semconv.GEN_AI_REQUEST_MODEL: model,
        semconv.GEN_AI_REQUEST_MAX_TOKENS: 64,
        semconv.AITHER_LLM_CLIENT_NAME: "assistant",
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
    """The one span the test made (failing if there were more or none)."""
    spans = capture.spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def stream_attributes(span: CapturedSpan) -> dict[str, Any]:
    """The span's attributes with the time to first chunk checked and taken out."""
    attrs = dict(span.attributes)
    ttft = attrs.pop(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
    assert 0 < ttft < 30
    return attrs


USER = [{"role": "user", "content": "Say hello."}]
