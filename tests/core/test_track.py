from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import aither
from aither.testing import SpanCapture


def test_bare_and_named_decorators_keep_the_signature(aither_capture: SpanCapture) -> None:
    client = aither_capture.client

    @client.track
    def add(a: int, b: int = 2) -> int:
        """Adds."""
        return a + b

    @client.track("scoring", metadata={"team": "risk", "limits": [1, 2]}, capture_output=False)
    def score(features: dict[str, float], *, threshold: float = 0.5) -> bool:
        return features["amount"] > threshold

    assert add(1) == 3 and score({"amount": 1.0}, threshold=0.2) is True
    assert inspect.signature(add) == inspect.signature(add.__wrapped__)  # type: ignore[attr-defined]
    assert add.__doc__ == "Adds." and add.__name__ == "add"
    first, second = aither_capture.spans()
    assert first.name.endswith("add") and first.attributes == {
        "aither.span.kind": "function",
        "aither.schema.version": "2",
        "aither.span.type": "function_call",  # @track's default event_type, as seed 002 had it
        "aither.input": {"a": 1},
        "aither.output": 3,
    }
    assert second.name == "scoring" and second.attributes == {
        "aither.span.kind": "function",
        "aither.schema.version": "2",
        "aither.span.type": "function_call",
        "aither.input": {"features": {"amount": 1.0}, "threshold": 0.2},
        "aither.metadata.team": "risk",
        "aither.metadata.limits": "[1,2]",
    }


def test_exceptions_are_recorded_and_re_raised_unchanged(aither_capture: SpanCapture) -> None:
    error = KeyError("missing")

    @aither_capture.client.track(capture_input=False)
    def fails() -> None:
        raise error

    with pytest.raises(KeyError) as info:
        fails()
    assert info.value is error
    (span,) = aither_capture.spans()
    assert span.status == "ERROR" and span.events[0]["attributes"]["exception.type"] == "KeyError"
    assert "aither.input" not in span.attributes and "aither.output" not in span.attributes


async def test_async_functions_nest_their_children(aither_capture: SpanCapture) -> None:
    client = aither_capture.client
    model = client.wrap(lambda x: x + 1, name="inc")

    @client.track("agent")
    async def agent(x: int) -> int:
        await asyncio.sleep(0)
        return model(x)

    assert await agent(1) == 2
    child, parent = aither_capture.spans()
    assert child.kind == "prediction" and parent.name == "agent"
    assert child.parent_span_id == parent.span_id and child.trace_id == parent.trace_id
    assert parent.attributes["aither.output"] == 2
    assert aither.last_trace_id() is None or isinstance(aither.last_trace_id(), str)


def test_generators_span_their_whole_life_and_leave_the_callers_context_alone(
    aither_capture: SpanCapture,
) -> None:
    client = aither_capture.client

    @client.track("numbers")
    def numbers(n: int) -> Iterator[int]:
        yield from range(n)

    gen = numbers(7)
    assert next(gen) == 0
    with client.span("between") as between:
        pass  # the generator's span must not be this span's parent
    assert list(gen) == [1, 2, 3, 4, 5, 6]
    spans = {s.name: s for s in aither_capture.spans()}
    assert spans["between"].parent_span_id is None
    assert spans["numbers"].attributes["aither.output"] == [0, 1, 2, 3, 4]  # the first sample_rows items
    assert between.trace_id is None  # closed


def test_a_generator_closed_early_ends_its_span_once(aither_capture: SpanCapture) -> None:
    @aither_capture.client.track
    def forever() -> Iterator[int]:
        i = 0
        while True:
            yield i
            i += 1

    gen = forever()
    assert [next(gen), next(gen)] == [0, 1]
    gen.close()
    (span,) = aither_capture.spans()
    assert span.status == "UNSET" and span.attributes["aither.output"] == [0, 1]


async def test_async_generators(aither_capture: SpanCapture) -> None:
    @aither_capture.client.track("stream")
    async def stream(n: int) -> AsyncIterator[str]:
        for i in range(n):
            await asyncio.sleep(0)
            yield f"tok{i}"

    assert [t async for t in stream(3)] == ["tok0", "tok1", "tok2"]
    (span,) = aither_capture.spans()
    assert span.attributes["aither.output"] == ["tok0", "tok1", "tok2"] and span.attributes[
        "aither.input"
    ] == {"n": 3}


def test_methods_skip_self(aither_capture: SpanCapture) -> None:
    client = aither_capture.client

    class Service:
        @client.track
        def handle(self, request: str) -> str:
            return request.upper()

    assert Service().handle("hi") == "HI"
    (span,) = aither_capture.spans()
    assert span.attributes["aither.input"] == {"request": "hi"}


def test_module_level_track_uses_the_default_client_at_call_time(aither_default: SpanCapture) -> None:
    @aither.track
    def f() -> int:
        return 1

    assert f() == 1
    (span,) = aither_default.spans()
    assert span.trace_id == aither.last_trace_id()


