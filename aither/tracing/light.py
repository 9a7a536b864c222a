"""A span for aither's own LLM calls that is made readable once, when it ends.

The OpenTelemetry SDK's span is built for anyone to write to while it lives: a lock, bounded
containers for its attributes, events and links (each with a lock of its own), a start
handed to every processor, and at its end a second, read-only copy for the processors. For
an LLM call whose attributes aither sets itself (of valid types, mostly on the export thread:
see :class:`~aither.adapters.llm._findings.LLMPayload`), that machinery is most of what the
span costs the caller (about 20 µs of ~25). :class:`LightSpan` keeps what a live span needs
(its context, for the spans started inside it, and what is recorded on it) and hands the
processors one :class:`~opentelemetry.sdk.trace.ReadableSpan` when it ends: the same span on
the wire (``tests/llm/test_light_span.py`` checks it field by field against the SDK's).

It is used only where the SDK's behaviour is known: aither's own tracer provider (the
runtime's processor is there) with the SDK's own tracer; sampling, ids, the resource and
the instrumentation scope are the tracer's. Anywhere else, and for a span the sampler does
not record, :func:`start_span` returns what the tracer's ``start_span`` does.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace import Tracer as SDKTracer
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util import types

_UNSET = Status(StatusCode.UNSET)


@dataclass(eq=False, repr=False, slots=True)
class LightSpan(trace.Span):
    """A recording span (see the module's docstring). Thread-safe where it matters: it ends
    exactly once; attributes and events set after its end are ignored, as the SDK's are."""

    _tracer: SDKTracer
    _name: str
    _context: SpanContext
    _parent: SpanContext | None
    _kind: SpanKind
    _attributes: dict[str, Any]
    _start_time: int
    _events: list[Event] | None = field(default=None, init=False)
    _status: Status = field(default=_UNSET, init=False)
    _end_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    # -- trace.Span -----------------------------------------------------------------------------
    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return not self._end_lock.locked()

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        if not self._end_lock.locked():
            self._attributes.update(attributes)

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        if not self._end_lock.locked():
            self._attributes[key] = value

    def add_event(self, name: str, attributes: types.Attributes = None, timestamp: int | None = None) -> None:
        if self._end_lock.locked():
            return
        if self._events is None:
            self._events = []
        self._events.append(Event(name, attributes, timestamp if timestamp is not None else time.time_ns()))

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        return None  # aither's LLM spans carry no links; the SDK drops late ones on export too

    def update_name(self, name: str) -> None:
        if not self._end_lock.locked():
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # As the SDK: UNSET changes nothing, and OK is final.
        if self._end_lock.locked() or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if status.status_code is not StatusCode.UNSET:
            self._status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        # The SDK's event, attribute for attribute.
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        event: dict[str, Any] = {
            "exception.type": f"{module}.{qualname}" if module and module != "builtins" else qualname,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            event.update(attributes)
        self.add_event("exception", event, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if not self._end_lock.acquire(blocking=False):
            return
        tracer = self._tracer
        readable = ReadableSpan(
            name=self._name,
            context=self._context,
            parent=self._parent,
            resource=tracer.resource,
            attributes=self._attributes,
            events=self._events or (),
            kind=self._kind,
            instrumentation_info=tracer.instrumentation_info,
            status=self._status,
            start_time=self._start_time,
            end_time=end_time if end_time is not None else time.time_ns(),
            instrumentation_scope=tracer._instrumentation_scope,
        )
        tracer.span_processor.on_end(readable)

    def __repr__(self) -> str:
        return f'LightSpan(name="{self._name}", context={self._context})'


def _light(tracer: Any) -> SDKTracer | None:
    """``tracer`` when a light span can stand in for its spans: the SDK's own tracer, enabled,
    whose processors all do nothing when a span starts (``light_spans``, as aither's)."""
    if type(tracer) is not SDKTracer or not tracer._is_enabled():
        return None
    processors = getattr(tracer.span_processor, "_span_processors", None)
    if not processors or not all(getattr(p, "light_spans", False) for p in processors):
        return None
    return tracer


def start_span(
    tracer: Any,
    name: str,
    context: Context | None,
    kind: SpanKind,
    attributes: dict[str, Any],
    start_time: int | None = None,
) -> trace.Span:
    """A :class:`LightSpan` from the SDK ``tracer`` (sampled by its sampler, with its ids), or
    ``tracer.start_span(...)``'s span where a light one cannot stand in. ``attributes`` is the
    span's from now on (not copied)."""
    sdk = _light(tracer)
    if sdk is None:
        return tracer.start_span(name, context, kind, attributes, start_time=start_time)  # type: ignore[no-any-return]
    parent: SpanContext | None = trace.get_current_span(context).get_span_context()
    if parent is None or not parent.is_valid:
        parent = None
        trace_id = sdk.id_generator.generate_trace_id()
    else:
        trace_id = parent.trace_id
    links: Sequence[Link] = ()
    sampling = sdk.sampler.should_sample(context, trace_id, name, kind, attributes, links)
    if not sampling.decision.is_recording():  # type: ignore[no-untyped-call]
        return tracer.start_span(name, context, kind, attributes, start_time=start_time)  # type: ignore[no-any-return]
    sampled = sampling.decision.is_sampled()  # type: ignore[no-untyped-call]
    flags = TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT
    if parent is None:
        random_id = sdk.id_generator.is_trace_id_random()
    else:
        random_id = parent.trace_flags.random_trace_id
    if random_id:
        flags |= TraceFlags.RANDOM_TRACE_ID
    span_context = SpanContext(
        trace_id,
        sdk.id_generator.generate_span_id(),
        is_remote=False,
        trace_flags=TraceFlags(flags),
        trace_state=sampling.trace_state,
    )
    # The span's attributes are the sampler's (what it was given, unless it adds some), as
    # the SDK's are.
    return LightSpan(
        sdk,
        name,
        span_context,
        parent,
        kind,
        dict(sampling.attributes),
        start_time if start_time is not None else time.time_ns(),
    )
