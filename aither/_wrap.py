"""``wrap`` and ``unwrap``: the proxy (or the in-place instrumentation) of one model or client.

Shared by :meth:`aither.Client.wrap`, :func:`aither.wrap` and the proxies' own copies
(pickling, ``copy``, ``clone``), which wrap again with the options they were made with.
A proxy and an LLM client's hooks ask the same ``get_runtime`` for their runtime.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .adapters.base import WrapContext, WrapOptions
from .adapters.proxy import CallableTrackedModel, TrackedModel
from .adapters.registry import adapter_for
from .exceptions import ArgumentTypeError, ConfigError
from .tracing.identity import describe as describe_model
from .tracing.predictions import ModelIdentity
from .tracing.scope import Scope, scoped

if TYPE_CHECKING:
    from ._runtime import Runtime


def check_name(label: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{label} must be a non-empty string, got {value!r}")


def check_mapping(label: str, value: object) -> None:
    if value is not None and not isinstance(value, Mapping):
        raise ArgumentTypeError(f"{label} must be a mapping of str to values, got {type(value).__name__}")


def make_proxy(
    model: Any,
    lookup: Callable[[], Runtime | None],
    options: WrapOptions,
    *,
    trace_ids_size: int,
    unpickle: Callable[[Any, WrapOptions], Any],
) -> Any:
    """The proxy of ``model`` (or ``model`` instrumented in place), recording with ``lookup()``.

    ``lookup`` is the client's runtime lookup (None: aither is off), asked at each call;
    ``unpickle(model, options)`` wraps an unpickled copy (a module-level function, so that
    pickle can name it).
    """
    if isinstance(model, TrackedModel) or getattr(model, "_aither_uninstrument", None) is not None:
        return model  # wrapping twice is a no-op
    check_name("name", options.name, optional=True)
    check_name("version", options.version, optional=True)
    check_name("environment", options.environment, optional=True)
    for label, value in (("sample_rows", options.sample_rows), ("sample_columns", options.sample_columns)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ConfigError(f"{label} must be an int >= 0, got {value!r}")
    if options.features_fn is not None and not callable(options.features_fn):
        raise ArgumentTypeError(
            f"features_fn must be a callable taking the model's input, got {options.features_fn!r}"
        )
    scope = Scope(options.user_id, options.session_id, options.metadata) or None
    adapter = adapter_for(model)
    held: list[Any] = []

    def get_runtime() -> Runtime | None:
        return scoped(lookup(), scope, held)

    instrumented = adapter.instrument(
        model,
        WrapContext(
            get_runtime=get_runtime,
            name=options.name,
            version=options.version,
            environment=options.environment,
            options=options,
        ),
    )
    if instrumented is not None:
        return instrumented
    identity = ModelIdentity(
        name=options.name or getattr(model, "__name__", None) or type(model).__name__,
        version=options.version,
        environment=options.environment,
        framework=adapter.framework_name(model),
        class_name=adapter.class_name(model),
        framework_version=adapter.framework_version(model),
        parameters=adapter.parameters(model),
        sample_rows=options.sample_rows,
        sample_columns=options.sample_columns,
        features_fn=options.features_fn,
        trace_ids=deque(maxlen=trace_ids_size),
        describe=functools.partial(describe_model, model, fingerprint=adapter.fingerprints),
    )

    def rewrap(copy: Any) -> Any:
        return make_proxy(copy, lookup, options, trace_ids_size=trace_ids_size, unpickle=unpickle)

    # Every proxy is callable: ``tracked(X)`` runs ``predict`` on a model that is not.
    return CallableTrackedModel(
        model,
        adapter=adapter,
        identity=identity,
        get_runtime=get_runtime,
        options=options,
        rewrap=rewrap,
        unpickle=unpickle,
    )


def unwrap(obj: Any) -> Any:
    """The original object of a wrapped model (or ``obj`` itself when it is not wrapped).

    An LLM client instrumented in place gets its own request method back and is returned.
    """
    while isinstance(obj, TrackedModel):
        obj = obj.__wrapped__
    undo = getattr(obj, "_aither_uninstrument", None)
    if undo is not None:
        undo()
    return obj
