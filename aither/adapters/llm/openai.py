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
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from openai import AsyncStream, Stream
from openai._base_client import AsyncAPIClient, SyncAPIClient

from ...schema import providers, semconv
from ..base import Adapter, WrapContext
from . import _common, _hooks
from . import _openai_messages as _messages
from ._common import LLMCall, field
from ._openai_messages import CHAT, COMPLETIONS, EMBEDDINGS, RESPONSES

if TYPE_CHECKING:
    from ..._runtime import Runtime

STREAM_USAGE_ENV = "AITHER_OPENAI_STREAM_USAGE"
RAW_RESPONSE_HEADER = _hooks.RAW_RESPONSE_HEADER  # openai._constants.RAW_RESPONSE_HEADER


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
        return frozenset(self.methods) if _is_client(model) else frozenset()

    def instrument(self, obj: Any, context: WrapContext) -> Any | None:
        if not _is_client(obj):
            return None
        return instrument_client(obj, context)


def _is_client(obj: Any) -> bool:
    return isinstance(obj, (SyncAPIClient, AsyncAPIClient))


def stream_usage_enabled(context: WrapContext) -> bool:
    """Whether a stream is asked for its usage: the client's ``openai_stream_usage`` setting
    (``AITHER_OPENAI_STREAM_USAGE``, default on), read at init(); with aither off nothing is
    recorded, so the request is left as it was."""
    runtime = context.get_runtime()
    return runtime is not None and runtime.settings.openai_stream_usage


def instrument_client(client: Any, context: WrapContext) -> Any:
    """Hook ``client.request`` (and ``copy`` / ``with_options``) on this instance."""
    provider = providers.AZURE_AI_OPENAI if "Azure" in type(client).__name__ else providers.OPENAI
    server = _hooks.server_attributes(getattr(client, "base_url", ""))
    site = _hooks.Site(context, server, _Site(provider, stream_usage_enabled(context)))
    return _hooks.install(client, ("request",), _PROVIDER, site, instrument_client)


class _Site:
    """What OpenAI's hooks keep per client, besides the server: the provider name (Azure or
    not) and whether streams are asked for their usage."""

    __slots__ = ("provider", "stream_usage")

    def __init__(self, provider: str, stream_usage: bool) -> None:
        self.provider = provider
        self.stream_usage = stream_usage


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


class _State:
    """How one traced request's result is read: its API and whether aither asked for usage."""

    __slots__ = ("api", "usage_requested")

    def __init__(self, api: str, usage_requested: bool) -> None:
        self.api = api
        self.usage_requested = usage_requested


# One (immutable) state per API and usage request, shared by every request: no object per call.
_STATES: dict[tuple[str, bool], _State] = {
    (api, usage): _State(api, usage)
    for api in (CHAT, RESPONSES, EMBEDDINGS, COMPLETIONS)
    for usage in (False, True)
}


class OpenAIProvider(_hooks.StainlessProvider):
    """OpenAI's wire format: a POST to Chat Completions, Responses, Completions or Embeddings."""

    label = "an OpenAI"

    def read_post(self, runtime: Runtime, post: _hooks.Post) -> _hooks.Request | None:
        options, args = post.options, post.args
        api = _operation(getattr(options, "url", None))
        if api is None:
            return None
        body = getattr(options, "json_data", None)
        if not isinstance(body, Mapping):
            return None
        extra = getattr(options, "extra_json", None)
        if isinstance(extra, Mapping) and extra:
            body = {**body, **extra}
        stream = post.stream or body.get("stream") is True
        raw = _hooks.raw_mode(options)
        mine: _Site = post.site.extra
        usage_requested = (
            stream
            and mine.stream_usage
            and raw is None
            and api in (CHAT, COMPLETIONS)
            and "stream_options" not in body
        )
        if usage_requested:
            args = (args[0], _with_stream_usage(options), *args[2:])

        model = body.get("model")
        attrs: dict[str, Any] = {}
        if api == EMBEDDINGS:
            reading = _read_embeddings(body, attrs)
        elif api == RESPONSES:
            reading = _read_responses(body, attrs)
        else:
            reading = _read_chat(body, attrs, api)
        call = _hooks.start_call(
            runtime,
            post.site,
            mine.provider,
            model=model if isinstance(model, str) else None,
            attributes=attrs,
            stream=stream and api != EMBEDDINGS,
            **reading,
        )
        if call is None:
            return None
        if usage_requested:
            call.set_attribute(semconv.AITHER_LLM_STREAM_USAGE_REQUESTED, True)
        return _hooks.Request(
            self, call, args, post.kwargs, stream=stream, raw=raw, state=_STATES[api, usage_requested]
        )

    def record(self, call: LLMCall, request: _hooks.Request, response: Any) -> None:
        _messages.record(request.state.api, call, response)

    def recorder(self, call: LLMCall, request: _hooks.Request) -> _common.StreamRecorder:
        state: _State = request.state
        return _messages.recorder(state.api, state.usage_requested, call)

    def is_stream(self, result: Any) -> bool:
        return isinstance(result, (Stream, AsyncStream))


