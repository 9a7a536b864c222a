"""Who a span acts for and in what context: ``aither.context(...)`` and ``wrap(..., user_id=...)``.

Every span aither starts goes through :class:`ScopedTracer`, which adds the current scope's
attributes (``enduser.id``, ``session.id``, ``aither.metadata.*``) under the span's own, so a
span's explicit values win. The scope lives in a :class:`contextvars.ContextVar`: asyncio
tasks copy it when they are created, and a thread pool's work keeps it when submitted with
``contextvars.copy_context().run``. A plain ``threading.Thread`` starts with an empty context,
as everywhere in Python.

Precedence, innermost wins: a wrapped object's own scope (``wrap(..., user_id=...)``) <
``aither.context(...)`` around the call < the span's own attributes (``log_llm_call(user_id=...)``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from ..exceptions import ArgumentTypeError, ConfigError
from ..schema import semconv
from . import light
from .async_with import AsyncWithFromSync

if TYPE_CHECKING:
    from .._runtime import Runtime


class Scope:
    """The user, session and metadata of a block or a wrapped object; immutable once made."""

    __slots__ = ("_cache", "metadata", "session_id", "user_id")

    def __init__(
        self, user_id: str | None, session_id: str | None, metadata: Mapping[str, Any] | None
    ) -> None:
        for label, value in (("user_id", user_id), ("session_id", session_id)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(f"{label} must be a non-empty string, got {value!r}")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise ArgumentTypeError(
                f"metadata must be a mapping of str to values, got {type(metadata).__name__}"
            )
        self.user_id = user_id
        self.session_id = session_id
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._cache: tuple[object, dict[str, Any]] | None = None

    def inside(self, outer: Scope | None) -> Scope:
        """This scope nested in ``outer``: its values win, metadata merged."""
        if outer is None:
            return self
        return Scope(
            self.user_id if self.user_id is not None else outer.user_id,
            self.session_id if self.session_id is not None else outer.session_id,
            {**outer.metadata, **self.metadata},
        )

    def attributes(self, runtime: Runtime) -> dict[str, Any]:
        """The span attributes of this scope, with ``runtime``'s ``redact_keys``; built once per runtime."""
        cached = self._cache
        if cached is not None and cached[0] is runtime.settings:
            return cached[1]
        from .spans import metadata_attributes

        attrs: dict[str, Any] = metadata_attributes(runtime, self.metadata) if self.metadata else {}
        if self.user_id is not None:
            attrs[semconv.ENDUSER_ID] = self.user_id
        if self.session_id is not None:
            attrs[semconv.SESSION_ID] = self.session_id
        self._cache = (runtime.settings, attrs)
        return attrs

    def __bool__(self) -> bool:
        return self.user_id is not None or self.session_id is not None or bool(self.metadata)


_CURRENT: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("aither_scope", default=None)


def current_scope() -> Scope | None:
    """The scope of the calling context (None outside every ``aither.context``)."""
    return _CURRENT.get()


class context(AsyncWithFromSync):
    """Attribute every span inside the block to a user and a session, with metadata.

    ``with aither.context(user_id="u-42", session_id="s-7", metadata={"plan": "pro"}):`` puts
    ``enduser.id``, ``session.id`` and ``aither.metadata.plan`` on every span started inside:
    predictions, LLM calls, tracked functions, events. Blocks nest (the inner values win,
    metadata is merged). Works as ``with`` and ``async with``; asyncio tasks created inside
    inherit it; for a thread pool, submit with ``contextvars.copy_context().run``.

    Raises:
        ValueError: an empty ``user_id`` or ``session_id``.
        TypeError: ``metadata`` is not a mapping.

    Example:
        >>> with aither.context(user_id="u-42", session_id="s-7"):  # doctest: +SKIP
        ...     client.chat.completions.create(...)
    """

    __slots__ = ("_scope", "_token")

    def __init__(
        self,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self._scope = Scope(user_id, session_id, metadata)
        self._token: contextvars.Token[Scope | None] | None = None

    def __enter__(self) -> context:
        self._token = _CURRENT.set(self._scope.inside(_CURRENT.get()))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        token, self._token = self._token, None
        if token is not None:
            _CURRENT.reset(token)


class ScopedTracer:
    """The tracer every aither span starts from: the scope's attributes under the span's own.

    Costs one context-variable read per span outside any scope.
    """

    __slots__ = ("_runtime", "_tracer", "fixed")

    def __init__(self, tracer: trace.Tracer, runtime: Runtime, fixed: Scope | None = None) -> None:
        self._tracer = tracer
        self._runtime = runtime
        self.fixed = fixed

    def start_span(
        self,
        name: str,
        context: Any = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[trace.Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        attributes = self._scoped(attributes)
        return self._tracer.start_span(
            name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
        )

    def start_light_span(
        self,
        name: str,
        context: Any,
        kind: SpanKind,
        attributes: dict[str, Any],
        start_time: int | None = None,
    ) -> trace.Span:
        """As :meth:`start_span`, a :class:`~aither.tracing.light.LightSpan` where one can stand
        in for the SDK's span (aither's own LLM spans, which set their attributes themselves)."""
        return light.start_span(self._tracer, name, context, kind, self._scoped(attributes), start_time)

    def _scoped(self, attributes: Mapping[str, Any] | None) -> Any:
        """``attributes`` under the scope's (the wrapped object's, then ``aither.context``'s)."""
        scope = _CURRENT.get()
        fixed = self.fixed
        if scope is None and fixed is None:
            return attributes
        merged: dict[str, Any] = {}
        if fixed is not None:
            merged.update(fixed.attributes(self._runtime))
        if scope is not None:
            merged.update(scope.attributes(self._runtime))
        if attributes:
            merged.update(attributes)
        return merged


class ScopedRuntime:
    """A runtime whose spans carry a wrapped object's own scope (``wrap(client, user_id=...)``);
    everything else is the runtime's."""

    __slots__ = ("_runtime", "tracer")

    def __init__(self, runtime: Runtime, scope: Scope) -> None:
        self._runtime = runtime
        self.tracer = ScopedTracer(runtime.tracer._tracer, runtime, scope)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime, name)


def scoped(runtime: Runtime | None, scope: Scope | None, cache: list[Any]) -> Runtime | None:
    """``runtime`` with ``scope`` fixed on its spans; ``cache`` (a one-item list) keeps the last one."""
    if runtime is None or scope is None:
        return runtime
    held = cache[0] if cache else None
    if held is None or held._runtime is not runtime:
        held = ScopedRuntime(runtime, scope)
        cache[:] = [held]
    return held  # type: ignore[no-any-return,return-value]
