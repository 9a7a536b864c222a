"""LLM calls made by clients aither does not wrap: ``aither.log_llm_call(...)`` and :class:`LLMCall`.

A Cohere client, a local vLLM, a home-made gateway: the caller says what happened, and aither
records the same GenAI span a wrapped client makes (``gen_ai.*``, ``aither.span.kind`` =
``llm``), through the same code (:class:`aither.adapters.llm._common.LLMCall`): the cost from
the price table when ``cost_usd`` is not given, PII counts and the prompt-injection score,
the prompt and the response as content only with ``capture_content``.
"""

from __future__ import annotations

import base64
import math
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags

from ..exceptions import ArgumentTypeError, ConfigError
from ..schema import semconv
from .context import format_trace_id
from .labels import parse_trace_id
from .spans import check_cost, check_latency, event_time, metadata_attributes

if TYPE_CHECKING:
    from .._client import Client
    from .._runtime import Runtime

MAX_EMBEDDING_DIMENSIONS = 8192
"""The longest embedding recorded (float32: 32 KiB, 44 KiB as base64); the server's drift reads
no longer ones (``aither.server.drift.embeddings.MAX_DIMENSIONS``)."""

_SPAN_ID = re.compile(r"[0-9a-f]{16}")


@dataclass
class LLMCall:
    """One LLM call made elsewhere, built up field by field, then sent.

    Every field but ``model`` is optional. ``send()`` validates (a ``ValueError`` names the
    field) and records it with the default client (or ``client``); it returns the trace id.

    Attributes:
        model: the model called (``gen_ai.request.model``), e.g. ``"command-r"``.
        service: the service that made the call (``service.name`` on the span), when it is not
            the client's own ``service_name``.
        provider: ``gen_ai.provider.name`` (``openai``, ``cohere``...); when omitted, the price
            table looks the model up among every provider's.
        prompt / response: the texts; scanned for PII and injection, and recorded as content
            only with ``capture_content``.
        latency_ms: how long the call took; the span starts that long before it ends.
        prompt_tokens / completion_tokens: ``gen_ai.usage.input_tokens`` / ``output_tokens``.
        cost_usd: the cost, if known (``aither.cost.source`` = ``caller``); else priced from
            the token counts.
        finish_reason: ``gen_ai.response.finish_reasons``.
        errors: the errors the call met; any makes the span's status ERROR.
        metadata: ``aither.metadata.*``.
        user_id / session_id: ``enduser.id`` / ``session.id`` (over ``aither.context``'s).
        trace_id / span_id: the parent span (32 and 16 hex digits), e.g. of your own
            OpenTelemetry span; default: the span current in the caller's context.
        timestamp: when the call ended (ISO 8601, a ``datetime`` or Unix seconds); default now.
        prompt_embedding / response_embedding: vectors of numbers, recorded as base64 of
            their float32 little-endian bytes (``aither.embedding.prompt`` / ``.response``, which the
            server's embedding drift reads), only when given.

    Example:
        >>> call = aither.LLMCall(model="command-r", prompt="Hi", response="Hello!")  # doctest: +SKIP
        >>> call.prompt_tokens, call.completion_tokens = 2, 3                           # doctest: +SKIP
        >>> trace_id = call.send()                                                      # doctest: +SKIP
    """

    model: str
    service: str | None = None
    provider: str | None = None
    prompt: str | None = None
    response: str | None = None
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    finish_reason: str | None = None
    errors: Sequence[str] = field(default_factory=list)
    metadata: Mapping[str, Any] | None = None
    user_id: str | None = None
    session_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    timestamp: Any = None
    prompt_embedding: Sequence[float] | None = None
    response_embedding: Sequence[float] | None = None

    def send(self, client: Client | None = None) -> str | None:
        """Validate and record this call; returns its trace id (None when aither is disabled).

        Raises:
            ValueError: a field is malformed; the message names it.
        """
        if client is None:
            client = _default_client()
        return client.log_llm_call(self)


def _default_client() -> Client:
    # The client module registers its default-client lookup here when it is imported, so this
    # module (which the client imports) never imports the client back.
    if _DEFAULT_CLIENT is None:  # pragma: no cover - aither/__init__ always imports the client
        raise RuntimeError("aither's client module is not loaded")
    return _DEFAULT_CLIENT()


