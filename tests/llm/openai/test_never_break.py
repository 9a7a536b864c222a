"""Whatever happens inside aither, the caller gets what the plain client gives."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from opentelemetry import trace

import aither
from aither.testing import SpanCapture

from ..fake_openai import FakeOpenAI
from .conftest import make_client

MESSAGES = [{"role": "user", "content": "Say hello."}]


class BrokenTracer(trace.Tracer):
    """A user's tracer that fails to start any span."""

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        raise RuntimeError("this tracer is broken")

    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Iterator[trace.Span]:  # type: ignore[override]
        raise RuntimeError("this tracer is broken")


class BrokenProvider(trace.TracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return BrokenTracer()


def test_a_failing_tracer_never_reaches_the_caller(fake: FakeOpenAI, plain: openai.OpenAI) -> None:
    errors: list[BaseException] = []
    client = aither.Client(
        tracer_provider=BrokenProvider(), on_error=errors.append, raise_internal_errors=False
    )
    fake.chat(times=2)
    fake.chat_stream(times=2)
    with client.wrap(make_client(fake)) as traced:
        got = traced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        expected = plain.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        chunks = list(traced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
        plain_chunks = list(
            plain.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        )
    assert got.model_dump() == expected.model_dump()
    assert [c.to_json() for c in chunks] == [c.to_json() for c in plain_chunks]
    assert fake.requests[2].json() == fake.requests[3].json()  # untraced: the request is not amended
    assert len(errors) == 2
    assert all(isinstance(e, RuntimeError) for e in errors)
    assert client.stats().internal_errors == 2


async def test_unconsumed_async_stream_ends_when_collected(
    fake: FakeOpenAI, atraced: Any, capture: SpanCapture
) -> None:
    fake.chat_stream()
    stream = await atraced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    await stream.__anext__()
    await stream.response.aclose()  # an async response cannot close itself from a finalizer
    del stream
    gc.collect()
    (span,) = capture.spans()
    assert span.attributes["aither.llm.stream.end"] == "garbage_collected"
    assert span.attributes["aither.llm.stream.chunks"] == 1


def test_raw_stream_is_passed_through_unread(
    fake: FakeOpenAI, plain: openai.OpenAI, traced: Any, capture: SpanCapture
) -> None:
    fake.chat_stream(times=2)
    expected = plain.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    got = traced.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    assert type(got) is type(expected)
    assert [c.to_json() for c in got.parse()] == [c.to_json() for c in expected.parse()]
    assert "stream_options" not in fake.requests[1].json()
    (span,) = capture.spans()
    assert span.attributes["aither.llm.response_unread"] is True
    assert span.attributes["gen_ai.request.stream"] is True


@pytest.mark.parametrize("times", [3])
def test_each_call_gets_its_own_span(times: int, fake: FakeOpenAI, traced: Any, capture: SpanCapture) -> None:
    fake.chat(times=times)
    for _ in range(times):
        traced.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    spans = capture.spans()
    assert len(spans) == times
    assert len({s.trace_id for s in spans}) == times