_PROVIDER = OpenAIProvider()


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
        if isinstance(value, str) or _hooks.is_number(value):
            attrs[attr] = value


def _output_type(kind: Any, attrs: dict[str, Any]) -> None:
    """``gen_ai.output.type`` from a response format's type (``json_schema``, ``json_object``, ``text``)."""
    if kind in ("json_schema", "json_object"):
        attrs[semconv.GEN_AI_OUTPUT_TYPE] = "json"
    elif kind == "text":
        attrs[semconv.GEN_AI_OUTPUT_TYPE] = "text"


def _stop(body: Mapping[str, Any], attrs: dict[str, Any]) -> None:
    stop = _hooks.stop_sequences(body.get("stop"))
    if stop:
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = stop


def _read_chat(body: Mapping[str, Any], attrs: dict[str, Any], api: str) -> dict[str, Any]:
    """A chat completion's (or a legacy completion's) request attributes into ``attrs``; returns
    what else the span starts with (see :func:`_hooks.start_call`)."""
    _params(body, _CHAT_PARAMS, attrs)
    _output_type(field(body.get("response_format"), "type"), attrs)
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if _hooks.is_int(max_tokens):
        attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    _stop(body, attrs)
    if api == COMPLETIONS:
        prompt = body.get("prompt")
        prompts = (
            [prompt]
            if isinstance(prompt, str)
            else [p for p in _messages.as_list(prompt) if isinstance(p, str)]
        )
        return {
            "operation": semconv.GEN_AI_OPERATION_TEXT_COMPLETION,
            "input_texts": prompts,
            "input_messages": lambda budget: [_hooks.text_message("user", p, budget) for p in prompts],
        }
    messages = _messages.as_list(body.get("messages"))
    untrusted, trusted = _messages.message_texts(messages)
    return {
        "operation": semconv.GEN_AI_OPERATION_CHAT,
        "input_texts": untrusted,
        "system_texts": trusted,
        "input_messages": lambda budget: _messages.chat_messages(messages, budget),
    }


def _read_responses(body: Mapping[str, Any], attrs: dict[str, Any]) -> dict[str, Any]:
    """A Responses API request (see :func:`_read_chat`)."""
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
    return {
        "operation": semconv.GEN_AI_OPERATION_CHAT,
        "input_texts": untrusted,
        "system_texts": trusted,
        "input_messages": lambda budget: _messages.response_items(items, budget),
        "system_instructions": (
            (lambda budget: [{"type": "text", "content": budget.text(instructions)}])
            if isinstance(instructions, str)
            else None
        ),
    }


def _read_embeddings(body: Mapping[str, Any], attrs: dict[str, Any]) -> dict[str, Any]:
    """An embeddings request (see :func:`_read_chat`)."""
    encoding = body.get("encoding_format")
    if isinstance(encoding, str):
        attrs[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]
    dimensions = body.get("dimensions")
    if _hooks.is_int(dimensions):
        attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions
    value = body.get("input")
    texts = [value] if isinstance(value, str) else _messages.strings(value)
    # scanned for PII; an embedding input is not executed, so no injection score
    return {"operation": semconv.GEN_AI_OPERATION_EMBEDDINGS, "system_texts": texts}
