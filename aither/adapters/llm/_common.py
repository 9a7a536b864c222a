"""What every LLM adapter shares: the LLM span, its stream proxies, cost, PII, injection, content.

An adapter (``openai.py``, ``anthropic.py``, ``gemini.py``) knows its SDK's wire format: how
to read a request and a response; ``_hooks.py`` hooks the client instance and runs the hooks
from the adapter's provider description. The span itself lives here, so the providers record
the same span the same way:

- :class:`LLMCall` is one LLM span. It starts with the request's attributes, records the
  response (model, id, finish reasons, usage, output text), an error, and ends **exactly
  once**, computing cost, PII counts and the opt-in content on the way.
- :meth:`LLMCall.wrap_stream` (``is_async=True`` for an async one) puts a stream in a proxy
  that hands every chunk through unchanged (or keeps back one aither asked for), measures the
  time to the first chunk, counts chunks, and ends the span on exhaustion, ``close()``, a
  ``with`` exit, an error from the stream, or garbage collection, whichever comes first.
  What the chunks say is accumulated by a provider's :class:`StreamRecorder`.
- :func:`hook` sets an instance attribute that shadows a method of a client's class, and
  returns the function that restores it: only that instance is instrumented.

The parts live in ``_text.py`` (the bounds, captured content, masking), ``_findings.py``
(the scans and the price, computed on the export thread) and ``_streams.py`` (the stream
proxies); this module re-exports what adapters use, so an adapter imports only ``_common``.

Threading and failure: everything runs on the caller's thread except content encoding, PII
masking, the PII and injection scans and pricing, which run on the export thread
(:class:`~aither.export.pipeline.DeferredPayload`).
No method of :class:`LLMCall` raises because of aither: each catches its own errors and
counts them with ``runtime.internal_error`` (which re-raises only when the client was made
with ``raise_internal_errors=True``, as in tests). The caller's results and exceptions pass
through untouched.

Bounds (documented in ``docs/llm.md``):

- :data:`SCAN_MAX_CHARS`: PII and injection scanning reads at most this many characters of
  the prompt, and as many of the completion. The caller's thread only keeps references to
  those strings; the scans (and the price lookup) run on the export thread, when the span is
  exported: they flag, never block, so the caller need not wait for them.
- :data:`CONTENT_MAX_CHARS`: captured content keeps at most this many characters of text
  per attribute (``gen_ai.input.messages``, ``gen_ai.output.messages``,
  ``gen_ai.system_instructions``); past it, text is cut and ``aither.llm.content.truncated``
  is set.

Example: what a hooked request method does with an ``LLMCall`` (``_hooks.sync_hook`` does
this for every provider; the async one awaits ``ainvoke``)::

    from aither.schema import semconv
    from aither.adapters.llm import _common

    def make_hook(original, context: WrapContext):
        def request(*args, **kwargs):
            runtime = context.get_runtime()
            if runtime is None:
                return original(*args, **kwargs)          # aither off: pure pass-through
            call = _common.LLMCall.start(
                runtime,
                operation=semconv.GEN_AI_OPERATION_CHAT,
                provider="openai",
                request_model=body.get("model"),
                attributes={semconv.GEN_AI_REQUEST_TEMPERATURE: 0.2},
                client_name=context.name,
                stream=False,
                input_texts=["What is 2+2?"],             # scanned for PII and injection
                system_texts=["You are terse."],          # scanned for PII only
                input_messages=lambda budget: [           # built only when content is captured
                    {"role": "user", "parts": [{"type": "text", "content": budget.text("What is 2+2?")}]}
                ],
            )
            if call is None:                              # could not start: pass through
                return original(*args, **kwargs)
            result = call.invoke(original, *args, **kwargs)   # span current; errors recorded, re-raised
            call.record_response(response_model=result.model, response_id=result.id, finish_reasons=["stop"])
            call.record_usage(input_tokens=12, output_tokens=3, cache_read_tokens=0)
            call.record_output(texts=["4"], messages=lambda budget: [...])
            call.end()
            return result

        return request

    undo = _common.hook(client, "request", make_hook(client.request, context))
    client._aither_uninstrument = undo                    # aither.unwrap(client) calls it

A stream instead of a response: give the stream to the call with a recorder, and return
the proxy (the span ends when the stream does)::

    class ChunkRecorder(_common.StreamRecorder):
        def on_chunk(self, chunk) -> bool:
            self.text.append(chunk.delta)                 # bounded by the recorder
            return True                                   # False: keep this chunk from the caller

        def finish(self, call: _common.LLMCall) -> None:
            call.record_response(response_model=..., finish_reasons=[...])
            call.record_usage(input_tokens=..., output_tokens=...)

    return call.wrap_stream(result, ChunkRecorder())      # is_async=True for async ones

On an error, ``invoke`` already recorded it and ended the span; for an error found later
(parsing a response), ``call.fail(exc)`` records and ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from ...schema import semconv
from ...tracing.context import set_last
from ...tracing.predictions import record_exception
from ._findings import Findings, LLMPayload
from ._streams import (
    STREAM_CLOSED,
    STREAM_COMPLETED,
    STREAM_ERROR,
    STREAM_GC,
    AsyncStreamProxy,
    StreamProxy,
    StreamRecorder,
)
from ._text import (
    CONTENT_MAX_CHARS,
    MASK_PII_ENV,
    SCAN_MAX_CHARS,
    Content,
    MessagesBuilder,
    TextAccumulator,
    TextBudget,
    collect_texts,
    mask_pii_enabled,
)

if TYPE_CHECKING:
    from ..._runtime import Runtime

__all__ = [
    "CONTENT_MAX_CHARS",
    "MASK_PII_ENV",
    "SCAN_MAX_CHARS",
    "STREAM_CLOSED",
    "STREAM_COMPLETED",
    "STREAM_ERROR",
    "STREAM_GC",
    "AsyncStreamProxy",
    "LLMCall",
    "MessagesBuilder",
    "StreamProxy",
    "StreamRecorder",
    "TextAccumulator",
    "TextBudget",
    "as_int",
    "collect_texts",
    "field",
    "hook",
    "mask_pii_enabled",
]

T = TypeVar("T")


# -- hooking a client instance --------------------------------------------------------------------


def hook(obj: Any, name: str, replacement: Callable[..., Any]) -> Callable[[], None]:
    """Shadow ``obj.<name>`` with ``replacement`` on this instance only; returns the undo.

    The undo removes the instance attribute (so the class's method shows through again), or
    puts back an instance attribute that was there before. Calling it twice is harmless.
    """
    had_own = name in getattr(obj, "__dict__", {})
    previous = obj.__dict__[name] if had_own else None
    setattr(obj, name, replacement)

    def undo() -> None:
        current = obj.__dict__.get(name)
        if current is not replacement:
            return  # already undone, or replaced by someone else since: leave it
        if had_own:
            setattr(obj, name, previous)
        else:
            delattr(obj, name)

    return undo


# -- the LLM span ------------------------------------------------------------------------------------


class LLMCall:
    """One LLM span: request attributes in, response, usage, output and errors recorded, ended once.

    Build it with :meth:`start`. Threading: used from the caller's thread (a stream's span
    may end on the thread that collects the stream). Nothing here raises for aither's own
    errors (see the module docstring).
    """

    __slots__ = (
        "_cost_given",
        "_end_lock",
        "_input_messages",
        "_input_texts",
        "_late",
        "_output_messages",
        "_output_texts",
        "_pending",
        "_system_instructions",
        "_system_texts",
        "_usage",
        "capture",
        "error_status",
        "provider",
        "request_model",
        "response_model",
        "runtime",
        "span",
        "start_ns",
        "stream_attributes",
    )

    def __init__(self, runtime: Runtime, span: trace.Span, provider: str, request_model: str | None) -> None:
        self.runtime = runtime
        self.span = span
        self.provider = provider
        self.request_model = request_model
        self.response_model: str | None = None
        self.capture = runtime.settings.capture_content
        self.start_ns = time.monotonic_ns()
        self._end_lock = threading.Lock()
        self._usage: dict[str, int] | None = None
        self._pending: dict[str, Any] = {}
        self._input_messages: Any = None
        self._system_instructions: Any = None
        self._output_messages: Any = None
        self._output_texts: list[str] | None = None
        self._input_texts: list[str] = []
        self._system_texts: list[str] = []
        self.stream_attributes: dict[str, Any] | None = None
        self._cost_given = False
        self._late: Callable[[], None] | None = None
        self.error_status: Callable[[BaseException], int | None] | None = None
        """The HTTP status (400 or more) the provider reads from an exception the call raised,
        recorded as ``http.response.status_code`` before the error ends the span; None: none."""

    # -- start ------------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        runtime: Runtime,
        *,
        operation: str,
        provider: str,
        request_model: str | None,
        attributes: Mapping[str, Any] | None = None,
        client_name: str | None = None,
        stream: bool = False,
        input_texts: Sequence[str] = (),
        system_texts: Sequence[str] = (),
        input_messages: MessagesBuilder | None = None,
        system_instructions: MessagesBuilder | None = None,
        start_time: int | None = None,
        parent: otel_context.Context | None = None,
    ) -> LLMCall | None:
        """Start the span ``"{operation} {request_model}"`` (kind CLIENT) in the caller's context.

        Args:
            operation: ``gen_ai.operation.name`` (``semconv.GEN_AI_OPERATION_*``).
            provider: ``gen_ai.provider.name`` (``openai``, ``anthropic``, ``gcp.gemini``).
            request_model: ``gen_ai.request.model``.
            attributes: more request attributes (``gen_ai.request.*``, ``server.*``...);
                None values are skipped.
            client_name: the ``name`` given to ``aither.wrap``.
            stream: ``gen_ai.request.stream``.
            input_texts: the prompt's user and tool text, most relevant first; PII and
                injection are scanned over at most :data:`SCAN_MAX_CHARS` of it.
            system_texts: the system prompt; scanned for PII, not for injection.
            input_messages / system_instructions: builders of the captured content, called
                only when content capture is on.
            start_time / parent: for a call recorded after the fact (``aither.log_llm_call``):
                when it started (ns since the epoch) and the context of its parent span.

        Returns None (after counting the error) when the span could not be started; the
        adapter then calls the SDK untraced.
        """
        try:
            # Only what a sampler or a reader of the live span may need is set at the start;
            # the rest waits in ``_pending`` and reaches the span on the export thread (see
            # :meth:`end`), which spares the caller the SDK's per-attribute checks and lock.
            attrs: dict[str, Any] = {
                semconv.AITHER_SPAN_KIND: semconv.SPAN_KIND_LLM,
                semconv.AITHER_SCHEMA_VERSION: semconv.SCHEMA_VERSION,
                semconv.GEN_AI_OPERATION_NAME: operation,
            }
            if provider:  # a recorded call may not say; its model alone is then priced
                attrs[semconv.GEN_AI_PROVIDER_NAME] = provider
            if request_model:
                attrs[semconv.GEN_AI_REQUEST_MODEL] = request_model
            name = f"{operation} {request_model}" if request_model else operation
            span = runtime.tracer.start_light_span(name, parent, SpanKind.CLIENT, attrs, start_time)
        except Exception as exc:
            runtime.internal_error(exc, "starting an LLM span")
            return None
        call = cls(runtime, span, provider, request_model)
        pending = call._pending
        try:
            if stream:
                pending[semconv.GEN_AI_REQUEST_STREAM] = True
            if client_name:
                pending[semconv.AITHER_LLM_CLIENT_NAME] = client_name
            if attributes:
                for key, value in attributes.items():
                    if value is not None:
                        pending[key] = value
            # Only references to the (immutable) strings are kept here; the scans run on the
            # export thread.
            call._input_texts = collect_texts(input_texts)
            call._system_texts = collect_texts(system_texts)
            if call.capture:
                call._capture_input(input_messages, system_instructions)
        except Exception as exc:
            runtime.internal_error(exc, "reading an LLM request")
        return call

    def _capture_input(
        self, input_messages: MessagesBuilder | None, system_instructions: MessagesBuilder | None
    ) -> None:
        budget = TextBudget()
        if input_messages is not None:
            self._input_messages = input_messages(budget)
        if system_instructions is not None:
            self._system_instructions = system_instructions(TextBudget())
        if budget.truncated:
            self._pending[semconv.AITHER_LLM_CONTENT_TRUNCATED] = True

    # -- running the SDK's call in the span ---------------------------------------------------
    def invoke(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` with the span current; an exception is recorded, the span
        ended, and the exception re-raised unchanged."""
        token = otel_context.attach(trace.set_span_in_context(self.span))
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            self._fail_call(exc)
            raise
        finally:
            otel_context.detach(token)

    async def ainvoke(self, fn: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """The async twin of :meth:`invoke`: awaits ``fn(*args, **kwargs)``."""
        token = otel_context.attach(trace.set_span_in_context(self.span))
        try:
            return await fn(*args, **kwargs)
        except BaseException as exc:
            self._fail_call(exc)
            raise
        finally:
            otel_context.detach(token)

    # -- what the response says ---------------------------------------------------------------
    def set_attribute(self, key: str, value: Any) -> None:
        """Set one span attribute (None is skipped)."""
        if value is not None:
            self._pending[key] = value

    def record_response(
        self,
        *,
        response_model: str | None = None,
        response_id: str | None = None,
        finish_reasons: Sequence[str] | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        """``gen_ai.response.model``, ``.id``, ``.finish_reasons`` and any other attributes."""
        # Kept until the span ends, then set in one call (one lock, not one per attribute).
        pending = self._pending
        try:
            if response_model:
                self.response_model = response_model
                pending[semconv.GEN_AI_RESPONSE_MODEL] = response_model
            if response_id:
                pending[semconv.GEN_AI_RESPONSE_ID] = response_id
            if finish_reasons:
                pending[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [str(r) for r in finish_reasons]
            if attributes:
                for key, value in attributes.items():
                    if value is not None:
                        pending[key] = value
        except Exception as exc:
            self.runtime.internal_error_quiet(exc, "recording an LLM response")

    def record_usage(
        self,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
    ) -> None:
        """Token usage, in the totals' sense of the GenAI conventions: ``input_tokens`` includes
        cached ones, ``output_tokens`` reasoning ones. Priced when the span ends."""
        usage = {
            semconv.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
            semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: cache_read_tokens,
            semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: cache_write_tokens,
            semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: reasoning_tokens,
        }
        kept = {k: int(v) for k, v in usage.items() if isinstance(v, int) and not isinstance(v, bool)}
        if self._usage is None:
            self._usage = kept
        else:
            self._usage.update(kept)

    def record_cost(self, usd: float) -> None:
        """A cost the caller knows (``aither.cost.source`` = ``caller``): the price table is not asked."""
        self._cost_given = True
        self._pending[semconv.AITHER_COST_USD] = usd
        self._pending[semconv.AITHER_COST_SOURCE] = semconv.COST_SOURCE_CALLER

    def record_output(
        self, *, texts: Iterable[str | None] = (), messages: MessagesBuilder | None = None
    ) -> None:
        """The completion's text (scanned for PII at the end) and its captured messages."""
        try:
            self._output_texts = collect_texts(texts)
            if self.capture and messages is not None:
                budget = TextBudget()
                self._output_messages = messages(budget)
                if budget.truncated:
                    self._pending[semconv.AITHER_LLM_CONTENT_TRUNCATED] = True
        except Exception as exc:
            self.runtime.internal_error_quiet(exc, "reading an LLM response")

    def record_later(self, reader: Callable[[], None]) -> None:
        """Run ``reader`` (which records the response on this call) on the export thread, when
        the span is encoded, instead of now; at once when content is captured (the content is
        cut and masked when the span ends). The reader keeps references to the response
        object: a caller that changes that object before the span is exported changes what is
        recorded (the SDKs' responses are not changed by their users in practice)."""
        if self.capture:
            reader()
        else:
            self._late = reader

    def _read_late(self, findings: Findings, attributes: dict[str, Any]) -> None:
        """On the export thread: run the late reader, then complete the span's attributes and
        the findings with what it recorded."""
        reader = self._late
        if reader is None:
            return
        self._late = None
        try:
            reader()
        except Exception as exc:
            self.runtime.internal_error_quiet(exc, "reading an LLM response")
        if self._usage:
            attributes.update(self._usage)
        findings.model = self.response_model or self.request_model
        findings.usage = self._usage
        findings.output_texts = self._output_texts
        findings.wants_price = not self._cost_given

    def record_error(self, exc: BaseException) -> None:
        """ERROR status, an ``exception`` event, ``error.type`` and the HTTP status if the
        exception carries one (``status_code``, 400 and above)."""
        span = self.span
        try:
            record_exception(span, exc)
            span.set_attribute(semconv.ERROR_TYPE, type(exc).__name__)
            status = getattr(exc, "status_code", None)
            # an error event inside a 200 stream carries the stream's 200: not an HTTP error
            if isinstance(status, int) and not isinstance(status, bool) and status >= 400:
                span.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, status)
        except Exception as error:
            self.runtime.internal_error_quiet(error, "recording an LLM error")

    # -- the end ------------------------------------------------------------------------------------
    @property
    def ended(self) -> bool:
        return self._end_lock.locked()

    def _fail_call(self, exc: BaseException) -> None:
        """The call raised ``exc``: its HTTP status (:attr:`error_status`), then :meth:`fail`."""
        if self.error_status is not None:
            try:
                self.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, self.error_status(exc))
            except Exception as error:
                self.runtime.internal_error_quiet(error, "reading an LLM error")
        self.fail(exc)

    def fail(self, exc: BaseException, stream_end: str | None = None) -> None:
        """Record ``exc`` and end the span (a no-op if it already ended)."""
        if self.ended:
            return
        self.record_error(exc)
        self.end(stream_end)

    def end(self, stream_end: str | None = None, *, end_time: int | None = None) -> None:
        """Record the usage, hand the scans, the price and the content to the export thread,
        end the span (at ``end_time``, ns since the epoch, if given; else now). Exactly once:
        later calls, from any thread, do nothing."""
        if not self._end_lock.acquire(blocking=False):
            return
        span = self.span
        try:
            pending = self._pending
            if stream_end is not None:
                pending[semconv.AITHER_LLM_STREAM_END] = stream_end
            if self.stream_attributes:
                pending.update(self.stream_attributes)
            if self._usage:
                pending.update(self._usage)
            self._defer(pending)
        except Exception as exc:
            self.runtime.internal_error_quiet(exc, "ending an LLM span")
        finally:
            span.end(end_time=end_time)
            try:
                set_last(span.get_span_context().trace_id)
            except Exception:
                pass

    def _defer(self, attributes: dict[str, Any]) -> None:
        items: list[tuple[str, Any]] = []
        size = 0
        if self.capture:
            mask = mask_pii_enabled(self.runtime)
            for key, value in (
                (semconv.GEN_AI_SYSTEM_INSTRUCTIONS, self._system_instructions),
                (semconv.GEN_AI_INPUT_MESSAGES, self._input_messages),
                (semconv.GEN_AI_OUTPUT_MESSAGES, self._output_messages),
            ):
                if value is not None:
                    items.append((key, Content(value, mask)))
                    size += CONTENT_MAX_CHARS // 4
            if items and mask:
                attributes[semconv.AITHER_PII_MASKED] = True
        findings = Findings(
            self.runtime,
            self.provider,
            self.response_model or self.request_model,
            self._usage,
            self._input_texts,
            self._system_texts,
            self._output_texts,
            price=not self._cost_given,
        )
        # Each deferred attribute is accounted as the processor accounts one set on the span.
        size += 96 * len(attributes) + findings.approx_bytes()
        late = self._read_late if self._late is not None else None
        self.runtime.defer(self.span, LLMPayload(items, size, findings, attributes, late))

    # -- streams --------------------------------------------------------------------------------------
    def wrap_stream(self, stream: Any, recorder: StreamRecorder, *, is_async: bool = False) -> Any:
        """A proxy of a stream (an SDK ``Stream`` or any iterator; with ``is_async``, an
        ``AsyncStream`` or any async iterator) that records into this span; the span ends with
        the stream. See :class:`StreamProxy`."""
        try:
            return (AsyncStreamProxy if is_async else StreamProxy)(stream, self, recorder)
        except Exception as exc:
            self.runtime.internal_error_quiet(exc, "wrapping an LLM stream")
            self.end()
            return stream


_MISSING: Any = object()


def field(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` for SDK objects, ``obj[name]`` for dicts (raw JSON); ``default`` if absent."""
    if type(obj) is dict:  # the common case first: an ABC check costs more than the lookup
        return obj.get(name, default)
    value = getattr(obj, name, _MISSING)
    if value is not _MISSING:
        return value
    return obj.get(name, default) if isinstance(obj, Mapping) else default


def as_int(value: Any) -> int | None:
    """An int token count, or None (for absent, bool, or anything else)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
