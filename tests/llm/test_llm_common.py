"""The machinery every LLM adapter shares, on plain iterators and generators (no SDK needed)."""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from aither.adapters.llm import _common
from aither.adapters.llm._common import LLMCall, StreamRecorder, TextBudget
from aither.testing import SpanCapture


@pytest.fixture
def capture() -> Iterator[SpanCapture]:
    c = SpanCapture()
    yield c
    c.close()


def start(capture: SpanCapture, **kwargs: Any) -> LLMCall:
    runtime = capture.client._active_runtime()
    assert runtime is not None
    call = LLMCall.start(
        runtime, operation="chat", provider="openai", request_model="gpt-4o-mini", stream=True, **kwargs
    )
    assert call is not None
    return call


class Counting(StreamRecorder):
    """Keeps back chunks equal to ``hide``; records usage when the stream ends."""

    def __init__(self, hide: Any = None) -> None:
        self.hide = hide
        self.seen: list[Any] = []

    def on_chunk(self, chunk: Any) -> bool:
        self.seen.append(chunk)
        return chunk != self.hide

    def finish(self, call: LLMCall) -> None:
        call.record_response(response_model="gpt-4o-mini-2024-07-18", finish_reasons=["stop"])
        call.record_usage(input_tokens=10, output_tokens=len(self.seen))


def test_text_budget_cuts_and_says_so() -> None:
    budget = TextBudget(10)
    assert budget.text("abcdef") == "abcdef"
    assert not budget.truncated
    assert budget.text("ghijkl") == "ghij"
    assert budget.truncated
    assert budget.text("more") == ""
    assert budget.value({"a": ["x", 1, None]}) == {"a": ["", 1, None]}


def test_collect_texts_is_bounded() -> None:
    assert _common.collect_texts(["abc", None, "", "defgh", "ij"], 6) == ["abc", "def"]


def test_generator_stream_hides_and_counts(capture: SpanCapture) -> None:
    call = start(capture)
    recorder = Counting(hide="usage")
    proxy = call.wrap_stream((c for c in ["a", "b", "usage"]), recorder)
    assert list(proxy) == ["a", "b"]
    assert recorder.seen == ["a", "b", "usage"]
    (span,) = capture.spans()
    a = span.attributes
    assert a["aither.llm.stream.chunks"] == 2
    assert a["aither.llm.stream.end"] == "completed"
    assert a["gen_ai.usage.output_tokens"] == 3
    assert a["gen_ai.response.finish_reasons"] == ("stop",)
    assert a["aither.cost.usd"] > 0


def test_generator_close_and_exception(capture: SpanCapture) -> None:
    def failing() -> Iterator[str]:
        yield "a"
        raise ValueError("broken stream")

    closed = start(capture).wrap_stream((c for c in "abc"), Counting())
    assert next(closed) == "a"
    closed.close()
    broken = start(capture).wrap_stream(failing(), Counting())
    with pytest.raises(ValueError, match="broken stream"):
        list(broken)
    first, second = capture.spans()
    assert (first.attributes["aither.llm.stream.end"], first.status) == ("closed", "UNSET")
    assert (second.attributes["aither.llm.stream.end"], second.status) == ("error", "ERROR")
    assert second.attributes["error.type"] == "ValueError"


async def test_async_generator_stream(capture: SpanCapture) -> None:
    async def chunks() -> AsyncIterator[str]:
        for c in "abc":
            yield c

    done = start(capture).wrap_stream(chunks(), Counting(), is_async=True)
    assert [c async for c in done] == ["a", "b", "c"]
    early = start(capture).wrap_stream(chunks(), Counting(), is_async=True)
    assert await early.__anext__() == "a"
    await early.aclose()
    first, second = capture.spans()
    assert first.attributes["aither.llm.stream.end"] == "completed"
    assert first.attributes["aither.llm.stream.chunks"] == 3
    assert second.attributes["aither.llm.stream.end"] == "closed"
    assert second.attributes["aither.llm.stream.chunks"] == 1


def test_collected_stream_ends_once(capture: SpanCapture) -> None:
    proxy = start(capture).wrap_stream(iter(["a", "b"]), Counting())
    next(proxy)
    del proxy
    gc.collect()
    (span,) = capture.spans()
    assert span.attributes["aither.llm.stream.end"] == "garbage_collected"


def test_end_is_exactly_once_across_threads(capture: SpanCapture) -> None:
    call = start(capture)
    barrier = threading.Barrier(8)

    def end() -> None:
        barrier.wait()
        call.end("closed")

    threads = [threading.Thread(target=end) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(capture.spans()) == 1
    assert capture.client.stats().created == 1


def test_hook_restores_what_was_there() -> None:
    class Client:
        def request(self) -> str:
            return "class"

    plain, shadowed = Client(), Client()
    shadowed.request = lambda: "own"  # type: ignore[method-assign]
    undo_plain = _common.hook(plain, "request", lambda: "hooked")
    undo_shadowed = _common.hook(shadowed, "request", lambda: "hooked")
    assert plain.request() == shadowed.request() == "hooked"
    undo_plain()
    undo_shadowed()
    undo_plain()  # twice is harmless
    assert plain.request() == "class"
    assert "request" not in vars(plain)
    assert shadowed.request() == "own"


def test_content_is_masked_on_export(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AITHER_MASK_PII", "true")
    content = SpanCapture(capture_content=True)
    try:
        runtime = content.client._active_runtime()
        assert runtime is not None
        call = LLMCall.start(
            runtime,
            operation="chat",
            provider="openai",
            request_model="gpt-4o-mini",
            input_texts=["write to ann@example.com"],
            input_messages=lambda b: [
                {"role": "user", "parts": [{"type": "text", "content": b.text("ann@example.com")}]}
            ],
        )
        assert call is not None
        call.end()
        (span,) = content.spans()
        assert (
            span.attributes["gen_ai.input.messages"]
            == '[{"role":"user","parts":[{"type":"text","content":"[EMAIL]"}]}]'
        )
        assert span.attributes["aither.pii.input.email"] == 1
        assert span.attributes["aither.pii.masked"] is True
    finally:
        content.close()
