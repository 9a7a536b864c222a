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

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ...schema import providers, semconv
from ..base import Adapter, WrapContext
from . import _hooks, gemini
from ._common import LLMCall, StreamRecorder

if TYPE_CHECKING:
    from ..._runtime import Runtime

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


class LegacyProvider(_hooks.Provider):
    """The legacy SDK's ``generate_content(contents, *, generation_config=..., stream=...)``,
    read as the REST API's JSON so that :mod:`gemini`'s parsing records it."""

    label = "a Gemini"

    def request(
        self, runtime: Runtime, site: _hooks.Site, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> _hooks.Request | None:
        model = site.extra
        try:
            body = _request_body(model, args, kwargs)
        except Exception:
            # The SDK could not build the request either: let it raise its own error, untraced.
            return None
        stream = bool(kwargs.get("stream"))
        call = gemini.start_call(
            runtime,
            site,
            providers.GCP_GEMINI,
            semconv.GEN_AI_OPERATION_GENERATE_CONTENT,
            _model_id(model),
            body,
            stream,
        )
        return None if call is None else _hooks.Request(self, call, args, kwargs, stream=stream)

    def record(self, call: LLMCall, request: _hooks.Request, response: Any) -> None:
        gemini.record_generation(call, _json(response._result))

    def recorder(self, call: LLMCall, request: _hooks.Request) -> StreamRecorder:
        return _ChunkRecorder(call.capture)

    def error_status(self, exc: BaseException) -> int | None:
        code = getattr(exc, "code", None)  # google.api_core's HTTP status
        return code if _hooks.is_int(code) else None


_PROVIDER = LegacyProvider()


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
        site = _hooks.Site(context, {}, obj)
        return _hooks.install(obj, _HOOKED, _PROVIDER, site, async_methods=("generate_content_async",))
