"""Function and event spans: ``aither.span(...)``, ``log_event``, and what ``@track`` builds on."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from ..exceptions import ArgumentTypeError, ConfigError
from ..export.pipeline import DeferredPayload
from ..sampling.builtins import snapshot
from ..sampling.encoder import dumps, encode_plain, to_jsonable
from ..sampling.limits import SampleLimits
from ..schema import semconv
from .async_with import AsyncWithFromSync
from .context import format_trace_id, set_last
from .predictions import record_exception

if TYPE_CHECKING:
    from .._runtime import Runtime

_PRIMITIVES = (str, bool, int, float)


def capture(runtime: Runtime, value: Any) -> Any:
    """A bounded snapshot of a function's input or output, with ``redact_keys`` removed.

    Runs on the caller's thread and never raises for a value it cannot read (a mapping whose
    ``items()`` raises, say): that is an internal error, reported, and the value is recorded
    as ``"<ClassName object>"``. With ``redact_keys``, dataclasses, pydantic models and named
    tuples are read as their fields, so that their fields can be redacted too.
    """
    limits = runtime.settings.limits
    columns = max(limits.columns, limits.rows)
    redact = runtime.settings.redact_keys
    try:
        data = snapshot(value, limits, columns, named=bool(redact))
        return _redact(data, redact, limits, columns) if redact else data
    except Exception as exc:
        runtime.internal_error(exc, "sampling an input or output")
        return f"<{type(value).__name__} object>"


def _fields(value: Any) -> dict[str, Any] | None:
    """The fields of a dataclass or pydantic model instance (which encode with their names)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
    model_fields = getattr(type(value), "model_fields", None)
    if isinstance(model_fields, dict) and hasattr(value, "model_dump"):
        return {name: getattr(value, name, None) for name in model_fields if isinstance(name, str)}
    return None


def _redact(value: Any, keys: frozenset[str], limits: SampleLimits, columns: int, depth: int = 0) -> Any:
    if depth > limits.max_depth:
        return value
    fields = _fields(value)
    if fields is not None:
        # The snapshot kept the object whole, to encode later; read its fields now, bounded,
        # so the export thread never sees a field that should have been redacted.
        value = snapshot(fields, limits, columns, depth, named=True)
    if isinstance(value, dict):
        return {
            k: (
                "[REDACTED]"
                if isinstance(k, str) and k.lower() in keys
                else _redact(v, keys, limits, columns, depth + 1)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v, keys, limits, columns, depth + 1) for v in value]
    return value


def check_cost(cost: object) -> float:
    """A cost in US dollars as a float >= 0; ValueError otherwise (a caller's mistake)."""
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not math.isfinite(cost) or cost < 0:
        raise ConfigError(f"cost must be a finite number of US dollars >= 0, got {cost!r}")
    return float(cost)