_DEFAULT_CLIENT: Callable[[], Client] | None = None


def register_default_client(lookup: Callable[[], Client]) -> None:
    """Called once by ``aither._client``: how ``LLMCall.send()`` finds the default client."""
    global _DEFAULT_CLIENT
    _DEFAULT_CLIENT = lookup


def _text(label: str, value: object, *, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or (not optional and not value.strip()):
        raise ConfigError(f"{label} must be a {'non-empty ' if not optional else ''}string, got {value!r}")
    return value


def _tokens(label: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{label} must be an int >= 0, got {value!r}")
    return value


def encode_embedding(label: str, vector: object) -> str:
    """Base64 of the float32 little-endian values of ``vector``; ValueError naming ``label``."""
    if isinstance(vector, (str, bytes)) or not hasattr(vector, "__len__") or not hasattr(vector, "__iter__"):
        raise ConfigError(f"{label} must be a sequence of numbers, got {type(vector).__name__}")
    n = len(vector)
    if n == 0 or n > MAX_EMBEDDING_DIMENSIONS:
        raise ConfigError(f"{label} must have 1 to {MAX_EMBEDDING_DIMENSIONS} values, got {n}")
    try:
        values = [float(v) for v in vector]
    except (TypeError, ValueError):
        raise ConfigError(f"{label} must hold numbers only") from None
    if not all(math.isfinite(v) for v in values):
        raise ConfigError(f"{label} holds NaN or an infinity")
    return base64.b64encode(struct.pack(f"<{n}f", *values)).decode("ascii")


def captured_embedding(value: object) -> str | None:
    """An embedding from a provider's response as :func:`encode_embedding` writes it, or None.

    ``value`` is a list of numbers, or base64 of float32 little-endian values (what OpenAI sends
    for ``encoding_format="base64"``, kept as it is). None for anything else, an empty vector,
    one longer than :data:`MAX_EMBEDDING_DIMENSIONS`, or one holding NaN or an infinity: a
    vector the server could not read is not worth the span's bytes.
    """
    if isinstance(value, str):
        if len(value) > (MAX_EMBEDDING_DIMENSIONS * 4 + 2) // 3 * 4:
            return None
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError:  # binascii.Error is a ValueError
            return None
        if not raw or len(raw) % 4:
            return None
        if not all(math.isfinite(v) for v in struct.unpack(f"<{len(raw) // 4}f", raw)):
            return None
        return value
    try:
        return encode_embedding("embedding", value)
    except ValueError:
        return None


def decode_embedding(text: str) -> list[float]:
    """The values of an embedding attribute (float32, so about 7 significant digits)."""
    raw = base64.b64decode(text)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


def _parent(trace_id: object, span_id: object) -> Any:
    """The context of the parent span named by ``trace_id`` and ``span_id`` (both or neither)."""
    if trace_id is None and span_id is None:
        return None
    if trace_id is None or span_id is None:
        raise ConfigError("trace_id and span_id name the parent span together: give both, or neither")
    trace_value = parse_trace_id(trace_id)
    text = span_id.strip().lower() if isinstance(span_id, str) else None
    if text is None or not _SPAN_ID.fullmatch(text) or int(text, 16) == 0:
        raise ConfigError(f"span_id must be 16 hexadecimal digits (not all zero), got {span_id!r}")
    parent = SpanContext(
        trace_value, int(text, 16), is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED)
    )
    return trace.set_span_in_context(NonRecordingSpan(parent))


@dataclass(frozen=True)
class _Checked:
    """What :func:`check` made of an :class:`LLMCall`: every field valid, converted once."""

    call: LLMCall
    errors: list[str]
    end_ns: int | None
    latency_ms: float | None
    cost: float | None
    parent: Any
    attributes: dict[str, Any]


def check(call: LLMCall) -> _Checked:
    """Validate every field of ``call``; ValueError (or TypeError for metadata) naming the bad one."""
    if not isinstance(call, LLMCall):
        raise ArgumentTypeError(
            f"log_llm_call takes keyword fields or an aither.LLMCall, got {type(call).__name__}"
        )
    _text("model", call.model, optional=False)
    for label in ("service", "provider", "prompt", "response", "finish_reason", "user_id", "session_id"):
        _text(label, getattr(call, label))
    for label in ("service", "user_id", "session_id"):
        value = getattr(call, label)
        if value is not None and not value.strip():
            raise ConfigError(f"{label} must be a non-empty string, got {value!r}")
    _tokens("prompt_tokens", call.prompt_tokens)
    _tokens("completion_tokens", call.completion_tokens)
    errors = call.errors
    if (
        isinstance(errors, str)
        or not isinstance(errors, Sequence)
        or not all(isinstance(e, str) for e in errors)
    ):
        raise ConfigError(f"errors must be a list of strings, got {errors!r}")
    if call.metadata is not None and not isinstance(call.metadata, Mapping):
        raise ArgumentTypeError(
            f"metadata must be a mapping of str to values, got {type(call.metadata).__name__}"
        )
    attributes: dict[str, Any] = {semconv.AITHER_LLM_RECORDED: True}
    if call.service:
        attributes[semconv.SERVICE_NAME] = call.service
    if call.user_id:
        attributes[semconv.ENDUSER_ID] = call.user_id
    if call.session_id:
        attributes[semconv.SESSION_ID] = call.session_id
    for label, key, vector in (
        ("prompt_embedding", semconv.AITHER_EMBEDDING_PROMPT, call.prompt_embedding),
        ("response_embedding", semconv.AITHER_EMBEDDING_RESPONSE, call.response_embedding),
    ):
        if vector is not None:
            attributes[key] = encode_embedding(label, vector)
    return _Checked(
        call=call,
        errors=list(errors),
        end_ns=event_time(call.timestamp) if call.timestamp is not None else None,
        latency_ms=check_latency(call.latency_ms) if call.latency_ms is not None else None,
        cost=check_cost(call.cost_usd) if call.cost_usd is not None else None,
        parent=_parent(call.trace_id, call.span_id),
        attributes=attributes,
    )


def record(runtime: Runtime, checked: _Checked) -> str | None:
    """Emit the GenAI span of a checked call; returns its trace id (None if it could not start)."""
    import time

    from ..adapters.llm._common import LLMCall as LLMSpan

    call = checked.call
    end = checked.end_ns if checked.end_ns is not None else time.time_ns()
    start = end - int(checked.latency_ms * 1_000_000) if checked.latency_ms is not None else end
    prompt, response = call.prompt, call.response
    attributes = dict(checked.attributes)
    if call.metadata:
        attributes.update(metadata_attributes(runtime, call.metadata))
    span = LLMSpan.start(
        runtime,
        operation=semconv.GEN_AI_OPERATION_CHAT,
        provider=call.provider or "",
        request_model=call.model,
        attributes=attributes,
        input_texts=[prompt] if prompt else (),
        input_messages=(
            (lambda budget: [{"role": "user", "parts": [{"type": "text", "content": budget.text(prompt)}]}])
            if prompt
            else None
        ),
        start_time=start,
        parent=checked.parent,
    )
    if span is None:
        return None
    reasons = [call.finish_reason] if call.finish_reason else None
    span.record_response(finish_reasons=reasons)
    span.record_usage(input_tokens=call.prompt_tokens, output_tokens=call.completion_tokens)
    if checked.cost is not None:
        span.record_cost(checked.cost)
    if response is not None:
        message: dict[str, Any] = {"role": "assistant"}
        if call.finish_reason:
            message["finish_reason"] = call.finish_reason
        span.record_output(
            texts=[response],
            messages=lambda budget: [
                {**message, "parts": [{"type": "text", "content": budget.text(response)}]}
            ],
        )
    if checked.errors:
        span.set_attribute(semconv.AITHER_LLM_ERRORS, [e[:1000] for e in checked.errors[:32]])
        span.span.set_status(Status(StatusCode.ERROR, "; ".join(checked.errors)[:500]))
    trace_id = span.span.get_span_context().trace_id
    span.end(end_time=end)
    return format_trace_id(trace_id)
