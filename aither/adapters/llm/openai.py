"""The official ``openai`` client (``OpenAI``, ``AsyncOpenAI``, ``AzureOpenAI``...), instrumented in place.

The SDK's resources bind the client's ``post`` when they are built, but every call they make
goes through ``client.request(cast_to, options, stream=..., stream_cls=...)``, looked up on
the instance each time. So ``wrap`` shadows ``request`` with an instance attribute (other
clients are untouched; ``aither.unwrap`` removes it) that sees the path
(``/chat/completions``, ``/responses``, ``/embeddings``, ``/completions``), the JSON body,
and what the SDK returns: the parsed response, a ``Stream``/``AsyncStream``, or a raw
response (``with_raw_response``/``with_streaming_response``). Other paths pass through.

``client.with_options(...)`` and ``client.copy(...)`` return clients that are instrumented
too (with the same ``name``), each with its own ``aither.unwrap``.

Streams: a chat or completions stream for which the caller did not set ``stream_options``
is asked for usage (``stream_options={"include_usage": true}``), and the usage-only chunk
that brings it is kept from the caller, who sees exactly the chunks they would have seen
(each chunk's ``usage`` field is also left unset, as without the option). Set
``AITHER_OPENAI_STREAM_USAGE=false`` to never change the request; streams then have no usage
unless the caller asks for it.
"""

from __future__ import annotations

import copy as _copy
import json
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from openai import AsyncStream, Stream
from openai._base_client import AsyncAPIClient, SyncAPIClient

from ... import semconv
from ..base import Adapter, WrapContext
from . import _common
from ._common import LLMCall, StreamRecorder, TextAccumulator, TextBudget, as_int, field

PROVIDER = "openai"
AZURE_PROVIDER = "azure.ai.openai"
STREAM_USAGE_ENV = "AITHER_OPENAI_STREAM_USAGE"
RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"  # openai._constants.RAW_RESPONSE_HEADER

_CHAT = "/chat/completions"
_RESPONSES = "/responses"
_EMBEDDINGS = "/embeddings"
_COMPLETIONS = "/completions"