def metadata_attributes(runtime: Runtime, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``aither.metadata.<key>`` attributes: scalars as they are, anything else as JSON;
    ``redact_keys`` applied."""
    if not isinstance(metadata, Mapping):
        raise ArgumentTypeError(f"metadata must be a mapping of str to values, got {type(metadata).__name__}")
    redact = runtime.settings.redact_keys
    attrs: dict[str, Any] = {}
    for key, value in metadata.items():
        name = str(key)
        if redact and name.lower() in redact:
            value = "[REDACTED]"
        attr = semconv.AITHER_METADATA_PREFIX + name
        if isinstance(value, _PRIMITIVES) and not (isinstance(value, float) and not math.isfinite(value)):
            attrs[attr] = value
        else:
            attrs[attr] = dumps(to_jsonable(capture(runtime, value)))
    return attrs


def set_metadata(runtime: Runtime, span: trace.Span, metadata: Mapping[str, Any]) -> None:
    """Set ``aither.metadata.<key>`` attributes on ``span`` (see :func:`metadata_attributes`)."""
    span.set_attributes(metadata_attributes(runtime, metadata))


class AitherSpan(AsyncWithFromSync):
    """A function, tool or event span opened with :func:`aither.span`.

    Threading: use it from the code that opened it. Every setter validates its argument and
    raises on a caller's mistake (a setter called after the block ended raises RuntimeError,
    rather than losing what it was given); nothing here raises for an error of aither's own.

    Example:
        >>> with aither.span("retrieve", kind="tool") as s:   # doctest: +SKIP
        ...     docs = search(query)
        ...     s.set_output(docs)
    """

    def __init__(
        self,
        runtime: Runtime,
        name: str,
        *,
        kind: str = semconv.SPAN_KIND_FUNCTION,
        span_type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        input: Any = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"a span needs a non-empty name, got {name!r}")
        self._runtime = runtime
        self._name = name
        # What the span starts with: its kind and type under the caller's attributes; the
        # setters called before it starts add to these and to the metadata.
        start_attributes: dict[str, Any] = {
            semconv.AITHER_SPAN_KIND: kind,
            semconv.AITHER_SCHEMA_VERSION: semconv.SCHEMA_VERSION,
        }
        if span_type:
            start_attributes[semconv.AITHER_SPAN_TYPE] = span_type
        if attributes:
            start_attributes.update(attributes)
        self._attributes = start_attributes
        self._metadata = metadata
        self._items: dict[str, Any] = {}
        self._ended = False
        if input is not None:
            self.set_input(input)
        self._span: trace.Span | None = None
        self._token: object = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(
        self,
        *,
        attach: bool = True,
        start_time: int | None = None,
        parent: otel_context.Context | None = None,
    ) -> AitherSpan:
        """Start the span (in ``parent``'s trace if given, else the current context's)."""
        span = self._runtime.tracer.start_span(
            self._name, context=parent, attributes=self._attributes, start_time=start_time
        )
        self._span = span
        if self._metadata:
            set_metadata(self._runtime, span, self._metadata)
        if attach:
            self._token = otel_context.attach(trace.set_span_in_context(span))
        return self

    def end(self, exc: BaseException | None = None, *, end_time: int | None = None) -> None:
        span = self._span
        if span is None:
            return
        self._span = None
        self._ended = True
        if self._token is not None:
            try:
                otel_context.detach(self._token)  # type: ignore[arg-type]
            except Exception:
                pass  # detached in another context (a generator closed elsewhere): harmless
            self._token = None
        try:
            if exc is not None:
                record_exception(span, exc)
            if self._items:
                self._attach_items(span)
        except Exception as error:
            self._runtime.internal_error_quiet(error, "ending a span")
        span.end(end_time=end_time)
        set_last(span.get_span_context().trace_id)

    def _attach_items(self, span: trace.Span) -> None:
        """Input and output: small plain values as JSON now (the queued span then holds a
        string, and the export thread has nothing left to encode), others deferred."""
        now: dict[str, str] = {}
        later: list[tuple[str, Any]] = []
        size = 0
        for key, value in self._items.items():
            text = encode_plain(value)
            if text is None:
                later.append((key, value))
                size += 256
            else:
                now[key] = text
                size += len(text)
        if later:
            self._runtime.defer(span, DeferredPayload(later, size, list(now.items())))
        else:
            span.set_attributes(now)
            self._runtime.account(span, size)

    def activate(self) -> object:
        """Make this span current in the calling context; returns the token for ``deactivate``."""
        span = self._span
        return otel_context.attach(trace.set_span_in_context(span)) if span is not None else None

    def deactivate(self, token: object) -> None:
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]

    def __enter__(self) -> AitherSpan:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.end(exc)

    # -- what users set --------------------------------------------------------------------
    @property
    def trace_id(self) -> str | None:
        """The span's trace id (32 hex digits) once started."""
        span = self._span
        return format_trace_id(span.get_span_context().trace_id) if span is not None else None

    @property
    def span_id(self) -> str | None:
        span = self._span
        return f"{span.get_span_context().span_id:016x}" if span is not None else None

    def _check_open(self, what: str) -> None:
        if self._ended:
            # The span is exported already: what is set now would be lost without a word.
            raise RuntimeError(f"span {self._name!r} has ended; call {what}() inside its with block")

    def set_input(self, value: Any) -> None:
        """Record the input (a bounded sample of it, encoded on the export thread)."""
        self._check_open("set_input")
        self._items[semconv.AITHER_INPUT] = capture(self._runtime, value)

    def set_output(self, value: Any) -> None:
        """Record the output (a bounded sample of it, encoded on the export thread)."""
        self._check_open("set_output")
        self._items[semconv.AITHER_OUTPUT] = capture(self._runtime, value)

    def set_cost(self, usd: float) -> None:
        """Record the cost in US dollars; ValueError for a negative or non-finite number."""
        cost = check_cost(usd)
        self._check_open("set_cost")
        if self._span is not None:
            self._span.set_attribute(semconv.AITHER_COST_USD, cost)
        else:
            self._attributes[semconv.AITHER_COST_USD] = cost

    def set_metadata(self, metadata: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        """Add ``aither.metadata.<key>`` attributes, from a mapping and/or keyword arguments."""
        self._check_open("set_metadata")
        merged = {**(metadata or {}), **kwargs}
        if self._span is not None:
            set_metadata(self._runtime, self._span, merged)
        else:
            self._metadata = {**(self._metadata or {}), **merged}

    def set_attribute(self, key: str, value: Any) -> None:
        """Set a raw OpenTelemetry attribute (str, bool, int, float or a list of one of them)."""
        self._check_open("set_attribute")
        if self._span is not None:
            self._span.set_attribute(key, value)
        else:
            self._attributes[key] = value

    @property
    def otel_span(self) -> trace.Span | None:
        """The underlying OpenTelemetry span, while it is open."""
        return self._span


EVENT_STATUSES = ("success", "error")


def event_time(timestamp: object) -> int:
    """An event's time in Unix nanoseconds, from an ISO 8601 string, a ``datetime`` or Unix
    seconds; ValueError naming ``timestamp`` otherwise. A naive time is taken as UTC."""
    import datetime as dt

    if isinstance(timestamp, str):
        try:
            timestamp = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError:
            example = "'2026-01-31T12:00:00Z'"
            raise ConfigError(f"timestamp {timestamp!r} is not ISO 8601 (e.g. {example})") from None
    if isinstance(timestamp, dt.datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=dt.timezone.utc)
        return int(timestamp.timestamp() * 1e9)
    if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool) and math.isfinite(timestamp):
        return int(timestamp * 1e9)
    raise ConfigError(f"timestamp must be an ISO 8601 string, a datetime or Unix seconds, got {timestamp!r}")


