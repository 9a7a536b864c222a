"""The official OpenAI clients against :class:`FakeOpenAI`, one plain and one wrapped."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest

from aither.testing import SpanCapture

from ..fake_openai import FakeOpenAI


@pytest.fixture(autouse=True)
def _collect_streams() -> Iterator[None]:
    """The SDK's streams hold a reference cycle (the stream and its generator); a test that
    closes one early leaves it for the cyclic collector. Collect it in this test's teardown,
    not during some later test."""
    yield
    gc.collect()


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def capture() -> Iterator[SpanCapture]:
    """Content capture off (the default)."""
    c = SpanCapture()
    yield c
    c.close()


@pytest.fixture
def content_capture() -> Iterator[SpanCapture]:
    c = SpanCapture(capture_content=True)
    yield c
    c.close()


def make_client(fake: FakeOpenAI, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=fake.url, api_key="sk-test", **kwargs)


@pytest.fixture
def plain(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    client = make_client(fake)
    yield client
    client.close()


@pytest.fixture
def traced(fake: FakeOpenAI, capture: SpanCapture) -> Iterator[Any]:
    client = capture.client.wrap(make_client(fake), name="assistant")
    yield client
    client.close()


@pytest.fixture
async def aplain(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=fake.url, api_key="sk-test", max_retries=0)
    yield client
    await client.close()


@pytest.fixture
async def atraced(fake: FakeOpenAI, capture: SpanCapture) -> AsyncIterator[Any]:
    client = capture.client.wrap(
        openai.AsyncOpenAI(base_url=fake.url, api_key="sk-test", max_retries=0), name="assistant"
    )
    yield client
    await client.close()