# The OpenAI request fields that map to GenAI request attributes, by API.
_CHAT_PARAMS: tuple[tuple[str, str], ...] = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("frequency_penalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY),
    ("presence_penalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("seed", semconv.GEN_AI_REQUEST_SEED),
    ("n", semconv.GEN_AI_REQUEST_CHOICE_COUNT),
    ("service_tier", semconv.OPENAI_REQUEST_SERVICE_TIER),
)
_RESPONSES_PARAMS: tuple[tuple[str, str], ...] = (
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("max_output_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("service_tier", semconv.OPENAI_REQUEST_SERVICE_TIER),
)

_PII_ONLY_ROLES = frozenset({"system", "developer", "assistant"})
"""Roles whose text is scanned for PII but not scored for injection (the developer's own
instructions and the model's earlier answers)."""


class OpenAIAdapter(Adapter):
    """Instruments ``openai`` clients in place (see the module docstring)."""

    framework = "openai"
    extra = "openai"
    methods = ("request",)

    def traced_methods(self, model: Any) -> frozenset[str]:
        return frozenset(self.methods) if _client_kind(model) is not None else frozenset()

    def instrument(self, obj: Any, context: WrapContext) -> Any | None:
        kind = _client_kind(obj)
        if kind is None:
            return None
        _instrument(obj, context, is_async=kind == "async")
        return obj


def _client_kind(obj: Any) -> str | None:
    if isinstance(obj, SyncAPIClient):
        return "sync"
    if isinstance(obj, AsyncAPIClient):
        return "async"
    return None


class _ClientState:
    """What the hooks of one instrumented client know; built once at wrap time."""

    __slots__ = ("context", "provider", "server", "stream_usage")

    def __init__(self, client: Any, context: WrapContext) -> None:
        self.context = context
        self.provider = AZURE_PROVIDER if "Azure" in type(client).__name__ else PROVIDER
        self.server: dict[str, Any] = {}
        try:
            url = client.base_url
            self.server[semconv.SERVER_ADDRESS] = str(url.host) or None
            port = url.port
            self.server[semconv.SERVER_PORT] = (
                int(port) if port is not None else (443 if url.scheme == "https" else 80)
            )
        except Exception:
            pass
        raw = os.environ.get(STREAM_USAGE_ENV)
        self.stream_usage = raw is None or raw.strip().lower() not in ("0", "false", "no", "off")


def _instrument(client: Any, context: WrapContext, *, is_async: bool) -> None:
    state = _ClientState(client, context)
    original = client.request  # the bound method of the class
    hooked = _async_hook(original, state) if is_async else _sync_hook(original, state)
    undos = [_common.hook(client, "request", hooked)]
    for name in ("copy", "with_options"):
        method = getattr(client, name, None)
        if callable(method):
            undos.append(_common.hook(client, name, _copy_hook(method, context, is_async)))

    def uninstrument() -> None:
        for undo in reversed(undos):
            undo()
        client.__dict__.pop("_aither_uninstrument", None)

    client._aither_uninstrument = uninstrument


def _copy_hook(method: Callable[..., Any], context: WrapContext, is_async: bool) -> Callable[..., Any]:
    def copy(*args: Any, **kwargs: Any) -> Any:
        new = method(*args, **kwargs)
        try:
            if getattr(new, "_aither_uninstrument", None) is None and _client_kind(new) is not None:
                _instrument(new, context, is_async=is_async)
        except Exception as exc:
            runtime = context.get_runtime()
            if runtime is not None:
                runtime.internal_error(exc, "instrumenting a copy of an OpenAI client")
        return new

    return copy


# -- the hooks ------------------------------------------------------------------------------------


def _sync_hook(original: Callable[..., Any], state: _ClientState) -> Callable[..., Any]:
    def request(cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        runtime = state.context.get_runtime()
        if runtime is None:
            return original(cast_to, options, *args, **kwargs)
        plan: _Plan | None = None
        try:
            plan = _plan(runtime, state, options, _stream_flag(args, kwargs))
        except Exception as exc:
            runtime.internal_error(exc, "reading an OpenAI request")
        if plan is None:
            return original(cast_to, options, *args, **kwargs)
        result = plan.call.invoke(original, cast_to, plan.options, *args, **kwargs)
        return plan.finish(result, is_async=False)

    return request


def _async_hook(original: Callable[..., Any], state: _ClientState) -> Callable[..., Any]:
    async def request(cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        runtime = state.context.get_runtime()
        if runtime is None:
            return await original(cast_to, options, *args, **kwargs)
        plan: _Plan | None = None
        try:
            plan = _plan(runtime, state, options, _stream_flag(args, kwargs))
        except Exception as exc:
            runtime.internal_error(exc, "reading an OpenAI request")
        if plan is None:
            return await original(cast_to, options, *args, **kwargs)
        result = await plan.call.ainvoke(original, cast_to, plan.options, *args, **kwargs)
        return plan.finish(result, is_async=True)

    return request


def _stream_flag(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
    return bool(kwargs["stream"] if "stream" in kwargs else (args[0] if args else False))


# -- reading a request ----------------------------------------------------------------------------


def _operation(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    path = url.partition("?")[0].rstrip("/")
    if path.endswith(_CHAT):
        return _CHAT
    if path.endswith(_RESPONSES):
        return _RESPONSES
    if path.endswith(_EMBEDDINGS):
        return _EMBEDDINGS
    if path.endswith(_COMPLETIONS):
        return _COMPLETIONS
    return None


class _Plan:
    """One traced request: the span, the (possibly amended) options, how to read the result."""

    __slots__ = ("api", "call", "options", "raw", "stream", "usage_requested")

    def __init__(
        self, call: LLMCall, options: Any, api: str, stream: bool, raw: str | None, usage_requested: bool
    ) -> None:
        self.call = call
        self.options = options
        self.api = api
        self.stream = stream
        self.raw = raw
        self.usage_requested = usage_requested

    def finish(self, result: Any, *, is_async: bool) -> Any:
        call = self.call
        try:
            if self.raw is not None:
                self._finish_raw(result)
                return result
            if self.stream and _is_stream(result):
                recorder = _recorder(self.api, self.usage_requested, call)
                return (
                    call.wrap_async_stream(result, recorder)
                    if is_async
                    else call.wrap_stream(result, recorder)
                )
            _record(self.api, call, result)
        except Exception as exc:
            call.end()
            call.runtime.internal_error(exc, "reading an OpenAI response")
            return result
        call.end()
        return result

    def _finish_raw(self, result: Any) -> None:
        """``with_raw_response`` (body read: recorded from its JSON) or
        ``with_streaming_response`` / a raw stream (body unread: the span says so)."""
        call = self.call
        http = getattr(result, "http_response", None)
        body: Any = None
        if self.raw == "true" and not self.stream and http is not None and not _unread(http):
            try:
                body = json.loads(http.content)
            except ValueError:
                body = None
        if isinstance(body, Mapping):
            _record(self.api, call, body)
        else:
            call.set_attribute(semconv.AITHER_LLM_RESPONSE_UNREAD, True)
        call.end()


def _unread(http: Any) -> bool:
    try:
        http.content  # noqa: B018 - raises when the body was not read
    except Exception:
        return True
    return False


def _is_stream(result: Any) -> bool:
    return isinstance(result, (Stream, AsyncStream))


def _raw_mode(options: Any) -> str | None:
    headers = getattr(options, "headers", None)
    if not isinstance(headers, Mapping):
        return None
    value = headers.get(RAW_RESPONSE_HEADER)
    return str(value) if value else None


def _plan(runtime: Any, state: _ClientState, options: Any, stream: bool) -> _Plan | None:
    if str(getattr(options, "method", "")).lower() != "post":
        return None
    api = _operation(getattr(options, "url", None))
    if api is None:
        return None
    body = getattr(options, "json_data", None)
    if not isinstance(body, Mapping):
        return None
    extra = getattr(options, "extra_json", None)
    if isinstance(extra, Mapping) and extra:
        body = {**body, **extra}
    stream = stream or body.get("stream") is True
    raw = _raw_mode(options)
    usage_requested = False
    if (
        stream
        and state.stream_usage
        and raw is None
        and api in (_CHAT, _COMPLETIONS)
        and "stream_options" not in body
    ):
        options = _with_stream_usage(options)
        usage_requested = True

    model = body.get("model")
    model = model if isinstance(model, str) else None
    attrs: dict[str, Any] = dict(state.server)
    if api == _EMBEDDINGS:
        call = _start_embeddings(runtime, state, body, model, attrs)
    elif api == _RESPONSES:
        call = _start_responses(runtime, state, body, model, attrs, stream)
    else:
        call = _start_chat(runtime, state, body, model, attrs, stream, api)
    if call is None:
        return None
    if usage_requested:
        call.set_attribute(semconv.AITHER_LLM_STREAM_USAGE_REQUESTED, True)
    return _Plan(call, options, api, stream, raw, usage_requested)


def _with_stream_usage(options: Any) -> Any:
    """A copy of the request options whose body also asks for the stream's usage; the
    caller's options and body are left as they were."""
    amended = _copy.copy(options)
    body = dict(options.json_data)
    body["stream_options"] = {"include_usage": True}
    amended.json_data = body
    return amended


def _params(body: Mapping[str, Any], table: Iterable[tuple[str, str]], attrs: dict[str, Any]) -> None:
    for key, attr in table:
        value = body.get(key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            attrs[attr] = value


def _stop(body: Mapping[str, Any], attrs: dict[str, Any]) -> None:
    stop = body.get("stop")
    if isinstance(stop, str):
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, (list, tuple)) and stop and all(isinstance(s, str) for s in stop):
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = list(stop)


def _start_chat(
    runtime: Any,
    state: _ClientState,
    body: Mapping[str, Any],
    model: str | None,
    attrs: dict[str, Any],
    stream: bool,
    api: str,
) -> LLMCall | None:
    _params(body, _CHAT_PARAMS, attrs)
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool):
        attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    _stop(body, attrs)
    if api == _COMPLETIONS:
        prompt = body.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else [p for p in _list(prompt) if isinstance(p, str)]
        return LLMCall.start(
            runtime,
            operation=semconv.GEN_AI_OPERATION_TEXT_COMPLETION,
            provider=state.provider,
            request_model=model,
            attributes=attrs,
            client_name=state.context.name,
            stream=stream,
            input_texts=prompts,
            input_messages=lambda budget: [
                {"role": "user", "parts": [{"type": "text", "content": budget.text(p)}]} for p in prompts
            ],
        )
    messages = _list(body.get("messages"))
    untrusted, trusted = _message_texts(messages)
    return LLMCall.start(
        runtime,
        operation=semconv.GEN_AI_OPERATION_CHAT,
        provider=state.provider,
        request_model=model,
        attributes=attrs,
        client_name=state.context.name,
        stream=stream,
        input_texts=untrusted,
        system_texts=trusted,
        input_messages=lambda budget: _chat_messages(messages, budget),
    )


def _start_responses(
    runtime: Any,
    state: _ClientState,
    body: Mapping[str, Any],
    model: str | None,
    attrs: dict[str, Any],
    stream: bool,
) -> LLMCall | None:
    _params(body, _RESPONSES_PARAMS, attrs)
    conversation = body.get("conversation")
    conversation_id = conversation if isinstance(conversation, str) else field(conversation, "id")
    if isinstance(conversation_id, str):
        attrs[semconv.GEN_AI_CONVERSATION_ID] = conversation_id
    items = body.get("input")
    instructions = body.get("instructions")
    trusted: list[str]
    if isinstance(items, str):
        untrusted, trusted = [items], []
        items = [{"role": "user", "content": items}]
    else:
        items = _list(items)
        untrusted, trusted = _message_texts(items)
    if isinstance(instructions, str):
        trusted = [*trusted, instructions]
    return LLMCall.start(
        runtime,
        operation=semconv.GEN_AI_OPERATION_CHAT,
        provider=state.provider,
        request_model=model,
        attributes=attrs,
        client_name=state.context.name,
        stream=stream,
        input_texts=untrusted,
        system_texts=trusted,
        input_messages=lambda budget: _response_items(items, budget),
        system_instructions=(
            (lambda budget: [{"type": "text", "content": budget.text(instructions)}])
            if isinstance(instructions, str)
            else None
        ),
    )


def _start_embeddings(
    runtime: Any, state: _ClientState, body: Mapping[str, Any], model: str | None, attrs: dict[str, Any]
) -> LLMCall | None:
    encoding = body.get("encoding_format")
    if isinstance(encoding, str):
        attrs[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]
    dimensions = body.get("dimensions")
    if isinstance(dimensions, int) and not isinstance(dimensions, bool):
        attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions
    value = body.get("input")
    texts = [value] if isinstance(value, str) else [v for v in _list(value) if isinstance(v, str)]
    return LLMCall.start(
        runtime,
        operation=semconv.GEN_AI_OPERATION_EMBEDDINGS,
        provider=state.provider,
        request_model=model,
        attributes=attrs,
        client_name=state.context.name,
        system_texts=texts,  # scanned for PII; an embedding input is not executed, so no injection score
    )


def _list(value: Any) -> list[Any]:
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


def _content_texts(content: Any) -> list[str]:
    """The text of a message's ``content``: a string, or the text of its parts."""
    if isinstance(content, str):
        return [content]
    texts = []
    for part in _list(content)[:256]:
        text = field(part, "text")
        if isinstance(text, str):
            texts.append(text)
    return texts


def _message_texts(messages: list[Any]) -> tuple[list[str], list[str]]:
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
    for part in _list(content)[:256]:
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
    for tool_call in _list(tool_calls)[:128]:
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


def _chat_messages(messages: list[Any], budget: TextBudget) -> list[dict[str, Any]]:
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


def _response_items(items: list[Any], budget: TextBudget) -> list[dict[str, Any]]:
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


def _record(api: str, call: LLMCall, response: Any) -> None:
    if api == _RESPONSES:
        _record_responses(call, response)
    elif api == _EMBEDDINGS:
        _record_embeddings(call, response)
    else:
        _record_chat(call, response, api)


def _record_chat_usage(call: LLMCall, usage: Any) -> None:
    if usage is None:
        return
    prompt_details = field(usage, "prompt_tokens_details")
    completion_details = field(usage, "completion_tokens_details")
    call.record_usage(
        input_tokens=as_int(field(usage, "prompt_tokens")),
        output_tokens=as_int(field(usage, "completion_tokens")),
        cache_read_tokens=as_int(field(prompt_details, "cached_tokens")),
        cache_write_tokens=as_int(field(prompt_details, "cache_write_tokens")) or None,
        reasoning_tokens=as_int(field(completion_details, "reasoning_tokens")),
    )


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
    choices = _list(field(response, "choices"))
    reasons = [str(field(c, "finish_reason")) for c in choices if field(c, "finish_reason") is not None]
    call.record_response(
        response_model=field(response, "model"),
        response_id=field(response, "id"),
        finish_reasons=reasons,
        attributes=_openai_attrs(response),
    )
    _record_chat_usage(call, field(response, "usage"))
    if api == _COMPLETIONS:
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
        if any(field(item, "type") == "function_call" for item in _list(field(response, "output"))):
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
    usage = field(response, "usage")
    if usage is not None:
        input_details = field(usage, "input_tokens_details")
        output_details = field(usage, "output_tokens_details")
        call.record_usage(
            input_tokens=as_int(field(usage, "input_tokens")),
            output_tokens=as_int(field(usage, "output_tokens")),
            cache_read_tokens=as_int(field(input_details, "cached_tokens")),
            cache_write_tokens=as_int(field(input_details, "cache_write_tokens")) or None,
            reasoning_tokens=as_int(field(output_details, "reasoning_tokens")),
        )
    items = _list(field(response, "output"))
    texts: list[str] = []
    for item in items:
        if field(item, "type") == "message":
            texts.extend(_content_texts(field(item, "content")))

    def output(budget: TextBudget) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        for item in items:
            kind = field(item, "type")
            if kind == "message":
                for part in _list(field(item, "content")):
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
    data = _list(field(response, "data"))
    attrs: dict[str, Any] = {}
    if data:
        vector = field(data[0], "embedding")
        if isinstance(vector, list):
            attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = len(vector)
    call.record_response(response_model=field(response, "model"), attributes=attrs)
    usage = field(response, "usage")
    if usage is not None:
        call.record_usage(input_tokens=as_int(field(usage, "prompt_tokens")))


# -- streams -----------------------------------------------------------------------------------------


def _recorder(api: str, usage_requested: bool, call: LLMCall) -> StreamRecorder:
    if api == _RESPONSES:
        return _ResponsesRecorder()
    return _ChatRecorder(api, usage_requested)


class _ChatRecorder(StreamRecorder):
    """Chat and completions chunks: id, model and fingerprint from the first, text and tool
    calls per choice (bounded), finish reasons, and the usage chunk."""

    __slots__ = ("api", "first", "reasons", "texts", "tools", "usage", "usage_requested")

    def __init__(self, api: str, usage_requested: bool) -> None:
        self.api = api
        self.usage_requested = usage_requested
        self.first: Any = None
        self.usage: Any = None
        self.reasons: dict[int, str] = {}
        self.texts: dict[int, TextAccumulator] = {}
        self.tools: dict[tuple[int, int], dict[str, Any]] = {}

    def on_chunk(self, chunk: Any) -> bool:
        if self.first is None:
            self.first = chunk
        usage = getattr(chunk, "usage", None)
        choices = getattr(chunk, "choices", None) or ()
        for choice in choices:
            index = getattr(choice, "index", 0) or 0
            if self.api == _COMPLETIONS:
                text = getattr(choice, "text", None)
            else:
                delta = getattr(choice, "delta", None)
                text = getattr(delta, "content", None)
                tool_calls = getattr(delta, "tool_calls", None)
                if tool_calls:
                    self._tool_deltas(index, tool_calls)
            if text:
                acc = self.texts.get(index)
                if acc is None:
                    acc = self.texts[index] = TextAccumulator(_common.CONTENT_MAX_CHARS)
                acc.add(text)
            reason = getattr(choice, "finish_reason", None)
            if reason is not None:
                self.reasons[index] = str(reason)
        if usage is not None:
            self.usage = usage
            if self.usage_requested and not choices:
                return False  # the chunk exists only because aither asked for usage
        elif self.usage_requested:
            # Without include_usage the field is absent from each chunk, not null.
            fields_set = getattr(chunk, "__pydantic_fields_set__", None)
            if fields_set is not None:
                fields_set.discard("usage")
        return True

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
        indexes = sorted(set(self.texts) | set(self.reasons) | {i for i, _ in self.tools})
        texts = {i: self.texts[i].text() for i in self.texts}

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