def test_bad_arguments_are_errors_at_the_decorator() -> None:
    with pytest.raises(TypeError, match="takes a span name"):
        aither.track(42)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="metadata must be a mapping"):
        aither.track("x", metadata=[1])(lambda: None)  # type: ignore[arg-type]


def test_span_context_manager_and_log_event(aither_capture: SpanCapture) -> None:
    client = aither_capture.client
    with client.span("retrieve", kind="tool", input={"query": "q"}) as s:
        s.set_output(["doc1", "doc2"])
        s.set_cost(0.002)
        s.set_metadata({"index": "main"}, k=3)
        with pytest.raises(ValueError, match="cost must be"):
            s.set_cost(-1)
    tid = client.log_event(
        "tool_call", input={"q": 1}, output="ok", cost=0.5, metadata={"tool": "search"}, event_type="tool"
    )
    retrieve, event = aither_capture.spans()
    assert retrieve.attributes == {
        "aither.span.kind": "function",
        "aither.schema.version": "2",
        "aither.span.type": "tool",
        "aither.input": {"query": "q"},
        "aither.output": ["doc1", "doc2"],
        "aither.cost.usd": 0.002,
        "aither.metadata.index": "main",
        "aither.metadata.k": 3,
    }
    assert event.trace_id == tid and event.attributes == {
        "aither.span.kind": "event",
        "aither.schema.version": "2",
        "aither.span.type": "tool",
        "aither.input": {"q": 1},
        "aither.output": "ok",
        "aither.cost.usd": 0.5,
        "aither.metadata.tool": "search",
    }


def test_log_event_takes_latency_status_error_message_and_timestamp(aither_capture: SpanCapture) -> None:
    """The fields of seed 002's ``log_event``: latency, success/error, an error message, a time."""
    client = aither_capture.client
    ok = client.log_event(
        "decision",
        input={"query": "user input"},
        output={"answer": "AI response"},
        cost=0.01,
        latency_ms=250,
        status="success",
        event_type="decision",
        timestamp="2026-01-31T12:00:00Z",
    )
    failed = client.log_event("lookup", status="error", error_message="upstream 503", latency_ms=12.5)
    implied = client.log_event("parse", error_message="bad json", timestamp=1_700_000_000.5)
    first, second, third = aither_capture.spans()
    assert (first.trace_id, second.trace_id, third.trace_id) == (ok, failed, implied)
    assert first.status == "UNSET" and first.raw.end_time == 1_769_860_800 * 10**9
    assert first.raw.end_time - first.raw.start_time == 250_000_000
    assert first.attributes["aither.cost.usd"] == 0.01 and first.attributes["aither.span.type"] == "decision"
    assert second.status == "ERROR" and second.raw.status.description == "upstream 503"
    assert second.raw.end_time - second.raw.start_time == 12_500_000
    assert third.status == "ERROR" and third.raw.status.description == "bad json"
    assert third.raw.start_time == third.raw.end_time == 1_700_000_000_500_000_000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "ok"}, "status must be 'success' or 'error'"),
        ({"status": "success", "error_message": "x"}, "error_message was given with status='success'"),
        ({"latency_ms": -1}, "latency_ms must be a number >= 0"),
        ({"timestamp": "yesterday"}, "timestamp 'yesterday' is not ISO 8601"),
        ({"timestamp": [1]}, "timestamp must be"),
        ({"error_message": ""}, "error_message must be a non-empty string"),
    ],
)
def test_log_event_names_the_bad_field_even_when_disabled(kwargs: dict[str, object], message: str) -> None:
    for client in (aither.Client(enabled=False), SpanCapture().client):
        try:
            with pytest.raises(ValueError, match=message):
                client.log_event("step", **kwargs)  # type: ignore[arg-type]
        finally:
            client.close()


def _plain(self: object, a: int, b: str = "x", c: float = 1.0) -> None:
    return None


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        ((None, 1), {}),
        ((None, 1, "y", 2.0), {}),
        ((None,), {"c": 3.0, "a": 2}),
        ((None, 1), {"c": 3.0}),
        ((None, 1), {"a": 2}),  # given twice: recorded as args and kwargs
        ((None, 1), {"zzz": 2}),  # not a parameter
        ((None, 1, "y", 2.0, "extra"), {}),  # too many
    ],
)
def test_the_fast_reading_of_arguments_is_bind_partials(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    from aither.tracing.track import _bound_arguments, _plain_names

    signature = inspect.signature(_plain)
    names = _plain_names(signature)
    assert names == ("self", "a", "b", "c")
    fast = _bound_arguments(signature, args, kwargs, names)
    assert fast == _bound_arguments(signature, args, kwargs)
    assert list(fast) == list(_bound_arguments(signature, args, kwargs))


def test_a_signature_with_star_args_is_read_by_bind_partial() -> None:
    from aither.tracing.track import _plain_names

    def f(a: int, *rest: int, k: int = 0, **more: int) -> None:
        return None

    assert _plain_names(inspect.signature(f)) is None
