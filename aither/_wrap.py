"""``wrap`` and ``unwrap``: the proxy (or the in-place instrumentation) of one model or client.

Shared by :meth:`aither.Client.wrap`, :func:`aither.wrap` and the proxies' own copies
(pickling, ``copy``, ``clone``), which wrap again with the options they were made with.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ._config import MAX_TRACE_IDS
from .adapters.base import WrapContext
from .adapters.proxy import CallableTrackedModel, TrackedModel
from .adapters.registry import adapter_for
from .tracing.identity import describe as describe_model
from .tracing.predictions import ModelIdentity
from .tracing.scope import Scope, scoped

if TYPE_CHECKING:
    from ._client import Client
    from ._runtime import Runtime


def check_name(label: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{label} must be a non-empty string, got {value!r}")


def check_mapping(label: str, value: object) -> None:
    if value is not None and not isinstance(value, Mapping):
        raise TypeError(f"{label} must be a mapping of str to values, got {type(value).__name__}")


def make_proxy(
    model: Any,
    client: Client | None,
    get_client: Callable[[], Client | None],
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
) -> Any:
    if isinstance(model, TrackedModel) or getattr(model, "_aither_uninstrument", None) is not None:
        return model  # wrapping twice is a no-op
    check_name("name", name, optional=True)
    check_name("version", version, optional=True)
    check_name("environment", environment, optional=True)
    for label, value in (("sample_rows", sample_rows), ("sample_columns", sample_columns)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"{label} must be an int >= 0, got {value!r}")
    if features_fn is not None and not callable(features_fn):
        raise TypeError(f"features_fn must be a callable taking the model's input, got {features_fn!r}")
    scope = Scope(user_id, session_id, metadata) or None
    adapter = adapter_for(model)
    held: list[Any] = []

    def get_runtime() -> Runtime | None:
        target = client if client is not None else get_client()
        return scoped(target._active_runtime() if target is not None else None, scope, held)

    context_options = {"user_id": user_id, "session_id": session_id, "metadata": metadata}

    instrumented = adapter.instrument(
        model,
        WrapContext(
            get_runtime=get_runtime,
            name=name,
            version=version,
            environment=environment,
            options={
                "name": name,
                "version": version,
                "environment": environment,
                "sample_rows": sample_rows,
                "sample_columns": sample_columns,
                "features_fn": features_fn,
                **context_options,
            },
        ),
    )
    if instrumented is not None:
        return instrumented
    class_name = adapter.class_name(model)
    from . import _client

    # the default client if there is one: never initialise one here (unpickling)
    owner = client if client is not None else _client._default
    trace_ids_size = owner.settings.trace_ids_size if owner is not None else MAX_TRACE_IDS
    identity = ModelIdentity(
        name=name or getattr(model, "__name__", None) or type(model).__name__,
        version=version,
        environment=environment,
        framework=adapter.framework_name(model),
        class_name=class_name,
        framework_version=adapter.framework_version(model),
        parameters=adapter.parameters(model),
        sample_rows=sample_rows,
        sample_columns=sample_columns,
        features_fn=features_fn,
        trace_ids=deque(maxlen=trace_ids_size),
        describe=functools.partial(describe_model, model, fingerprint=adapter.fingerprints),
    )
    options = {
        "name": name,
        "version": version,
        "environment": environment,
        "sample_rows": sample_rows,
        "sample_columns": sample_columns,
        "features_fn": features_fn,
        **context_options,
    }
    # Every proxy is callable: ``tracked(X)`` runs ``predict`` on a model that is not.
    return CallableTrackedModel(
        model, adapter=adapter, identity=identity, client=client, get_client=get_client, options=options
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
