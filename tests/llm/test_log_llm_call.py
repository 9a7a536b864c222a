"""``aither.log_llm_call`` and ``aither.LLMCall``: an LLM call made by a client aither does not wrap."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

import aither
from aither.testing import SpanCapture
from aither.tracing.llm_record import decode_embedding

pytest.importorskip("genai_prices")


@pytest.fixture
def content_capture() -> Iterator[SpanCapture]:
    capture = SpanCapture(capture_content=True)
    yield capture
    capture.close()


def test_a_recorded_call_is_the_genai_span_a_wrapped_client_makes(content_capture: SpanCapture) -> None:
    trace_id = content_capture.client.log_llm_call(
        model="command-r",
        provider="cohere",
        service="gateway",
        prompt="Hi, my email is ada@example.com",
        response="Hello!",
        latency_ms=320,
        prompt_tokens=2,
        completion_tokens=3,
        finish_reason="stop",
        user_id="u-42",
        session_id="s-1",
        metadata={"route": "gw"},
        timestamp=dt.datetime(2026, 1, 31, 12, tzinfo=dt.timezone.utc),
        prompt_embedding=[0.5, 1.0, -2.25],
    )
    (span,) = content_capture.spans()
    assert span.trace_id == trace_id and span.name == "chat command-r" and span.status == "UNSET"
    assert span.raw.kind.name == "CLIENT"
    assert span.raw.end_time == 1_769_860_800 * 10**9
    assert span.raw.end_time - span.raw.start_time == 320_000_000
    source = span.attributes["aither.cost.source"]
    assert source.startswith("genai-prices ")
    assert span.attributes == {
        "aither.span.kind": "llm",
        "aither.schema.version": "2",
        "aither.llm.recorded": True,
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "cohere",
        "gen_ai.request.model": "command-r",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 2,
        "gen_ai.usage.output_tokens": 3,
        "service.name": "gateway",
        "enduser.id": "u-42",
        "session.id": "s-1",
        "aither.metadata.route": "gw",
        "aither.cost.usd": pytest.approx(2 * 0.15e-6 + 3 * 0.6e-6),  # command-r: $0.15/M in, $0.60/M out
        "aither.cost.source": source,
        "aither.cost.price_model": "command-r",
        "aither.pii.detected": True,
        "aither.pii.input.email": 1,
        "aither.injection.score": 0.0,
        "aither.injection.detected": False,
        "aither.embedding.prompt": span.attributes["aither.embedding.prompt"],
        "gen_ai.input.messages": json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": "Hi, my email is ada@example.com"}]}],
            separators=(",", ":"),
        ),
        "gen_ai.output.messages": json.dumps(
            [
                {
                    "role": "assistant",
                    "finish_reason": "stop",
                    "parts": [{"type": "text", "content": "Hello!"}],
                }
            ],  # noqa: E501
            separators=(",", ":"),
        ),
    }
    assert decode_embedding(span.attributes["aither.embedding.prompt"]) == [0.5, 1.0, -2.25]


def test_content_only_with_capture_a_caller_cost_and_errors(aither_capture: SpanCapture) -> None:
    aither_capture.client.log_llm_call(
        model="gpt-4o-mini",
        prompt="Write a poem",
        response="",
        prompt_tokens=10,
        completion_tokens=0,
        cost_usd=0.0,
        finish_reason="error",
        errors=["Connection timeout", "Retry failed"],
    )
    aither_capture.client.log_llm_call(model="gpt-4o-mini", prompt_tokens=1000, completion_tokens=100)
    aither_capture.client.log_llm_call(model="my-finetune-7b", prompt_tokens=5)
    failed, priced, unknown = aither_capture.spans()
    assert failed.status == "ERROR" and failed.raw.status.description == "Connection timeout; Retry failed"
    assert failed.attributes["aither.llm.errors"] == ("Connection timeout", "Retry failed")
    assert (failed.attributes["aither.cost.usd"], failed.attributes["aither.cost.source"]) == (0.0, "caller")
    assert (
        "gen_ai.input.messages" not in failed.attributes and "gen_ai.output.messages" not in failed.attributes
    )
    # no provider given: the price table finds the model among every provider's
    assert priced.attributes["aither.cost.usd"] == pytest.approx(0.00021)
    assert "gen_ai.provider.name" not in priced.attributes
    assert (
        unknown.attributes["aither.cost.unknown_model"] is True
        and "aither.cost.usd" not in unknown.attributes
    )


def test_trace_id_and_span_id_name_the_parent(aither_capture: SpanCapture) -> None:
    provider = TracerProvider()
    with provider.get_tracer("app").start_as_current_span("llm-request") as parent:
        ctx = parent.get_span_context()
        aither_capture.client.log_llm_call(
            model="gpt-4", trace_id=format(ctx.trace_id, "032x"), span_id=format(ctx.span_id, "016x")
        )
    with aither_capture.client.span("agent step") as step:
        step_ids = (step.trace_id, step.span_id)
        aither_capture.client.log_llm_call(model="gpt-4")  # the current span is the parent
    child, inner, _ = aither_capture.spans()
    assert (child.trace_id, child.parent_span_id) == (
        format(ctx.trace_id, "032x"),
        format(ctx.span_id, "016x"),
    )
    assert (inner.trace_id, inner.parent_span_id) == step_ids


def test_an_llm_call_record_built_up_and_sent_with_the_default_client(aither_default: SpanCapture) -> None:
    call = aither.LLMCall(model="command-r", provider="cohere")
    call.prompt, call.response = "Hi", "Hello!"
    call.prompt_tokens, call.completion_tokens = 2, 3
    trace_id = call.send()
    also = aither.log_llm_call(aither.LLMCall(model="command-r", user_id="u-1"))
    first, second = aither_default.spans("llm")
    assert (first.trace_id, second.trace_id) == (trace_id, also)
    assert first.attributes["gen_ai.usage.output_tokens"] == 3 and second.attributes["enduser.id"] == "u-1"


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"model": ""}, ValueError, "model must be a non-empty string"),
        ({"model": "m", "prompt_tokens": -1}, ValueError, "prompt_tokens must be an int >= 0"),
        ({"model": "m", "completion_tokens": 1.5}, ValueError, "completion_tokens must be an int >= 0"),
        ({"model": "m", "cost_usd": -1}, ValueError, "cost must be a finite number"),
        ({"model": "m", "latency_ms": "fast"}, ValueError, "latency_ms must be a number"),
        ({"model": "m", "errors": "boom"}, ValueError, "errors must be a list of strings"),
        ({"model": "m", "trace_id": "trace-123", "span_id": "span-456"}, ValueError, "trace_id 'trace-123'"),
        ({"model": "m", "trace_id": "a" * 32}, ValueError, "give both, or neither"),
        (
            {"model": "m", "trace_id": "a" * 32, "span_id": "xyz"},
            ValueError,
            "span_id must be 16 hexadecimal",
        ),
        ({"model": "m", "timestamp": "soon"}, ValueError, "timestamp 'soon' is not ISO 8601"),
        ({"model": "m", "prompt_embedding": [1.0, float("nan")]}, ValueError, "prompt_embedding holds NaN"),
        (
            {"model": "m", "response_embedding": "0.1,0.2"},
            ValueError,
            "response_embedding must be a sequence",
        ),
        ({"model": "m", "user_id": " "}, ValueError, "user_id must be a non-empty string"),
        ({"model": "m", "metadata": [1]}, TypeError, "metadata must be a mapping"),
        ({"prompt": "no model"}, TypeError, "model"),
        ({"model": "m", "colour": "red"}, TypeError, "colour"),
    ],
)
def test_a_bad_field_is_named_even_when_disabled(
    fields: dict[str, object], error: type, message: str
) -> None:
    for client in (aither.Client(enabled=False), SpanCapture().client):
        try:
            with pytest.raises(error, match=message):
                client.log_llm_call(**fields)
        finally:
            client.close()
    assert aither.Client(enabled=False).log_llm_call(model="m") is None
