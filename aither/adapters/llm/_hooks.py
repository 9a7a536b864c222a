"""One hook layer for LLM clients: a provider module describes its wire format, this does the rest.

A provider module (``openai.py``, ``anthropic.py``, ``gemini.py``...) keeps only the parsing
of its wire format, in a :class:`Provider` description:

- :meth:`Provider.request`: read one request (the hooked method's arguments) and start its
  span, or return None to pass it through untraced;
- :meth:`Provider.record`: record a whole response on the span;
- :meth:`Provider.recorder`: a :class:`~aither.adapters.llm._streams.StreamRecorder` for a
  stream.

Everything else exists once, here: :func:`install` hooks the named methods of a client
instance (and ``copy`` / ``with_options``, so the clients they return are hooked too) and
sets ``_aither_uninstrument``; :func:`sync_hook` / :func:`async_hook` build the hooked methods
from the description; :meth:`Request.finish` records what the SDK returned in one order
(record, end the span, then count an aither error, so a span is whole even when aither fails);
:func:`raw_mode` / :func:`raw_json` read the SDK's raw-response mode; :func:`server_attributes`
gives ``server.address`` and ``server.port`` (defaulted from the scheme, the same for every
provider); :func:`stop_sequences` keeps at most :data:`STOP_SEQUENCES_MAX` of them.

A hooked method is a pure pass-through when aither is off (``context.get_runtime()`` is
None, the one lookup per call) or when the description returns None. The caller's results
and exceptions pass through untouched; aither's own errors are counted with
``runtime.internal_error`` (raised only under ``raise_internal_errors=True``, as in tests).

Example, a provider whose client sends every call through ``client.send(path, body)``::

    class Acme(_hooks.Provider):
        label = "Acme"

        def request(self, runtime, site, args, kwargs):
            path, body = args[0], args[1]
            if path != "/v1/chat":
                return None
            call = LLMCall.start(runtime, operation="chat", provider="acme",
                                 request_model=body.get("model"), attributes=dict(site.server),
                                 client_name=site.context.name, stream=bool(body.get("stream")))
            return None if call is None else _hooks.Request(self, call, args, kwargs,
                                                            stream=bool(body.get("stream")))

        def record(self, call, request, response):
            # Request.finish ends the span after this, and counts an error raised here.
            call.record_response(response_model=response["model"], finish_reasons=["stop"])

    def instrument(client, context):
        site = _hooks.Site(context, _hooks.server_attributes(client.base_url))
        return _hooks.install(client, ("send",), Acme(), site, instrument)

``docs/llm.md`` ("Adding a provider") walks through it.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeGuard
from urllib.parse import urlsplit

from ...schema import semconv
from ._common import LLMCall, StreamRecorder, TextBudget, hook

if TYPE_CHECKING:
    from ..._runtime import Runtime
    from ..base import WrapContext

STOP_SEQUENCES_MAX: Final = 16
"""Stop sequences kept in ``gen_ai.request.stop_sequences``, for every provider."""
RAW_RESPONSE_HEADER: Final = "X-Stainless-Raw-Response"
"""Set by the Stainless SDKs (OpenAI, Anthropic) on ``with_raw_response`` (``raw`` or
``true``: the body was read, the span is recorded from its JSON) and
``with_streaming_response`` (``stream``: the body is left unread, and the span says so with
``aither.llm.response_unread``)."""
_DEFAULT_PORTS: Final = {"https": 443, "http": 80}


# -- small checks every provider needs ---------------------------------------------------------------


def is_number(value: object) -> TypeGuard[int | float]:
    """An int or float that is not a bool (JSON numbers as request parameters)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value: object) -> TypeGuard[int]:
    """An int that is not a bool (token counts, sizes)."""
    return isinstance(value, int) and not isinstance(value, bool)


