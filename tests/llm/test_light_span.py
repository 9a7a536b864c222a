"""aither's light LLM span against the SDK's span: the same ReadableSpan reaches the processors."""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, Status, StatusCode

from aither.tracing import light


class Collect(SpanProcessor):
    """Keeps every ended span; does nothing at a start, as aither's processor."""

    light_spans = True

    def __init__(self) -> None:
        self.ended: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)


class Starting(Collect):
    """A processor that needs to see spans start: a light span cannot stand in for its spans."""

    light_spans = False


def provider_with(processor: SpanProcessor, **kwargs: Any) -> TracerProvider:
    provider = TracerProvider(**kwargs)
    provider.add_span_processor(processor)
    return provider


def exercise(span: trace.Span) -> None:
    span.set_attribute("gen_ai.response.id", "r-1")
    span.set_attributes({"gen_ai.usage.input_tokens": 3, "gen_ai.response.finish_reasons": ("stop",)})
    try:
        raise ValueError("the provider said no")
    except ValueError as exc:
        span.record_exception(exc, escaped=True, timestamp=5_000)
    span.set_status(Status(StatusCode.ERROR, "ValueError: the provider said no"))
    span.set_status(Status(StatusCode.UNSET))  # changes nothing, as in the SDK
    span.update_name("chat gpt-4o")
    span.end(end_time=9_000)
    span.set_attribute("after.end", True)  # ignored, as in the SDK
    span.end(end_time=10_000)  # ends once


def fields(span: ReadableSpan) -> dict[str, Any]:
    return {
        "name": span.name,
        "kind": span.kind,
        "parent": span.parent,
        "attributes": dict(span.attributes or {}),
        "events": [(e.name, dict(e.attributes or {}), e.timestamp) for e in span.events],
        "status": (span.status.status_code, span.status.description),
        "start": span.start_time,
        "end": span.end_time,
        "resource": span.resource,
        "scope": span.instrumentation_scope,
        "flags": span.context.trace_flags if span.context else None,
    }


def test_a_light_span_reaches_the_processors_as_the_sdks_span_does() -> None:
    processor = Collect()
    tracer = provider_with(processor).get_tracer("aither", "1")
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}
    light_span = light.start_span(tracer, "chat gpt-4o", None, SpanKind.CLIENT, dict(attrs), start_time=1_000)
    assert isinstance(light_span, light.LightSpan)
    exercise(light_span)
    sdk_span = tracer.start_span("chat gpt-4o", None, SpanKind.CLIENT, dict(attrs), start_time=1_000)
    exercise(sdk_span)
    ours, theirs = processor.ended
    a, b = fields(ours), fields(theirs)
    # the stack traces name different frames' lines only by the line the exception came from
    for got in (a, b):
        for _, event_attributes, _ in got["events"]:
            assert "ValueError: the provider said no" in event_attributes.pop("exception.stacktrace")
    assert a == b
    assert a["end"] == 9_000 and a["status"][0] is StatusCode.ERROR


def test_spans_started_inside_a_light_span_are_its_children() -> None:
    processor = Collect()
    tracer = provider_with(processor).get_tracer("aither")
    outer = tracer.start_span("request")
    with trace.use_span(outer, end_on_exit=True):
        span = light.start_span(tracer, "chat m", None, SpanKind.CLIENT, {})
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            tracer.start_span("http POST").end()
        finally:
            otel_context.detach(token)
        span.end()
    child, llm, parent = processor.ended
    assert llm.parent is not None and llm.parent.span_id == parent.context.span_id
    assert llm.context.trace_id == parent.context.trace_id == child.context.trace_id
    assert child.parent is not None and child.parent.span_id == llm.context.span_id


def test_the_sdks_span_where_a_light_one_cannot_stand_in() -> None:
    # a processor that needs the start
    starting = Starting()
    tracer = provider_with(starting).get_tracer("aither")
    span = light.start_span(tracer, "chat m", None, SpanKind.CLIENT, {})
    assert not isinstance(span, light.LightSpan) and span.is_recording()
    span.end()
    assert len(starting.ended) == 1
    # a sampler that records nothing
    dropped = Collect()
    tracer = provider_with(dropped, sampler=ALWAYS_OFF).get_tracer("aither")
    span = light.start_span(tracer, "chat m", None, SpanKind.CLIENT, {})
    assert not span.is_recording()
    span.end()
    assert dropped.ended == []
