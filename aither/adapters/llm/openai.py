"""The official ``openai`` client (``OpenAI``, ``AsyncOpenAI``, ``AzureOpenAI``...), instrumented in place.

The SDK's resources bind the client's ``post`` when they are built, but every call they make
goes through ``client.request(cast_to, options, stream=..., stream_cls=...)``, looked up on
the instance each time. So ``wrap`` shadows ``request`` with an instance attribute (other
clients are untouched; ``aither.unwrap`` removes it) that sees the path
(``/chat/completions``, ``/responses``, ``/embeddings``, ``/completions``), the JSON body,
and what the SDK returns: the parsed response, a ``Stream``/``AsyncStream``, or a raw
response (``with_raw_response``/``with_streaming_response``). Other paths pass through.
What the requests, responses and chunks say is read in ``_openai_messages.py``.

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
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from openai import AsyncStream, Stream
from openai._base_client import AsyncAPIClient, SyncAPIClient

from ... import semconv
from ..base import Adapter, WrapContext
from . import _common
from . import _openai_messages as _messages
from ._common import LLMCall, field
from ._openai_messages import CHAT, COMPLETIONS, EMBEDDINGS, RESPONSES

PROVIDER = "openai"
AZURE_PROVIDER = "azure.ai.openai"
STREAM_USAGE_ENV = "AITHER_OPENAI_STREAM_USAGE"
RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"  # openai._constants.RAW_RESPONSE_HEADER


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
        # The client's openai_stream_usage setting (AITHER_OPENAI_STREAM_USAGE), read at init();
        # with aither off nothing is recorded, so the request is left as it was.
        runtime = context.get_runtime()
        self.stream_usage = runtime is not None and runtime.settings.openai_stream_usage


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
    if path.endswith(CHAT):
        return CHAT
    if path.endswith(RESPONSES):
        return RESPONSES
    if path.endswith(EMBEDDINGS):
        return EMBEDDINGS
    if path.endswith(COMPLETIONS):
        return COMPLETIONS
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
                recorder = _messages.recorder(self.api, self.usage_requested, call)
                return (
                    call.wrap_async_stream(result, recorder)
                    if is_async
                    else call.wrap_stream(result, recorder)
                )
            _messages.record(self.api, call, result)
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
            _messages.record(self.api, call, body)
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
        and api in (CHAT, COMPLETIONS)
        and "stream_options" not in body
    ):
        options = _with_stream_usage(options)
        usage_requested = True

    model = body.get("model")
    model = model if isinstance(model, str) else None
    attrs: dict[str, Any] = dict(state.server)
    if api == EMBEDDINGS:
        call = _start_embeddings(runtime, state, body, model, attrs)
    elif api == RESPONSES:
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


def _output_type(kind: Any, attrs: dict[str, Any]) -> None:
    """``gen_ai.output.type`` from a response format's type (``json_schema``, ``json_object``, ``text``)."""
    if kind in ("json_schema", "json_object"):
        attrs[semconv.GEN_AI_OUTPUT_TYPE] = "json"
    elif kind == "text":
        attrs[semconv.GEN_AI_OUTPUT_TYPE] = "text"


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
    _output_type(field(body.get("response_format"), "type"), attrs)
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool):
        attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    _stop(body, attrs)
    if api == COMPLETIONS:
        prompt = body.get("prompt")
        prompts = (
            [prompt]
            if isinstance(prompt, str)
            else [p for p in _messages.as_list(prompt) if isinstance(p, str)]
        )
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
    messages = _messages.as_list(body.get("messages"))
    untrusted, trusted = _messages.message_texts(messages)
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
        input_messages=lambda budget: _messages.chat_messages(messages, budget),
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
    _output_type(field(field(body.get("text"), "format"), "type"), attrs)
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
        items = _messages.as_list(items)
        untrusted, trusted = _messages.message_texts(items)
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
        input_messages=lambda budget: _messages.response_items(items, budget),
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
    texts = [value] if isinstance(value, str) else _messages.strings(value)
    return LLMCall.start(
        runtime,
        operation=semconv.GEN_AI_OPERATION_EMBEDDINGS,
        provider=state.provider,
        request_model=model,
        attributes=attrs,
        client_name=state.context.name,
        system_texts=texts,  # scanned for PII; an embedding input is not executed, so no injection score
    )
