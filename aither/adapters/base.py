"""What an adapter tells ``wrap``: which methods are predictions and how to read their input."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from .._runtime import Runtime


def qualified_name(obj: object) -> str:
    tp = type(obj)
    return f"{tp.__module__}.{tp.__qualname__}"


def package_version(root: str) -> str | None:
    module = sys.modules.get(root)
    version = getattr(module, "__version__", None)
    return str(version) if version is not None else None


class Adapter:
    """Base adapter; one instance per framework, shared by every model of that framework.

    Subclasses set :attr:`framework` and :attr:`methods`, and override what differs.
    Called on the caller's thread; ``features`` must be O(1).
    """

    framework: ClassVar[str] = "callable"
    """Value of ``ml.model.framework``."""
    methods: ClassVar[tuple[str, ...]] = ("__call__",)
    """Methods traced when the model has them."""
    fingerprints: ClassVar[bool] = True
    """Whether the model's first prediction span carries ``ml.model.fingerprint`` (a hash of
    its pickle, computed on the export thread; see :mod:`aither.tracing.identity`)."""

    def traced_methods(self, model: Any) -> frozenset[str]:
        return frozenset(m for m in self.methods if callable(getattr(model, m, None)))

    def features(self, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        """The model's input in this call: the first positional argument by default."""
        if args:
            return args[0]
        for key in ("X", "x", "inputs", "input", "data"):
            if key in kwargs:
                return kwargs[key]
        return dict(kwargs) if kwargs else None

    def framework_name(self, model: Any) -> str:
        return self.framework

    def framework_version(self, model: Any) -> str | None:
        return package_version(type(model).__module__.partition(".")[0])

    def class_name(self, model: Any) -> str:
        return qualified_name(model)

    def parameters(self, model: Any) -> int | None:
        """The model's parameter count, only where it is cheap to know."""
        return None

    def instrument(self, obj: Any, context: WrapContext) -> Any | None:
        """Instrument ``obj`` in place and return it, or None to get the transparent proxy.

        LLM clients use this: their SDKs bind the client inside resource objects at
        construction, so a proxy would never see ``client.chat.completions.create``; the
        adapter hooks the instance's request method instead, and sets
        ``obj._aither_uninstrument`` to a function that restores it (``aither.unwrap``).
        """
        return None


@dataclass(frozen=True)
class WrapOptions:
    """The keywords of ``wrap`` (see :func:`aither.wrap`), kept by a proxy to wrap its copies
    (pickling, ``copy``, ``clone``) the same way."""

    name: str | None = None
    version: str | None = None
    environment: str | None = None
    sample_rows: int | None = None
    sample_columns: int | None = None
    features_fn: Callable[[Any], Any] | None = None
    user_id: str | None = None
    session_id: str | None = None
    metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class WrapContext:
    """What ``wrap`` knows when an adapter instruments an object in place.

    Attributes:
        get_runtime: the runtime to record with, asked at each call (None: aither is off).
            The transparent proxy asks the same function: model proxies and LLM hooks look
            their runtime up one way.
        name, version, environment: as given to ``wrap``.
        options: every keyword ``wrap`` was called with.
    """

    get_runtime: Callable[[], Runtime | None]
    name: str | None
    version: str | None
    environment: str | None
    options: WrapOptions


class CallableAdapter(Adapter):
    """Any callable (a function, a lambda, an object with ``__call__``) and, by duck typing,
    any object with the scikit-learn prediction methods."""

    framework = "callable"
    methods = ("__call__", "predict", "predict_proba", "predict_log_proba", "decision_function")

    def framework_name(self, model: Any) -> str:
        root = type(model).__module__.partition(".")[0]
        return "callable" if root in ("builtins", "__main__", "functools") else root