def stop_sequences(value: Any) -> list[str] | None:
    """``gen_ai.request.stop_sequences`` of a request's stop value: one string, or the strings
    of a list, at most :data:`STOP_SEQUENCES_MAX`; None when there is none."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        kept = [s for s in value[:STOP_SEQUENCES_MAX] if isinstance(s, str)]
        return kept or None
    return None


def server_attributes(url: Any) -> dict[str, Any]:
    """``server.address`` and ``server.port`` of a client's base URL (a string or an
    ``httpx.URL``); the port defaults to the scheme's (443 for https, 80 for http). Empty when
    the URL cannot be read (a test double without one)."""
    found: dict[str, Any] = {}
    try:
        parts = urlsplit(str(url))
        if parts.hostname:
            found[semconv.SERVER_ADDRESS] = parts.hostname
        port = parts.port if parts.port is not None else _DEFAULT_PORTS.get(parts.scheme)
        if port is not None and found:
            found[semconv.SERVER_PORT] = port
    except Exception:  # an unreadable URL: no server attributes rather than none of the span
        return {}
    return found


def raw_mode(options: Any) -> str | None:
    """The raw-response mode of a Stainless SDK's request options (see
    :data:`RAW_RESPONSE_HEADER`), or None for a parsed response."""
    headers = getattr(options, "headers", None)
    value = headers.get(RAW_RESPONSE_HEADER) if isinstance(headers, Mapping) else None
    return str(value) if value else None


def raw_json(result: Any) -> Any:
    """The JSON of a raw response whose body the SDK already read; None when it was not read
    (aither never reads a body for the caller) or is not JSON."""
    http = getattr(result, "http_response", None)
    if http is None:
        return None
    try:
        content = http.content  # raises when the body was not read
    except Exception:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None


def text_message(role: Any, text: str, budget: TextBudget) -> dict[str, Any]:
    """One captured message of one text part, in the GenAI conventions' shape."""
    return {"role": role, "parts": [{"type": "text", "content": budget.text(text)}]}


def start_call(
    runtime: Runtime,
    site: Site,
    provider: str,
    *,
    operation: str,
    model: str | None,
    attributes: dict[str, Any],
    stream: bool = False,
    **reading: Any,
) -> LLMCall | None:
    """Start the span of one request of a hooked client: the site's server attributes and
    client name added to ``attributes``; ``reading`` is the rest of
    :meth:`~aither.adapters.llm._common.LLMCall.start`'s keywords (texts, content builders)."""
    return LLMCall.start(
        runtime,
        operation=operation,
        provider=provider,
        request_model=model,
        attributes={**site.server, **attributes} if site.server else attributes,
        client_name=site.context.name,
        stream=stream,
        **reading,
    )


# -- the provider description -------------------------------------------------------------------------


class Site:
    """What the hooks of one instrumented client know, built once at wrap time: the wrap
    context, the server attributes, and anything the provider keeps (``extra``)."""

    __slots__ = ("context", "extra", "server")

    def __init__(self, context: WrapContext, server: Mapping[str, Any], extra: Any = None) -> None:
        self.context = context
        self.server = dict(server)
        self.extra = extra


@dataclass(slots=True, eq=False, repr=False)
class Request:
    """One traced request: its span, the arguments the SDK is called with (possibly amended),
    and how its result is read."""

    provider: Provider
    call: LLMCall
    args: Sequence[Any]
    kwargs: dict[str, Any]
    _: KW_ONLY
    stream: bool = False
    raw: str | None = None
    state: Any = None
    result: Any = field(default=None, init=False)
    """The SDK's result, kept by :meth:`finish` for the late reader."""

    def __call__(self) -> None:
        """Record the result kept by :meth:`finish` (the late reader, on the export thread)."""
        self.provider.record(self.call, self, self.result)

    def finish(self, result: Any, *, is_async: bool) -> Any:
        """Record ``result`` and end the span; a stream comes back in a proxy that ends it."""
        call = self.call
        provider = self.provider
        try:
            if self.raw is not None:
                body = raw_json(result) if self.raw in ("raw", "true") and not self.stream else None
                if isinstance(body, Mapping):
                    provider.record(call, self, body)
                else:
                    call.set_attribute(semconv.AITHER_LLM_RESPONSE_UNREAD, True)
            elif self.stream and provider.is_stream(result):
                return provider.wrap_stream(call, self, result, is_async=is_async)
            elif provider.record_late:
                # Read on the export thread (see LLMCall.record_later): the caller's thread
                # only keeps a reference to the parsed response, in this request, which is
                # the reader (no partial: fewer objects per call for the collector).
                self.result = result
                call.record_later(self)
            else:
                provider.record(call, self, result)
        except Exception as exc:
            # End first, so the span is whole; then count it (raised under raise_internal_errors,
            # as in tests, so an adapter bug cannot hide there).
            call.end()
            call.runtime.internal_error(exc, f"reading {provider.label} response")
            return result
        call.end()
        return result


