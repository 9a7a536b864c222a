"""The :class:`Client`, and the default client behind the module-level functions.

``aither.init(...)``, ``aither.wrap(...)``, ``aither.flush()`` and an explicit
``aither.Client(...)`` share one code path: the module-level functions are the default
client's methods. Tests build their own clients instead of resetting globals.

Before ``init()``: ``wrap``, ``log_prediction``, ``log_label``, ``log_event`` and ``span``
initialise the default client from the environment, as ``init()`` with no arguments would,
and raise :class:`~aither.exceptions.ConfigError` at that call if it cannot be done (no API
key, say). ``@track``-decorated functions and unpickled models resolve the default client at
their first call; if that fails, one error is logged and the call runs untraced.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar, overload

from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExporter

from ._config import MAX_TRACE_IDS, Settings, resolve_settings
from ._options import ARGUMENTS
from ._runtime import Runtime
from ._wrap import check_mapping as _check_mapping
from ._wrap import check_name as _check_name
from ._wrap import make_proxy, unwrap
from .adapters.base import WrapOptions, qualified_name
from .exceptions import ArgumentTypeError, ConfigError
from .export import Stats
from .schema import semconv
from .tracing import labels, llm_record, predictions, spans
from .tracing.context import format_trace_id
from .tracing.context import last_trace_id as _context_last_trace_id
from .tracing.llm_record import LLMCall
from .tracing.track import TrackOptions, instrument

logger = logging.getLogger("aither")

P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M")

_UNSET: Any = object()


class Tracking:
    """``track``, which needs nothing but a way to find the runtime at each call.

    :class:`Client` finds its own; ``aither.track`` is the method of a :class:`DefaultTracking`,
    which finds the default client's.
    """

    def _active_runtime(self) -> Runtime | None:
        raise NotImplementedError

    @overload
    def track(self, fn: Callable[P, R], /) -> Callable[P, R]: ...

    @overload
    def track(
        self,
        name: str | None = None,
        /,
        *,
        metadata: Mapping[str, Any] | None = None,
        capture_input: bool = True,
        capture_output: bool = True,
        event_type: str | None = "function_call",
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...

    def track(
        self,
        name: Any = None,
        /,
        *,
        metadata: Mapping[str, Any] | None = None,
        capture_input: bool = True,
        capture_output: bool = True,
        event_type: str | None = "function_call",
    ) -> Any:
        """Trace each call of a function: ``@aither.track``, ``@aither.track("name")``, ``@track(...)``.

        Works on sync and async functions and generators, keeping the signature for type
        checkers. The span (``aither.span.kind`` = ``function``) records the bound arguments
        (``capture_input``), the return value or the first yielded items (``capture_output``),
        ``metadata`` as ``aither.metadata.*``, ``event_type`` as ``aither.span.type``
        (``"function_call"`` by default, as the agent-monitoring SDK it replaces had it; None for
        none), and any exception, which is re-raised unchanged.
        Spans made inside the call (a wrapped model's prediction) nest under it.
        ``client.track`` is the same, for that client.

        Example:
            >>> @aither.track("score_applicant", metadata={"team": "risk"})  # doctest: +SKIP
            ... def score(features): ...
        """
        get_runtime = self._active_runtime

        def decorate(fn: Callable[P, R], span_name: str | None = None) -> Callable[P, R]:
            if not callable(fn):
                raise ArgumentTypeError(f"@aither.track decorates functions, got {fn!r}")
            label = span_name or getattr(fn, "__qualname__", None) or qualified_name(fn)
            options = TrackOptions(label, metadata, capture_input, capture_output, event_type)
            return instrument(get_runtime, fn, options)

        if callable(name):  # bare @track
            return decorate(name)
        if name is not None and (not isinstance(name, str) or not name):
            raise ArgumentTypeError(f"@aither.track takes a span name (str) or a function, got {name!r}")
        _check_name("event_type", event_type, optional=True)
        return lambda fn: decorate(fn, name)


class Client(Tracking):
    """An aither client: its own settings, TracerProvider, export pipeline and ledger.

    Most programs use the module-level functions (``aither.init``, ``aither.wrap``...), which
    act on a default client; build a ``Client`` to send to two places, or in tests.

    Every keyword but the last two is a setting: argument > ``AITHER_*`` variable > ``OTEL_*``
    variable > default, each described once, in the table of ``aither/_options.py`` (the
    README's configuration table is generated from it; ``None`` means "not given").

    Args:
        tracer_provider: make spans with your own provider (then your processors deliver them).
        exporter: deliver through this span exporter instead of OTLP/HTTP (tests, custom sinks).

    Raises:
        ConfigError: a setting is wrong (the message names the argument or variable and the fix).

    Example:
        >>> client = aither.Client(otlp_endpoint="http://localhost:4318/v1/traces")  # doctest: +SKIP
        >>> tracked = client.wrap(model, name="fraud")                                # doctest: +SKIP
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        otlp_endpoint: str | None = None,
        enabled: bool | None = None,
        service_name: str | None = None,
        environment: str | None = None,
        flush_interval: float | None = None,
        batch_size: int | None = None,
        max_queue_size: int | None = None,
        max_queue_bytes: int | None = None,
        export_timeout: float | None = None,
        shutdown_timeout: float | None = None,
        sample_rows: int | None = None,
        sample_columns: int | None = None,
        prediction_rows: int | None = None,
        redact_keys: Iterable[str] | None = None,
        capture_content: bool | None = None,
        capture_embeddings: bool | None = None,
        trace_ids_size: int | None = None,
        debug: bool | None = None,
        max_retries: int | None = None,
        compression: str | None = None,
        certificate_file: str | None = None,
        client_key_file: str | None = None,
        client_certificate_file: str | None = None,
        raise_internal_errors: bool | None = None,
        mask_pii: bool | None = None,
        openai_stream_usage: bool | None = None,
        on_error: Callable[[BaseException], object] | None = None,
        tracer_provider: trace.TracerProvider | None = None,
        exporter: SpanExporter | None = None,
    ) -> None:
        # The signature above is the table's (aither/_options.py; tests/core/test_settings_table.py
        # checks each name, type and default): pick its values without writing each name again.
        given = {name: value for name, value in locals().items() if name in ARGUMENTS}
        self.settings: Settings = resolve_settings(
            require_api_key=exporter is None and tracer_provider is None, **given
        )
        self._runtime: Runtime | None = (
            Runtime(self.settings, exporter=exporter, tracer_provider=tracer_provider)
            if self.settings.enabled
            else None
        )

    # -- the runtime lookup: wrapped models, LLM hooks and @track ask it at each call -----------
    def _active_runtime(self) -> Runtime | None:
        return self._runtime

    def runtime_lookup(self) -> Callable[[], Runtime | None]:
        """The callable that wrapped models, LLM hooks and ``@track`` ask for this client's runtime.

        Integrations (``aither.langchain_handler``) call it at each run, as the proxies do, so
        that a client shut down or switched off is seen at the next call (None: aither is off).

        Returns:
            A callable of no arguments returning the client's runtime, or None.
        """
        return self._active_runtime

    @property
    def enabled(self) -> bool:
        return self._runtime is not None

    # -- wrap ------------------------------------------------------------------------------------
    def wrap(
        self,
        model: M,
        *,
        name: str | None = None,
        version: str | None = None,
        environment: str | None = None,
        sample_rows: int | None = None,
        sample_columns: int | None = None,
        features_fn: Callable[[Any], Any] | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> M:
        """Return a transparent proxy of ``model`` whose predictions are traced by this client.

        The proxy passes ``isinstance(tracked, type(model))``, so it is typed as the model; its
        own attributes (``last_trace_id``, ``trace_ids``) are :class:`aither.TrackedModel`'s.
        See :func:`aither.wrap`.
        """
        options = WrapOptions(
            name=name,
            version=version,
            environment=environment,
            sample_rows=sample_rows,
            sample_columns=sample_columns,
            features_fn=features_fn,
            user_id=user_id,
            session_id=session_id,
            metadata=metadata,
        )
        return make_proxy(  # type: ignore[no-any-return]
            model,
            self._active_runtime,
            options,
            trace_ids_size=self.settings.trace_ids_size,
            unpickle=unpickle_tracked,
        )

    def unwrap(self, obj: Any) -> Any:
        """The original object of a wrapped model (or ``obj`` itself when it is not wrapped)."""
        return unwrap(obj)

    # -- functions and spans -----------------------------------------------------------------------
    def span(
        self,
        name: str,
        *,
        kind: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        input: Any = None,
    ) -> spans.AitherSpan | NoSpan:
        """A context manager (sync or async) for a function, tool or agent step span.

        ``kind`` is a free-form type recorded as ``aither.span.type`` (``tool``, ``agent``,
        ``retrieval``...). See :class:`aither.tracing.spans.AitherSpan` for what it sets.
        """
        _check_name("name", name)
        _check_name("kind", kind, optional=True)
        _check_mapping("metadata", metadata)
        runtime = self._active_runtime()
        if runtime is None:
            return NoSpan()
        return spans.AitherSpan(
            runtime, name, kind=semconv.SPAN_KIND_FUNCTION, span_type=kind, metadata=metadata, input=input
        )

    # -- manual records --------------------------------------------------------------------------------
    def log_prediction(
        self,
        model_name: str,
        features: Any,
        prediction: Any,
        *,
        version: str | None = None,
        environment: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        latency_ms: float | None = None,
    ) -> str | None:
        """Record a prediction made without ``wrap``; returns its trace id (None when disabled)."""
        _check_name("model_name", model_name)
        _check_name("version", version, optional=True)
        _check_name("environment", environment, optional=True)
        if latency_ms is not None:
            spans.check_latency(latency_ms)
        runtime = self._active_runtime()
        if runtime is None:
            return None
        trace_id = predictions.log_prediction(
            runtime,
            runtime.predictions,
            model_name=model_name,
            features=features,
            prediction=prediction,
            version=version,
            environment=environment,
            metadata=metadata,
            latency_ms=latency_ms,
            set_metadata=lambda span, meta: spans.set_metadata(runtime, span, meta),
        )
        return format_trace_id(trace_id)

    def log_label(self, trace_id: str, label: Any, *, model_name: str | None = None) -> None:
        """Record the ground truth of a prediction; see :func:`aither.log_label`."""
        runtime = self._active_runtime()
        if runtime is None:
            labels.parse_trace_id(trace_id)  # a malformed id is an error even when disabled
            return
        labels.log_label(runtime, runtime.predictions, trace_id, label, model_name=model_name)

    def log_event(
        self,
        name: str,
        *,
        input: Any = None,
        output: Any = None,
        cost: float | None = None,
        metadata: Mapping[str, Any] | None = None,
        event_type: str | None = None,
        latency_ms: float | None = None,
        status: str | None = None,
        error_message: str | None = None,
        timestamp: Any = None,
    ) -> str | None:
        """Record one event (an agent step, a tool call); returns its trace id (None when disabled).

        See :func:`aither.log_event`.
        """
        _check_name("name", name)
        _check_name("event_type", event_type, optional=True)
        _check_mapping("metadata", metadata)
        # A caller's mistake is an error even when aither is off.
        timing = spans.check_event(cost, latency_ms, status, error_message, timestamp)
        runtime = self._active_runtime()
        if runtime is None:
            return None
        trace_id = spans.log_event(
            runtime, name, timing, input=input, output=output, metadata=metadata, event_type=event_type
        )
        return format_trace_id(trace_id)

    def log_llm_call(self, call: LLMCall | None = None, /, **fields: Any) -> str | None:
        """Record an LLM call made by a client aither does not wrap; returns its trace id.

        Takes an :class:`aither.LLMCall` or its fields as keywords; see :func:`aither.log_llm_call`.
        A malformed field raises ``ValueError`` naming it, enabled or not.
        """
        if call is None:
            try:
                call = LLMCall(**fields)
            except TypeError as exc:  # a field that does not exist, or no model
                raise ArgumentTypeError(f"log_llm_call: {exc}") from None
        elif fields:
            raise ArgumentTypeError("log_llm_call takes an aither.LLMCall or keyword fields, not both")
        checked = llm_record.check(call)
        runtime = self._active_runtime()
        if runtime is None:
            return None
        return llm_record.record(runtime, checked)

    # -- delivery ---------------------------------------------------------------------------------------
    def flush(self, timeout: float = 5.0) -> bool:
        """Export everything queued; True when all of it was delivered within ``timeout`` seconds."""
        runtime = self._runtime
        return True if runtime is None else runtime.flush(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush within ``timeout`` seconds, then stop; later spans are dropped and counted."""
        runtime = self._runtime
        return True if runtime is None else runtime.close(timeout)

    def stats(self) -> Stats:
        """The span accounting: created == exported + dropped + failed + queued, exactly."""
        runtime = self._runtime
        if runtime is None:
            return Stats(0, 0, 0, 0, 0, 0, 0)
        return runtime.stats()

    def last_trace_id(self) -> str | None:
        """Trace id of the last span aither made in this thread or asyncio task."""
        return _context_last_trace_id()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<aither.Client endpoint={self.settings.traces_endpoint!r} enabled={self.enabled}>"


class NoSpan:
    """What ``span()`` gives when aither is disabled: every method does nothing."""

    trace_id = None
    span_id = None
    otel_span = None

    def __enter__(self) -> NoSpan:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    async def __aenter__(self) -> NoSpan:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def set_input(self, value: Any) -> None:
        return None

    def set_output(self, value: Any) -> None:
        return None

    def set_cost(self, usd: float) -> None:
        spans.check_cost(usd)

    def set_metadata(self, metadata: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        return None

    def set_attribute(self, key: str, value: Any) -> None:
        return None


# -- the default client ------------------------------------------------------------------------

_default: Client | None = None
_default_lock = threading.Lock()
_reported_lazy_failure = False


def _signature_of(source: Callable[P, Any]) -> Callable[[Callable[..., R]], Callable[P, R]]:
    """Give the decorated function ``source``'s parameters, for type checkers and ``inspect``:
    the parameters are written once, where they are used."""

    def decorate(fn: Callable[..., R]) -> Callable[P, R]:
        fn.__signature__ = inspect.signature(source).replace(  # type: ignore[attr-defined]
            return_annotation=inspect.signature(fn).return_annotation
        )
        return fn

    return decorate


def signature_of_method(
    source: Callable[Concatenate[Any, P], R],
) -> Callable[[Callable[..., Any]], Callable[P, R]]:
    """:func:`_signature_of` for a method: the decorated function takes its parameters but ``self``."""

    def decorate(fn: Callable[..., Any]) -> Callable[P, R]:
        parameters = list(inspect.signature(source).parameters.values())[1:]
        fn.__signature__ = inspect.signature(source).replace(parameters=parameters)  # type: ignore[attr-defined]
        return fn

    return decorate


@_signature_of(Client)
def init(*args: Any, **kwargs: Any) -> Client:
    """Create the default client (closing the previous one, after flushing it).

    Takes :class:`Client`'s arguments (every setting of the README's configuration table).

    Example:
        >>> aither.init(service_name="checkout", capture_content=True)  # doctest: +SKIP
    """
    global _default
    client = Client(*args, **kwargs)
    with _default_lock:
        previous, _default = _default, client
    if previous is not None:
        previous.close()
    return client


def default_client() -> Client:
    """The default client, initialised from the environment on first use (ConfigError if it can't be)."""
    global _default
    client = _default
    if client is not None:
        return client
    with _default_lock:
        if _default is None:
            _default = Client()
        return _default


def default_client_lazy() -> Client | None:
    """The default client for call-time lookups: a failure is logged once, and None returned."""
    global _reported_lazy_failure
    try:
        return default_client()
    except ConfigError as exc:
        if not _reported_lazy_failure:
            _reported_lazy_failure = True
            logger.error(
                "aither is not initialised and could not initialise itself; calls run untraced: %s", exc
            )
        return None


def default_runtime_lazy() -> Runtime | None:
    """The default client's runtime, looked up at each call (None: off, or not initialised)."""
    client = default_client_lazy()
    return client._active_runtime() if client is not None else None


class DefaultTracking(Tracking):
    """What ``aither.track`` is the method of: the default client's runtime, looked up at each
    call, so a function decorated before ``init()`` follows it."""

    def _active_runtime(self) -> Runtime | None:
        return default_runtime_lazy()


def unpickle_tracked(model: Any, options: WrapOptions) -> Any:
    """Wrap an unpickled model again, for the default client of the process that loads it:
    looked up at its first call, never initialised here."""
    owner = _default
    size = owner.settings.trace_ids_size if owner is not None else MAX_TRACE_IDS
    return make_proxy(model, default_runtime_lazy, options, trace_ids_size=size, unpickle=unpickle_tracked)


def close_default(timeout: float | None = None) -> bool:
    """Close the default client; the next call initialises a fresh one."""
    global _default
    with _default_lock:
        client, _default = _default, None
    return True if client is None else client.close(timeout)


llm_record.register_default_client(default_client)
