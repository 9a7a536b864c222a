"""OpenAI's messages, responses and stream chunks, read into an :class:`~._common.LLMCall`.

Pure reading of what the ``openai`` SDK sends and returns (SDK objects, or plain dicts for a
raw response's JSON): the prompt's text for the scans, the captured content in the GenAI
conventions' shapes, the response's model, id, finish reasons and usage, and the stream
recorders of chat, completions and Responses API streams. ``openai.py`` does the hooking.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...schema import semconv
from ...tracing.llm_record import captured_embedding
from . import _common
from ._common import LLMCall, StreamRecorder, TextAccumulator, TextBudget, as_int, field

CHAT = "/chat/completions"
RESPONSES = "/responses"
EMBEDDINGS = "/embeddings"
COMPLETIONS = "/completions"

_PII_ONLY_ROLES = frozenset({"system", "developer", "assistant"})
"""Roles whose text is scanned for PII but not scored for injection (the developer's own
instructions and the model's earlier answers)."""


def as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    if value is None or isinstance(value, (str, bytes, Mapping)):
        return []
    try:
        return list(value)
    except TypeError:
        return []


def strings(value: Any) -> list[str]:
    """The strings of a list (a batch of prompts or of embedding inputs; token lists are skipped)."""
    return [v for v in as_list(value) if isinstance(v, str)]


def _content_texts(content: Any) -> list[str]:
    """The text of a message's ``content``: a string, or the text of its parts."""
    if isinstance(content, str):
        return [content]
    texts = []
    for part in as_list(content)[:256]:
        text = field(part, "text")
        if isinstance(text, str):
            texts.append(text)
    return texts


def message_texts(messages: list[Any]) -> tuple[list[str], list[str]]:
    """(user and tool text, most recent first; system, developer and assistant text)."""
    untrusted: list[str] = []
    trusted: list[str] = []
    budget = _common.SCAN_MAX_CHARS
    for message in reversed(messages):
        if budget <= 0:
            break
        role = field(message, "role")
        texts = _content_texts(field(message, "content"))
        if not texts and field(message, "type") == "function_call_output":
            output = field(message, "output")
            texts = [output] if isinstance(output, str) else []
        for text in texts:
            budget -= len(text)
        (trusted if role in _PII_ONLY_ROLES else untrusted).extend(texts)
    return untrusted, trusted


def _parts(content: Any, budget: TextBudget) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": budget.text(content)}]
    parts: list[dict[str, Any]] = []
    for part in as_list(content)[:256]:
        kind = field(part, "type")
        text = field(part, "text")
        if isinstance(text, str):
            parts.append({"type": "text", "content": budget.text(text)})
        elif kind in ("image_url", "input_image"):
            image = field(part, "image_url")
            url = field(image, "url") if not isinstance(image, str) else image
            parts.append({"type": "uri", "modality": "image", "uri": _uri(url, budget)})
        else:
            parts.append({"type": str(kind) if kind else "unknown"})
    return parts


def _uri(url: Any, budget: TextBudget) -> str | None:
    if not isinstance(url, str):
        return None
    if url.startswith("data:"):
        return url.partition(",")[0] + ",..."  # inline image data is not content worth keeping
    return budget.text(url)


def _tool_calls(tool_calls: Any, budget: TextBudget) -> list[dict[str, Any]]:
    parts = []
    for tool_call in as_list(tool_calls)[:128]:
        function = field(tool_call, "function")
        parts.append(
            {
                "type": "tool_call",
                "id": field(tool_call, "id"),
                "name": field(function, "name"),
                "arguments": budget.text(field(function, "arguments") or ""),
            }
        )
    return parts


def chat_messages(messages: list[Any], budget: TextBudget) -> list[dict[str, Any]]:
    out = []
    for message in messages:
        role = field(message, "role")
        if role == "tool":
            parts: list[dict[str, Any]] = [
                {
                    "type": "tool_call_response",
                    "id": field(message, "tool_call_id"),
                    "response": budget.text("\n".join(_content_texts(field(message, "content")))),
                }
            ]
        else:
            parts = _parts(field(message, "content"), budget)
            parts.extend(_tool_calls(field(message, "tool_calls"), budget))
        out.append({"role": role, "parts": parts})
    return out


def response_items(items: list[Any], budget: TextBudget) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        kind = field(item, "type")
        if kind == "function_call":
            out.append(
                {
                    "role": "assistant",
                    "parts": [
                        {
                            "type": "tool_call",
                            "id": field(item, "call_id"),
                            "name": field(item, "name"),
                            "arguments": budget.text(field(item, "arguments") or ""),
                        }
                    ],
                }
            )
        elif kind == "function_call_output":
            output = field(item, "output")
            out.append(
                {
                    "role": "tool",
                    "parts": [
                        {
                            "type": "tool_call_response",
                            "id": field(item, "call_id"),
                            "response": budget.value(output),
                        }
                    ],
                }
            )
        else:
            out.append(
                {"role": field(item, "role") or "user", "parts": _parts(field(item, "content"), budget)}
            )
    return out


# -- reading a response -----------------------------------------------------------------------------


def record(api: str, call: LLMCall, response: Any) -> None:
    if api == RESPONSES:
        _record_responses(call, response)
    elif api == EMBEDDINGS:
        _record_embeddings(call, response)
    else:
        _record_chat(call, response, api)


def _record_usage(call: LLMCall, usage: Any, input_name: str, output_name: str) -> None:
    """Record a usage object whose counts are ``<input_name>_tokens`` and
    ``<output_name>_tokens``, each with its ``..._tokens_details``: Chat Completions says
    ``prompt`` and ``completion``, the Responses API ``input`` and ``output``."""
    if usage is None:
        return
    input_details = field(usage, f"{input_name}_tokens_details")
    output_details = field(usage, f"{output_name}_tokens_details")
    call.record_usage(
        input_tokens=as_int(field(usage, f"{input_name}_tokens")),
        output_tokens=as_int(field(usage, f"{output_name}_tokens")),
        cache_read_tokens=as_int(field(input_details, "cached_tokens")),
        cache_write_tokens=as_int(field(input_details, "cache_write_tokens")) or None,
        reasoning_tokens=as_int(field(output_details, "reasoning_tokens")),
    )


def _record_chat_usage(call: LLMCall, usage: Any) -> None:
    _record_usage(call, usage, "prompt", "completion")


def _openai_attrs(response: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    tier = field(response, "service_tier")
    if isinstance(tier, str):
        attrs[semconv.OPENAI_RESPONSE_SERVICE_TIER] = tier
    fingerprint = field(response, "system_fingerprint")
    if isinstance(fingerprint, str):
        attrs[semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] = fingerprint
    return attrs


def _record_chat(call: LLMCall, response: Any, api: str) -> None:
    choices = as_list(field(response, "choices"))
    reasons = [str(field(c, "finish_reason")) for c in choices if field(c, "finish_reason") is not None]
    call.record_response(
        response_model=field(response, "model"),
        response_id=field(response, "id"),
        finish_reasons=reasons,
        attributes=_openai_attrs(response),
    )
    _record_chat_usage(call, field(response, "usage"))
    if api == COMPLETIONS:
        texts = [field(c, "text") for c in choices]
        call.record_output(
            texts=texts,
            messages=lambda budget: [
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": budget.text(field(c, "text") or "")}],
                    "finish_reason": field(c, "finish_reason"),
                }
                for c in choices
            ],
        )
        return
    messages = [field(c, "message") for c in choices]
    texts = []
    for message in messages:
        texts.extend(_content_texts(field(message, "content")))
        refusal = field(message, "refusal")
        if isinstance(refusal, str):
            texts.append(refusal)

    def output(budget: TextBudget) -> list[dict[str, Any]]:
        out = []
        for choice, message in zip(choices, messages, strict=True):
            parts = _parts(field(message, "content") or [], budget)
            refusal = field(message, "refusal")
            if isinstance(refusal, str):
                parts.append({"type": "refusal", "content": budget.text(refusal)})
            parts.extend(_tool_calls(field(message, "tool_calls"), budget))
            out.append({"role": "assistant", "parts": parts, "finish_reason": field(choice, "finish_reason")})
        return out

    call.record_output(texts=texts, messages=output)


def _responses_finish_reason(response: Any) -> str | None:
    status = field(response, "status")
    if status == "incomplete":
        reason = field(field(response, "incomplete_details"), "reason")
        return str(reason) if reason else "incomplete"
    if status == "failed":
        return "error"
    if status == "completed":
        if any(field(item, "type") == "function_call" for item in as_list(field(response, "output"))):
            return "tool_calls"
        return "stop"
    return str(status) if status else None


def _record_responses(call: LLMCall, response: Any) -> None:
    reason = _responses_finish_reason(response)
    call.record_response(
        response_model=field(response, "model"),
        response_id=field(response, "id"),
        finish_reasons=[reason] if reason else None,
        attributes=_openai_attrs(response),
    )
    _record_usage(call, field(response, "usage"), "input", "output")
    items = as_list(field(response, "output"))
    texts: list[str] = []
    for item in items:
        if field(item, "type") == "message":
            texts.extend(_content_texts(field(item, "content")))

    def output(budget: TextBudget) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        for item in items:
            kind = field(item, "type")
            if kind == "message":
                for part in as_list(field(item, "content")):
                    text = field(part, "text")
                    if isinstance(text, str):
                        parts.append({"type": "text", "content": budget.text(text)})
                    elif isinstance(field(part, "refusal"), str):
                        parts.append({"type": "refusal", "content": budget.text(field(part, "refusal"))})
            elif kind == "function_call":
                parts.append(
                    {
                        "type": "tool_call",
                        "id": field(item, "call_id"),
                        "name": field(item, "name"),
                        "arguments": budget.text(field(item, "arguments") or ""),
                    }
                )
        return [{"role": "assistant", "parts": parts, "finish_reason": reason}]

    call.record_output(texts=texts, messages=output)


def _record_embeddings(call: LLMCall, response: Any) -> None:
    data = as_list(field(response, "data"))
    attrs: dict[str, Any] = {}
    if data:
        vector = field(data[0], "embedding")
        if isinstance(vector, list):
            attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = len(vector)
        if call.runtime.settings.capture_embeddings:  # opt-in: for the server's embedding drift
            encoded = captured_embedding(vector)
            if encoded is not None:
                attrs[semconv.AITHER_EMBEDDING_PROMPT] = encoded
    call.record_response(response_model=field(response, "model"), attributes=attrs)
    usage = field(response, "usage")
    if usage is not None:
        call.record_usage(input_tokens=as_int(field(usage, "prompt_tokens")))


# -- streams -----------------------------------------------------------------------------------------


def recorder(api: str, usage_requested: bool, call: LLMCall) -> StreamRecorder:
    if api == RESPONSES:
        return _ResponsesRecorder()
    return ChatRecorder(api, usage_requested)


_CONTENT_MAX_CHARS = _common.CONTENT_MAX_CHARS


def _lenient_choice(choice: Any, chat: bool) -> tuple[Any, Any, Any, Any]:
    """A choice's text, tool calls, finish reason and index, None for what it lacks: how a
    chunk recorder reads a choice that is not the SDK's own model."""
    if chat:
        delta = getattr(choice, "delta", None)
        text, tool_calls = getattr(delta, "content", None), getattr(delta, "tool_calls", None)
    else:
        text, tool_calls = getattr(choice, "text", None), None
    return text, tool_calls, getattr(choice, "finish_reason", None), getattr(choice, "index", 0)


class ChatRecorder(StreamRecorder):
    """Chat and completions chunks: id, model and fingerprint from the first, text and tool
    calls per choice (bounded), finish reasons, and the usage chunk."""

    __slots__ = (
        "api",
        "chat",
        "first",
        "reasons",
        "size0",
        "sizes",
        "text0",
        "texts",
        "tools",
        "usage",
        "usage_requested",
    )

    def __init__(self, api: str, usage_requested: bool) -> None:
        self.api = api
        self.chat = api != COMPLETIONS
        self.usage_requested = usage_requested
        self.first: Any = None
        self.usage: Any = None
        self.reasons: dict[int, str] = {}
        # The first choice's text (nearly every stream has only it): its parts (strings, which
        # the collector does not track) and their length so far, bounded by CONTENT_MAX_CHARS;
        # other choices' alike, by index.
        self.text0: list[str] = []
        self.size0 = 0
        self.texts: dict[int, list[str]] = {}
        self.sizes: dict[int, int] = {}
        self.tools: dict[tuple[int, int], dict[str, Any]] = {}

    def on_chunk(self, chunk: Any) -> bool:
        # Called for every chunk on the caller's thread: one pass, locals, no method calls
        # for what a chunk lacks (most carry one choice, index 0, with a few characters of text).
        # Fields read as plain attributes (the SDK's models have them all), the cheapest read
        # in CPython; an object lacking one is read leniently (None for what it lacks).
        try:
            choices = chunk.choices
            usage = chunk.usage
        except AttributeError:
            choices = getattr(chunk, "choices", None)
            usage = getattr(chunk, "usage", None)
        if self.first is None:
            self.first = chunk
        if choices:
            chat = self.chat
            for choice in choices:
                try:
                    if chat:
                        delta = choice.delta
                        text, tool_calls = delta.content, delta.tool_calls
                    else:
                        text, tool_calls = choice.text, None
                    reason, index = choice.finish_reason, choice.index
                except AttributeError:
                    text, tool_calls, reason, index = _lenient_choice(choice, chat)
                if tool_calls:
                    self._tool_deltas(index or 0, tool_calls)
                if reason is not None:
                    self.reasons[index or 0] = str(reason)
                if text and type(text) is str:
                    if not index:
                        if self.size0 < _CONTENT_MAX_CHARS:
                            self.text0.append(text)
                            self.size0 += len(text)
                    else:
                        self._other_text(index, text)
        if usage is not None:
            self.usage = usage
            if self.usage_requested and not choices:
                return False  # the chunk exists only because aither asked for usage
        elif self.usage_requested:
            # Without include_usage the field is absent from each chunk, not null.
            try:
                chunk.__pydantic_fields_set__.discard("usage")
            except AttributeError:  # not a pydantic model
                pass
        return True

    def _other_text(self, index: int, text: str) -> None:
        size = self.sizes.get(index, 0)
        if size < _CONTENT_MAX_CHARS:
            if size:
                self.texts[index].append(text)
            else:
                self.texts[index] = [text]
            self.sizes[index] = size + len(text)

    def _tool_deltas(self, index: int, tool_calls: Any) -> None:
        for delta in tool_calls:
            key = (index, getattr(delta, "index", 0) or 0)
            entry = self.tools.get(key)
            if entry is None:
                if len(self.tools) >= 128:
                    continue
                entry = self.tools[key] = {"id": None, "name": None, "arguments": TextAccumulator(4096)}
            if getattr(delta, "id", None):
                entry["id"] = delta.id
            function = getattr(delta, "function", None)
            if function is not None:
                if getattr(function, "name", None):
                    entry["name"] = function.name
                entry["arguments"].add(getattr(function, "arguments", None))

    def finish(self, call: LLMCall) -> None:
        first = self.first
        if first is not None:
            call.record_response(
                response_model=getattr(first, "model", None),
                response_id=getattr(first, "id", None),
                finish_reasons=[self.reasons[i] for i in sorted(self.reasons)] or None,
                attributes=_openai_attrs(first),
            )
        _record_chat_usage(call, self.usage)
        parts_by_index = {0: self.text0, **self.texts} if self.text0 else self.texts
        indexes = sorted(set(parts_by_index) | set(self.reasons) | {i for i, _ in self.tools})
        limit = _common.CONTENT_MAX_CHARS
        texts = {i: "".join(parts)[:limit] for i, parts in sorted(parts_by_index.items())}

        def output(budget: TextBudget) -> list[dict[str, Any]]:
            out = []
            for i in indexes:
                parts: list[dict[str, Any]] = []
                if i in texts:
                    parts.append({"type": "text", "content": budget.text(texts[i])})
                for (choice, _), tool in sorted(self.tools.items()):
                    if choice == i:
                        parts.append(
                            {
                                "type": "tool_call",
                                "id": tool["id"],
                                "name": tool["name"],
                                "arguments": budget.text(tool["arguments"].text()),
                            }
                        )
                out.append({"role": "assistant", "parts": parts, "finish_reason": self.reasons.get(i)})
            return out

        call.record_output(texts=texts.values(), messages=output)


class _ResponsesRecorder(StreamRecorder):
    """Responses API events: the final ``response.completed`` (or ``.incomplete``/``.failed``)
    event carries the whole response and its usage; text deltas are kept in case it never
    comes (a stream closed early)."""

    __slots__ = ("created", "final", "text")

    def __init__(self) -> None:
        self.created: Any = None
        self.final: Any = None
        self.text = TextAccumulator(_common.CONTENT_MAX_CHARS)

    def on_chunk(self, chunk: Any) -> bool:
        kind = getattr(chunk, "type", None)
        if kind == "response.output_text.delta":
            self.text.add(getattr(chunk, "delta", None))
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            self.final = getattr(chunk, "response", None)
        elif kind == "response.created":
            self.created = getattr(chunk, "response", None)
        return True

    def finish(self, call: LLMCall) -> None:
        if self.final is not None:
            _record_responses(call, self.final)
            return
        if self.created is not None:
            call.record_response(
                response_model=getattr(self.created, "model", None),
                response_id=getattr(self.created, "id", None),
            )
        text = self.text.text()
        call.record_output(
            texts=[text],
            messages=lambda budget: [
                {"role": "assistant", "parts": [{"type": "text", "content": budget.text(text)}]}
            ],
        )