class Provider:
    """A provider's wire format: how to read a request, record a response, record a stream.

    Subclass it once per SDK; the hooks, install and undo, ``copy`` / ``with_options``, raw
    responses and the end of a response are :mod:`_hooks`'s.
    """

    label = "an LLM"
    """Names the provider in counted errors (``reading {label} request``)."""

    record_late = False
    """Whether :meth:`record` may run on the export thread (see ``LLMCall.record_later``): true
    when the response it reads is a whole parsed object that nothing reads after the call
    (not a body the SDK goes on to parse and may fail on)."""

    def request(
        self, runtime: Runtime, site: Site, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Request | None:
        """Start the span of the request the hooked ``method`` was called with, or None to
        pass it through untraced (not an LLM call, or the span could not start)."""
        raise NotImplementedError

    def read_request(
        self, runtime: Runtime, site: Site, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Request | None:
        """:meth:`request`, called by the hooks: an error of aither's reading the request is
        counted (never the caller's), and the call passes through untraced."""
        try:
            return self.request(runtime, site, method, args, kwargs)
        except Exception as exc:
            runtime.internal_error(exc, f"reading {self.label} request")
            return None

    def record(self, call: LLMCall, request: Request, response: Any) -> None:
        """Record a whole response (a parsed object, or a raw response's JSON) on ``call``."""
        raise NotImplementedError

    def recorder(self, call: LLMCall, request: Request) -> StreamRecorder:
        """The recorder of a streamed response's chunks."""
        return StreamRecorder()

    def is_stream(self, result: Any) -> bool:
        """Whether the SDK returned a stream (rather than, say, an error body)."""
        return True

    def wrap_stream(self, call: LLMCall, request: Request, stream: Any, *, is_async: bool) -> Any:
        """The stream handed to the caller: a proxy that records into ``call`` and ends it."""
        recorder = self.recorder(call, request)
        return call.wrap_stream(stream, recorder, is_async=is_async)

    def error_status(self, exc: BaseException) -> int | None:
        """The HTTP status an SDK's exception carries, when it is not ``status_code`` (which
        every span reads); None otherwise."""
        return None


class StainlessProvider(Provider):
    """A provider whose official SDK is generated by Stainless (OpenAI's, Anthropic's): every
    call goes through the client's ``request(cast_to, options, *, stream=..., stream_cls=...)``,
    ``options`` a ``FinalRequestOptions`` (``method``, ``url``, ``json_data``). This reads that
    choke point; a subclass reads the POST requests it traces in :meth:`read_post`."""

    record_late = True

    def request(
        self, runtime: Runtime, site: Site, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Request | None:
        if len(args) < 2:
            return None
        options = args[1]
        if str(getattr(options, "method", "")).lower() != "post":
            return None
        flag = kwargs["stream"] if "stream" in kwargs else (args[2] if len(args) > 2 else False)
        return self.read_post(runtime, Post(site, options, bool(flag), args, kwargs))

    def read_post(self, runtime: Runtime, post: Post) -> Request | None:
        """Start the span of the POST ``post`` describes, or None to pass it through."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Post:
    """A POST through a Stainless client's ``request(cast_to, options, *, stream=...)``."""

    site: Site
    options: Any
    """The SDK's ``FinalRequestOptions``: ``method``, ``url``, ``json_data``."""
    stream: bool
    """The SDK's own ``stream=`` argument."""
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    """The arguments of ``request``, as the hook passes them on."""


def _status_reader(provider: Provider) -> Callable[[BaseException], int | None] | None:
    """The provider's reading of an exception's HTTP status, kept when 400 or more; None when
    the provider reads none (see :attr:`LLMCall.error_status`)."""
    if type(provider).error_status is Provider.error_status:
        return None

    def error_status(exc: BaseException) -> int | None:
        status = provider.error_status(exc)
        return status if is_int(status) and status >= 400 else None

    return error_status


def _request_reader(
    provider: Provider, site: Site, method: str
) -> Callable[[tuple[Any, ...], dict[str, Any]], Request | None]:
    """What a hooked method does first, sync or async: the request to trace (its span started),
    or None to pass the call through (aither is off, or the provider returns None)."""
    get_runtime = site.context.get_runtime
    error_status = _status_reader(provider)

    def read(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Request | None:
        runtime = get_runtime()
        if runtime is None:
            return None
        request = provider.read_request(runtime, site, method, args, kwargs)
        if request is not None:
            request.call.error_status = error_status
        return request

    return read


# -- the hooks ----------------------------------------------------------------------------------------


def sync_hook(
    original: Callable[..., Any], provider: Provider, site: Site, method: str
) -> Callable[..., Any]:
    """The hooked sync method ``method``: ``original`` traced as ``provider`` reads it."""
    read = _request_reader(provider, site, method)

    def hooked(*args: Any, **kwargs: Any) -> Any:
        request = read(args, kwargs)
        if request is None:
            return original(*args, **kwargs)
        result = request.call.invoke(original, *request.args, **request.kwargs)
        return request.finish(result, is_async=False)

    return hooked


def async_hook(
    original: Callable[..., Any], provider: Provider, site: Site, method: str
) -> Callable[..., Any]:
    """The hooked async method (awaits ``original``)."""
    read = _request_reader(provider, site, method)

    async def hooked(*args: Any, **kwargs: Any) -> Any:
        request = read(args, kwargs)
        if request is None:
            return await original(*args, **kwargs)
        result = await request.call.ainvoke(original, *request.args, **request.kwargs)
        return request.finish(result, is_async=True)

    return hooked


def install(
    client: Any,
    methods: Sequence[str],
    provider: Provider,
    site: Site,
    reinstall: Callable[[Any, WrapContext], Any] | None = None,
    *,
    target: Any = None,
    async_methods: Collection[str] | None = None,
) -> Any:
    """Hook ``methods`` of ``target`` (default: ``client``) on that instance only, sync or
    async as each method is (or as ``async_methods`` names them, for an SDK whose async
    methods are not coroutine functions to ``inspect``), and set ``client._aither_uninstrument``
    (which ``aither.unwrap`` calls) to undo it.

    With ``reinstall``, ``client.copy(...)`` and ``client.with_options(...)`` are hooked too:
    the client they return is passed to ``reinstall(new, context)``, so it is traced (with the
    same wrap context) and has its own ``_aither_uninstrument``.
    """
    owner = client if target is None else target
    undos = []
    for name in methods:
        original = getattr(owner, name)
        is_async = (
            name in async_methods if async_methods is not None else inspect.iscoroutinefunction(original)
        )
        make = async_hook if is_async else sync_hook
        undos.append(hook(owner, name, make(original, provider, site, name)))
    if reinstall is not None:
        for name in ("copy", "with_options"):
            method = getattr(client, name, None)
            if callable(method):
                undos.append(hook(client, name, _copying(method, site.context, provider.label, reinstall)))

    def uninstrument() -> None:
        for undo in reversed(undos):
            undo()
        client.__dict__.pop("_aither_uninstrument", None)

    client._aither_uninstrument = uninstrument
    return client


def _copying(
    method: Callable[..., Any], context: WrapContext, label: str, reinstall: Callable[[Any, WrapContext], Any]
) -> Callable[..., Any]:
    def copy(*args: Any, **kwargs: Any) -> Any:
        new = method(*args, **kwargs)
        if getattr(new, "_aither_uninstrument", None) is None:
            try:
                reinstall(new, context)
            except Exception as exc:
                runtime = context.get_runtime()
                if runtime is not None:
                    runtime.internal_error(exc, f"instrumenting a copy of {label} client")
        return new

    return copy