def check_latency(latency_ms: object) -> float:
    """A latency in milliseconds as a float >= 0; ValueError naming ``latency_ms`` otherwise."""
    if (
        isinstance(latency_ms, bool)
        or not isinstance(latency_ms, (int, float))
        or not math.isfinite(latency_ms)
        or latency_ms < 0
    ):
        raise ConfigError(f"latency_ms must be a number >= 0, got {latency_ms!r}")
    return float(latency_ms)


def event_status(status: object, error_message: object) -> str:
    """``success`` or ``error`` (the default when ``error_message`` is given); ValueError otherwise."""
    if error_message is not None and (not isinstance(error_message, str) or not error_message):
        raise ConfigError(f"error_message must be a non-empty string, got {error_message!r}")
    if status is None:
        return "error" if error_message is not None else "success"
    if status not in EVENT_STATUSES:
        raise ConfigError(f"status must be 'success' or 'error', got {status!r}")
    if status == "success" and error_message is not None:
        raise ConfigError("error_message was given with status='success'; use status='error'")
    return str(status)


@dataclasses.dataclass(frozen=True, slots=True)
class EventTiming:
    """An event's checked cost, times and outcome (:func:`check_event`)."""

    attributes: dict[str, Any] | None
    """``aither.cost.usd`` when a cost was given."""
    start_ns: int
    end_ns: int
    error: str | None
    """The span status's description when the event failed; None: it succeeded."""


def check_event(
    cost: object, latency_ms: object, status: object, error_message: object, timestamp: object
) -> EventTiming:
    """An event's fields checked (ValueError naming a malformed one, cost, latency, time, then
    status): the span ends at ``timestamp`` (default: now) and starts ``latency_ms`` before it."""
    attributes = {semconv.AITHER_COST_USD: check_cost(cost)} if cost is not None else None
    latency_ns = int(check_latency(latency_ms) * 1_000_000) if latency_ms is not None else 0
    end = event_time(timestamp) if timestamp is not None else time.time_ns()
    failed = event_status(status, error_message) == "error"
    return EventTiming(
        attributes, end - latency_ns, end, str(error_message or "error")[:500] if failed else None
    )


def log_event(
    runtime: Runtime,
    name: str,
    timing: EventTiming,
    *,
    input: Any,
    output: Any,
    metadata: Mapping[str, Any] | None,
    event_type: str | None,
) -> int:
    """Emit one finished event span (a step of an agent, a tool call made elsewhere), timed by
    ``timing``; a failed event has span status ERROR with its description."""
    handle = AitherSpan(
        runtime,
        name,
        kind=semconv.SPAN_KIND_EVENT,
        span_type=event_type,
        metadata=metadata,
        input=input,
        attributes=timing.attributes,
    )
    if output is not None:
        handle.set_output(output)
    handle.start(attach=False, start_time=timing.start_ns)
    span = handle.otel_span
    trace_id = span.get_span_context().trace_id if span is not None else 0
    if span is not None and timing.error is not None:
        span.set_status(Status(StatusCode.ERROR, timing.error))
    handle.end(end_time=timing.end_ns)
    return trace_id
