"""Anthropic: ``aither.wrap(anthropic.Anthropic())`` traces every Messages API call.

The official SDK binds the client inside its resource objects at construction
(``client.messages._post`` is the client's bound ``post``), and every call ends in the
client's ``request`` method; that method is hooked on the client instance, so
``messages.create``, ``create(stream=True)``, the ``messages.stream(...)`` helper and the
``with_raw_response`` variants all pass through it, sync and async. ``copy()`` /
``with_options()`` give a client that is instrumented too. ``aither.unwrap(client)`` removes
the hooks.

Only ``POST /v1/messages`` (and the beta ``/v1/messages?beta=true``) makes a span; every
other request passes straight through.

Usage follows the GenAI conventions' totals: ``gen_ai.usage.input_tokens`` is Anthropic's
``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``, the cache counts
are also set apart; a stream's usage is ``message_start``'s, updated by ``message_delta``'s
cumulative counts. Finish reasons are Anthropic's ``stop_reason`` as sent (``end_turn``,
``max_tokens``, ``stop_sequence``, ``tool_use``...).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...schema import providers, semconv
from ..base import Adapter, WrapContext
from . import _common, _hooks
from ._common import LLMCall, StreamRecorder, TextBudget, as_int, field
from ._hooks import is_int, is_number, stop_sequences

if TYPE_CHECKING:
    from ..._runtime import Runtime

_PROVIDERS_BY_CLASS = (
    ("Bedrock", providers.AWS_BEDROCK),
    ("Vertex", providers.GCP_VERTEX_AI),
    ("Foundry", providers.AZURE_AI_INFERENCE),
)
"""Anthropic's SDK also speaks to Claude on other clouds; their clients' class names say which."""

MESSAGES_PATH = "/v1/messages"
_REQUEST_PARAMETERS = frozenset({"max_tokens", "temperature", "top_p", "top_k", "stop_sequences"})


def provider_of(client: Any) -> str:
    name = type(client).__name__
    for marker, provider in _PROVIDERS_BY_CLASS:
        if marker in name:
            return provider
    return providers.ANTHROPIC


# -- the request ---------------------------------------------------------------------------------


def request_attributes(body: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``gen_ai.request.*`` of a Messages request body and its ``extra_body`` (where this SDK
    takes ``temperature``, ``top_p`` and ``top_k``); unset parameters are the SDK's ``omit``
    sentinel, which no check below accepts. O(1)."""
    if extra:
        body = {**body, **{k: v for k, v in extra.items() if k in _REQUEST_PARAMETERS}}
    found: dict[str, Any] = {}
    max_tokens = body.get("max_tokens")
    if is_int(max_tokens):
        found[semconv.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    for key, name in (
        ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
        ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ):
        value = body.get(key)
        if is_number(value):
            found[name] = float(value)
    top_k = body.get("top_k")
    if is_number(top_k):
        found[semconv.GEN_AI_REQUEST_TOP_K] = int(top_k)
    stop = stop_sequences(body.get("stop_sequences"))
    if stop:
        found[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = stop
    return found


def _block_texts(block: Any) -> Iterator[str]:
    """The text a content block carries (text, tool results), for the scanners."""
    if isinstance(block, str):
        yield block
        return
    kind = field(block, "type")
    if kind == "text":
        text = field(block, "text")
        if isinstance(text, str):
            yield text
    elif kind == "tool_result":
        content = field(block, "content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, (list, tuple)):
            for inner in content:
                yield from _block_texts(inner)


def input_texts(body: Mapping[str, Any]) -> list[str]:
    """The user's and tools' text, latest message first, up to the scan limit (a long
    conversation costs what its last messages hold, never its whole length)."""
    messages = body.get("messages")
    if not isinstance(messages, (list, tuple)):
        return []  # an iterator the SDK has yet to read is never consumed here
    found: list[str] = []
    left = _common.SCAN_MAX_CHARS
    for message in reversed(messages):
        if field(message, "role") != "user":
            continue
        content = field(message, "content")
        blocks = (
            [content] if isinstance(content, str) else content if isinstance(content, (list, tuple)) else ()
        )
        for block in blocks:
            for text in _block_texts(block):
                found.append(text)
                left -= len(text)
                if left <= 0:
                    return found
    return found


def system_texts(body: Mapping[str, Any]) -> list[str]:
    system = body.get("system")
    if isinstance(system, str):
        return [system]
    if isinstance(system, (list, tuple)):
        return [t for block in system[:64] for t in _block_texts(block)]
    return []


def _part(block: Any, budget: TextBudget) -> dict[str, Any]:
    """One content block in the GenAI conventions' part shape; binary data is never kept."""
    if isinstance(block, str):
        return {"type": "text", "content": budget.text(block)}
    kind = field(block, "type")
    if kind == "text":
        return {"type": "text", "content": budget.text(field(block, "text") or "")}
    if kind in ("tool_use", "server_tool_use"):
        return {
            "type": "tool_call",
            "id": field(block, "id"),
            "name": field(block, "name"),
            "arguments": budget.value(field(block, "input")),
        }
    if kind == "tool_result":
        content = field(block, "content")
        response: Any = (
            [_part(b, budget) for b in content]
            if isinstance(content, (list, tuple))
            else budget.value(content)
        )
        return {"type": "tool_call_response", "id": field(block, "tool_use_id"), "response": response}
    if kind == "thinking":
        return {"type": "reasoning", "content": budget.text(field(block, "thinking") or "")}
    if kind in ("image", "document"):
        source = field(block, "source")
        part: dict[str, Any] = {"type": "blob", "modality": "image" if kind == "image" else "document"}
        media_type = field(source, "media_type")
        if isinstance(media_type, str):
            part["mime_type"] = media_type
        url = field(source, "url")
        if isinstance(url, str):
            part["type"] = "uri"
            part["uri"] = budget.text(url)
        return part
    return {"type": str(kind)}


def _parts(content: Any, budget: TextBudget) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": budget.text(content)}]
    if isinstance(content, (list, tuple)):
        return [_part(b, budget) for b in content]
    return []


def _input_messages(messages: Sequence[Any]) -> Callable[[TextBudget], list[dict[str, Any]]]:
    def build(budget: TextBudget) -> list[dict[str, Any]]:
        return [{"role": field(m, "role"), "parts": _parts(field(m, "content"), budget)} for m in messages]

    return build


def _system_instructions(system: Any) -> Callable[[TextBudget], list[dict[str, Any]]]:
    return lambda budget: _parts(system, budget)


def start_call(runtime: Runtime, site: _hooks.Site, options: Any, stream: bool) -> LLMCall | None:
    """Start the span of one Messages request (None: it could not start, run untraced)."""
    body = options.json_data if isinstance(options.json_data, Mapping) else {}
    model = body.get("model")
    extra = getattr(options, "extra_json", None)
    attributes = request_attributes(body, extra if isinstance(extra, Mapping) else None)
    messages = body.get("messages")
    system = body.get("system")
    return _hooks.start_call(
        runtime,
        site,
        site.extra,
        operation=semconv.GEN_AI_OPERATION_CHAT,
        model=model if isinstance(model, str) else None,
        attributes=attributes,
        stream=stream,
        input_texts=input_texts(body),
        system_texts=system_texts(body),
        input_messages=_input_messages(messages) if isinstance(messages, (list, tuple)) else None,
        system_instructions=_system_instructions(system) if isinstance(system, (str, list, tuple)) else None,
    )


# -- the response --------------------------------------------------------------------------------


def record_usage(call: LLMCall, usage: Any) -> None:
    """A Message's ``usage``: Anthropic's ``input_tokens`` leaves out the cached ones, which
    the conventions' ``gen_ai.usage.input_tokens`` includes."""
    if usage is None:
        return
    uncached = as_int(field(usage, "input_tokens"))
    cache_read = as_int(field(usage, "cache_read_input_tokens"))
    cache_write = as_int(field(usage, "cache_creation_input_tokens"))
    details = field(usage, "output_tokens_details")
    call.record_usage(
        input_tokens=None if uncached is None else uncached + (cache_read or 0) + (cache_write or 0),
        output_tokens=as_int(field(usage, "output_tokens")),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=as_int(field(details, "thinking_tokens")) if details is not None else None,
    )


def _output_texts(content: Iterable[Any]) -> list[str]:
    return [t for block in content for t in _block_texts(block)]


def record_message(call: LLMCall, message: Any) -> None:
    """What a whole Message says: model, id, stop reason, usage, output."""
    stop_reason = field(message, "stop_reason")
    call.record_response(
        response_model=field(message, "model"),
        response_id=field(message, "id"),
        finish_reasons=[stop_reason] if isinstance(stop_reason, str) else None,
    )
    record_usage(call, field(message, "usage"))
    content = field(message, "content")
    blocks: list[Any] = list(content) if isinstance(content, (list, tuple)) else []
    call.record_output(
        texts=_output_texts(blocks),
        messages=lambda budget: [
            {"role": "assistant", "parts": _parts(blocks, budget), "finish_reason": stop_reason}
        ],
    )


def _arguments(text: str, budget: TextBudget) -> Any:
    """A streamed tool call's arguments: the ``input_json_delta`` pieces joined, as JSON when
    they parse (a stream cut short, or cut to the bound, leaves the text)."""
    try:
        return budget.value(json.loads(text)) if text else {}
    except ValueError:
        return budget.text(text)


class _Block:
    """One content block of a streamed message, its text kept up to the recorder's bound."""

    __slots__ = ("id", "kind", "name", "parts")

    def __init__(self, kind: str, id: Any = None, name: Any = None) -> None:
        self.kind = kind
        self.id = id
        self.name = name
        self.parts: list[str] = []


class MessageStreamRecorder(StreamRecorder):
    """Reads the raw events of a streamed Message, in O(event): ``message_start`` gives the
    id, model and input usage; ``content_block_*`` the output text (kept up to a bound);
    ``message_delta`` the stop reason and the cumulative usage."""

    def __init__(self, capture: bool) -> None:
        self.message: Any = None
        self.usage: dict[str, Any] = {}
        self.stop_reason: str | None = None
        self.delta_seen = False
        self.cut = False
        """True when output text went past the bound and was not kept."""
        self.blocks: dict[int, _Block] = {}
        self.left = max(_common.SCAN_MAX_CHARS, _common.CONTENT_MAX_CHARS if capture else 0)

    def _keep(self, block: _Block | None, text: Any) -> None:
        if block is None or not isinstance(text, str) or not text:
            return
        if self.left <= 0:
            self.cut = True
            return
        if len(text) > self.left:
            self.cut = True
        block.parts.append(text[: self.left])
        self.left -= len(text)

    def _update_usage(self, usage: Any) -> None:
        for key in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ):
            value = as_int(field(usage, key))
            if value is not None:
                self.usage[key] = value
        details = field(usage, "output_tokens_details")
        if details is not None:
            self.usage["output_tokens_details"] = details

    def on_chunk(self, chunk: Any) -> bool:
        kind = field(chunk, "type")
        if kind == "content_block_delta":
            delta = field(chunk, "delta")
            block = self.blocks.get(field(chunk, "index"))  # type: ignore[arg-type]
            delta_kind = field(delta, "type")
            if delta_kind == "text_delta":
                self._keep(block, field(delta, "text"))
            elif delta_kind == "input_json_delta":
                self._keep(block, field(delta, "partial_json"))
            elif delta_kind == "thinking_delta":
                self._keep(block, field(delta, "thinking"))
        elif kind == "content_block_start":
            start = field(chunk, "content_block")
            index = field(chunk, "index")
            if isinstance(index, int) and len(self.blocks) < 256:
                block = _Block(str(field(start, "type")), field(start, "id"), field(start, "name"))
                self.blocks[index] = block
                self._keep(block, field(start, "text"))
        elif kind == "message_start":
            self.message = field(chunk, "message")
            self._update_usage(field(self.message, "usage"))
        elif kind == "message_delta":
            reason = field(field(chunk, "delta"), "stop_reason")
            if isinstance(reason, str):
                self.stop_reason = reason
            self._update_usage(field(chunk, "usage"))
            self.delta_seen = True
        return True

    def _parts(self, budget: TextBudget) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        for _, block in sorted(self.blocks.items()):
            text = "".join(block.parts)
            if block.kind == "text":
                parts.append({"type": "text", "content": budget.text(text)})
            elif block.kind == "thinking":
                parts.append({"type": "reasoning", "content": budget.text(text)})
            elif block.kind in ("tool_use", "server_tool_use"):
                parts.append(
                    {
                        "type": "tool_call",
                        "id": block.id,
                        "name": block.name,
                        "arguments": _arguments(text, budget),
                    }
                )
            else:
                parts.append({"type": block.kind})
        return parts

    def finish(self, call: LLMCall) -> None:
        message = self.message
        reason = self.stop_reason
        call.record_response(
            response_model=field(message, "model") if message is not None else None,
            response_id=field(message, "id") if message is not None else None,
            finish_reasons=[reason] if reason else None,
        )
        usage = self.usage
        if not self.delta_seen:
            # message_start's output count is a placeholder (1) until message_delta gives
            # the real one: a stream that ended before it has no known output count.
            usage = {k: v for k, v in usage.items() if k != "output_tokens"}
        if usage:
            record_usage(call, usage)
        texts = ["".join(b.parts) for _, b in sorted(self.blocks.items()) if b.kind == "text"]
        call.record_output(
            texts=texts,
            messages=lambda budget: [
                {"role": "assistant", "parts": self._parts(budget), "finish_reason": reason}
            ],
        )
        if self.cut and call.capture:
            call.set_attribute(semconv.AITHER_LLM_CONTENT_TRUNCATED, True)


class AnthropicProvider(_hooks.StainlessProvider):
    """Anthropic's wire format: a POST to the Messages API (``/v1/messages``)."""

    label = "an Anthropic"

    def read_post(self, runtime: Runtime, post: _hooks.Post) -> _hooks.Request | None:
        url = getattr(post.options, "url", None)
        if not isinstance(url, str) or url.partition("?")[0] != MESSAGES_PATH:
            return None
        call = start_call(runtime, post.site, post.options, post.stream)
        if call is None:
            return None
        raw = _hooks.raw_mode(post.options)
        return _hooks.Request(self, call, post.args, post.kwargs, stream=post.stream, raw=raw)

    def record(self, call: LLMCall, request: _hooks.Request, response: Any) -> None:
        record_message(call, response)

    def recorder(self, call: LLMCall, request: _hooks.Request) -> StreamRecorder:
        return MessageStreamRecorder(call.capture)


_PROVIDER = AnthropicProvider()


def instrument_client(client: Any, context: WrapContext) -> Any:
    """Hook ``client.request`` (and ``copy``/``with_options``, so derived clients are traced
    too) on this instance; sets ``client._aither_uninstrument``."""
    site = _hooks.Site(
        context, _hooks.server_attributes(getattr(client, "base_url", "")), provider_of(client)
    )
    return _hooks.install(client, ("request",), _PROVIDER, site, instrument_client)


class AnthropicAdapter(Adapter):
    """``anthropic.Anthropic`` and ``AsyncAnthropic`` (and the SDK's Bedrock, Vertex AI and
    Foundry clients), instrumented in place."""

    framework = "anthropic"
    extra = "anthropic"
    methods = ("request",)

    def traced_methods(self, model: Any) -> frozenset[str]:
        return (
            frozenset({"request"})
            if callable(getattr(model, "request", None)) and hasattr(model, "messages")
            else frozenset()
        )

    def instrument(self, obj: Any, context: WrapContext) -> Any | None:
        return instrument_client(obj, context)
