"""The legacy Gemini SDK, ``google.generativeai``: ``aither.wrap(genai.GenerativeModel(...))``
traces ``generate_content`` and ``generate_content_async``, streamed or not.

Google ended that SDK (its successor, ``google-genai``, is :mod:`aither.adapters.llm.gemini`);
aither supports it because the oldest systems aither replaces used it. The instance's two
methods are hooked (``aither.unwrap(model)`` removes the hooks). The request is read the way
the SDK builds it (``GenerativeModel._prepare_request``; the SDK is frozen, so its private
method is too) and, like the response, turned into the REST API's JSON: from there on, the
span is made by the same code as ``google-genai``'s (model, generation settings, usage, finish
reasons, content, cost, PII and injection), with ``gen_ai.provider.name`` = ``gcp.gemini``.

Finish reasons are the API's names (``STOP``, ``MAX_TOKENS``...). An exception of the SDK
(``google.api_core.exceptions.*``) is recorded with its HTTP status and re-raised unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from ... import semconv
from ..base import Adapter, WrapContext
from . import _common, gemini
from ._common import LLMCall

_HOOKED = ("generate_content", "generate_content_async")


def _json(message: Any) -> dict[str, Any]:
    """A proto-plus message of the SDK as the REST API's JSON (camelCase keys, enum names)."""
    result: dict[str, Any] = type(message).to_dict(
        message,
        preserving_proto_field_name=False,
        use_integers_for_enums=False,
        including_default_value_fields=False,
    )
    return result


def _request_body(model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    contents = args[0] if args else kwargs.get("contents")
    request = model._prepare_request(
        contents=contents,
        generation_config=kwargs.get("generation_config"),
        safety_settings=kwargs.get("safety_settings"),
        tools=kwargs.get("tools"),
        tool_config=kwargs.get("tool_config"),
    )
    return _json(request)


def _model_id(model: Any) -> str:
    name = str(getattr(model, "model_name", "") or "")
    return name.rpartition("models/")[2] or name


class _Chunk:
    """A chunk as :class:`gemini.GenerationStreamRecorder` reads one: its JSON in ``body``."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body


class _ChunkRecorder(gemini.GenerationStreamRecorder):
    """Reads the SDK's response objects, one per chunk, as the REST stream's chunks."""

    def on_chunk(self, chunk: Any) -> bool:
        result = getattr(chunk, "_result", None)
        if result is not None:
            super().on_chunk(_Chunk(orjson.dumps(_json(result))))
        return True


def _record_status(call: LLMCall, exc: BaseException) -> None:
    code = getattr(exc, "code", None)  # google.api_core's HTTP status
    if isinstance(code, int) and not isinstance(code, bool) and code >= 400:
        call.set_attribute(semconv.HTTP_RESPONSE_STATUS_CODE, code)


def _send(call: LLMCall, original: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call the SDK, recording the HTTP status of an error it raises (before the span ends)."""
    try:
        return original(*args, **kwargs)
    except BaseException as exc:
        _record_status(call, exc)
        raise


async def _asend(call: LLMCall, original: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    try:
        return await original(*args, **kwargs)
    except BaseException as exc:
        _record_status(call, exc)
        raise


def _start(
    model: Any, context: WrapContext, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> LLMCall | None:
    runtime = context.get_runtime()
    if runtime is None:
        return None
    try:
        body = _request_body(model, args, kwargs)
    except Exception:
        # The SDK could not build the request either: let it raise its own error, untraced.
        return None
    return gemini.start_call(
        runtime,
        None,
        semconv.GEN_AI_OPERATION_GENERATE_CONTENT,
        _model_id(model),
        body,
        context,
        bool(kwargs.get("stream")),
        {},
    )


def _settle(call: LLMCall, result: Any, stream: bool) -> Any:
    if stream:
        return call.wrap_stream(result, _ChunkRecorder(call.capture))
    try:
        gemini.record_generation(call, _json(result._result))
    except Exception as exc:
        call.runtime.internal_error_quiet(exc, "reading a Gemini response")
    call.end()
    return result


def _hooks(model: Any, context: WrapContext) -> dict[str, Callable[..., Any]]:
    original = model.generate_content
    original_async = model.generate_content_async

    def generate_content(*args: Any, **kwargs: Any) -> Any:
        call = _start(model, context, args, kwargs)
        if call is None:
            return original(*args, **kwargs)
        result = call.invoke(_send, call, original, *args, **kwargs)
        return _settle(call, result, bool(kwargs.get("stream")))

    async def generate_content_async(*args: Any, **kwargs: Any) -> Any:
        call = _start(model, context, args, kwargs)
        if call is None:
            return await original_async(*args, **kwargs)
        result = await call.ainvoke(_asend, call, original_async, *args, **kwargs)
        if kwargs.get("stream"):
            return call.wrap_async_stream(result, _ChunkRecorder(call.capture))
        return _settle(call, result, False)

    return {"generate_content": generate_content, "generate_content_async": generate_content_async}


class GeminiLegacyAdapter(Adapter):
    """``google.generativeai.GenerativeModel``, instrumented in place."""

    framework = "gemini-legacy"
    extra = "gemini-legacy"
    methods = _HOOKED

    def traced_methods(self, model: Any) -> frozenset[str]:
        if not callable(getattr(model, "_prepare_request", None)):
            return frozenset()
        return frozenset(m for m in _HOOKED if callable(getattr(model, m, None)))

    def instrument(self, obj: Any, context: WrapContext) -> Any | None:
        undo = [_common.hook(obj, name, fn) for name, fn in _hooks(obj, context).items()]

        def uninstrument() -> None:
            for restore in undo:
                restore()
            obj.__dict__.pop("_aither_uninstrument", None)

        obj._aither_uninstrument = uninstrument
        return obj
