"""The transparent proxy ``wrap`` returns: every attribute passes through, predictions are traced.

Built the dbapi way (opentelemetry-instrumentation-dbapi): a ``wrapt.ObjectProxy`` with its
own state in ``_self_*`` attributes, so ``isinstance``, attribute access, ``dir`` and
equality behave as the model's own; pickling and ``sklearn.base.clone`` give a tracked copy.

Both call forms, for every model (the original README's promise): ``tracked(X)`` and
``tracked.predict(X)``. A model without ``__call__`` (a scikit-learn estimator, a booster)
answers ``tracked(X)`` with its ``predict``; a model without ``predict`` (a PyTorch module, a
transformers model, a tinygrad model, any callable) answers ``tracked.predict(x)`` with its
forward call. Either form makes one span, whose ``ml.method`` is the method that ran. A
model's own ``predict`` or ``__call__`` is never replaced. ``callable(tracked)`` is True for
every wrapped model.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wrapt

from ..tracing.context import format_trace_id, last_trace_id
from ..tracing.predictions import ModelIdentity, traced_call, traced_call_async
from .base import Adapter, WrapOptions

if TYPE_CHECKING:
    from .._runtime import Runtime


def call_forms(model: Any, traced: frozenset[str]) -> dict[str, str]:
    """The call forms ``model`` lacks that the proxy answers: form -> the traced method it runs.

    ``tracked(X)`` runs ``predict`` on a model that is not callable; ``tracked.predict(x)``
    runs the forward call on a model that has no ``predict`` attribute of its own.
    """
    forms: dict[str, str] = {}
    if "__call__" not in traced and "predict" in traced and not callable(model):
        forms["__call__"] = "predict"
    if "predict" not in traced and "__call__" in traced and not hasattr(model, "predict"):
        forms["predict"] = "__call__"
    return forms


class _TracedMethod:
    """A traced method of one proxy; looks the model's method up at each call, so a model
    re-fitted or patched later is still the one that runs."""

    __slots__ = ("_name", "_proxy")

    def __init__(self, proxy: TrackedModel, name: str) -> None:
        self._proxy = proxy
        self._name = name

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        return getattr(getattr(self._proxy.__wrapped__, self._name, None), "__doc__", None)

    @property
    def __wrapped__(self) -> Any:
        """The model's own method, for ``inspect.signature`` and ``help``."""
        return getattr(self._proxy.__wrapped__, self._name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._proxy._self_call(self._name, args, kwargs)

    def __repr__(self) -> str:
        return f"<traced method {self._name} of {self._proxy.__wrapped__!r}>"


class TrackedModel(wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    """A model wrapped by :func:`aither.wrap`.

    Threading: safe to call from many threads and tasks at once; ``last_trace_id`` belongs to
    the calling thread or asyncio task.
    """

    def __init__(
        self,
        wrapped: Any,
        *,
        adapter: Adapter,
        identity: ModelIdentity,
        get_runtime: Callable[[], Runtime | None],
        options: WrapOptions,
        rewrap: Callable[[Any], TrackedModel],
        unpickle: Callable[[Any, WrapOptions], Any],
    ) -> None:
        """Made by ``aither._wrap.make_proxy``: ``get_runtime`` is the lookup an LLM client's
        hooks get too; ``rewrap`` wraps a copy the same way; ``unpickle`` (a module-level
        function) wraps an unpickled one."""
        super().__init__(wrapped)
        self._self_adapter = adapter
        self._self_identity = identity
        self._self_get_runtime = get_runtime
        self._self_options = options
        self._self_rewrap = rewrap
        self._self_unpickle = unpickle
        self._self_traced = adapter.traced_methods(wrapped)
        self._self_forms = call_forms(wrapped, self._self_traced)
        self._self_methods: dict[str, _TracedMethod] = {}
        self._self_async: dict[str, tuple[Any, bool]] = {}

    # -- tracing -------------------------------------------------------------------------------
    def _self_call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        wrapped = self.__wrapped__
        fn = getattr(wrapped, method) if method != "__call__" else wrapped
        runtime = self._self_get_runtime()
        if runtime is None:
            return fn(*args, **kwargs)
        try:
            features = self._self_adapter.features(method, args, kwargs)
        except Exception as exc:
            runtime.internal_error(exc, "reading a model's input")
            features = None
        traced = traced_call_async if self._self_is_async(method, fn) else traced_call
        return traced(runtime, runtime.predictions, self._self_identity, method, fn, features, args, kwargs)

    def _self_is_async(self, method: str, fn: Any) -> bool:
        """Whether ``fn`` is a coroutine function (an ``async def`` function or method, or an
        object whose ``__call__`` is one), so that its call is awaited inside the span.

        ``inspect`` takes microseconds; the answer is kept per method, for as long as the
        method is the same function (a model re-fitted or patched later is asked again)."""
        key = getattr(fn, "__func__", fn)
        cached = self._self_async.get(method)
        if cached is not None and cached[0] is key:
            return bool(cached[1])
        # An instance with ``async def __call__`` (the method, looked up on its class).
        call = None if inspect.isroutine(fn) else getattr(type(fn), "__call__", None)  # noqa: B004
        found = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)
        self._self_async[method] = (key, found)
        return found

    def __getattr__(self, name: str) -> Any:
        target = name if name in self._self_traced else self._self_forms.get(name)
        if target is not None:
            method = self._self_methods.get(name)
            if method is None:
                method = self._self_methods[name] = _TracedMethod(self, target)
            return method
        return getattr(self.__wrapped__, name)

    # -- aither's own attributes -----------------------------------------------------------------
    @property
    def last_trace_id(self) -> str | None:
        """Trace id of this model's last prediction in the current thread or asyncio task."""
        return last_trace_id(self._self_identity.owner_id)

    @property
    def trace_ids(self) -> list[str]:
        """Trace ids of this model's recent predictions, oldest first: the last ``trace_ids_size``
        (1,000 by default) are kept, so memory stays bounded; store ``last_trace_id`` after each
        call to keep them all."""
        return [format_trace_id(t) for t in list(self._self_identity.trace_ids)]

    @property
    def model(self) -> Any:
        """The wrapped model (or, when the wrapped object has a ``model`` attribute of its own,
        as a transformers pipeline does, that attribute)."""
        wrapped = self.__wrapped__
        inner = getattr(wrapped, "model", wrapped)
        return inner

    @property
    def aither_name(self) -> str:
        """The name the model's spans carry."""
        return self._self_identity.name

    # -- copies ----------------------------------------------------------------------------------
    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        # Pickle (and joblib) the model with its wrap options: unpickling wraps it again with
        # the default client of the process that loads it.
        return (self._self_unpickle, (self.__wrapped__, self._self_options))

    def __copy__(self) -> TrackedModel:
        import copy

        return self._self_rewrap(copy.copy(self.__wrapped__))

    def __deepcopy__(self, memo: dict[int, Any]) -> TrackedModel:
        import copy

        return self._self_rewrap(copy.deepcopy(self.__wrapped__, memo))

    def __sklearn_clone__(self) -> TrackedModel:
        from sklearn.base import clone

        return self._self_rewrap(clone(self.__wrapped__))

    def __repr__(self) -> str:
        return f"<aither.TrackedModel {self._self_identity.name!r} of {self.__wrapped__!r}>"


class CallableTrackedModel(TrackedModel):
    """The :class:`TrackedModel` ``wrap`` returns: calling it is traced, and runs ``predict``
    on a model that is not callable itself (see :func:`call_forms`)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if "__call__" in self._self_traced:
            return self._self_call("__call__", args, kwargs)
        target = self._self_forms.get("__call__")
        if target is not None:
            return self._self_call(target, args, kwargs)
        return self.__wrapped__(*args, **kwargs)
