"""Which adapter serves which object, by import strings: looking a type up never imports a framework."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

from ..exceptions import ArgumentTypeError, FrameworkNotInstalled
from ..frameworks import FRAMEWORKS
from .base import Adapter, CallableAdapter

ADAPTERS: dict[str, tuple[str, str]] = {
    row.root: (row.adapter, row.extra) for row in FRAMEWORKS if row.adapter is not None
}
"""Root module of a class in the object's MRO -> (``"module:AdapterClass"``, extra name), read
once from :data:`aither.frameworks.FRAMEWORKS` so that a lookup stays one dict access.
``google`` holds two SDKs: ``google.genai`` (key ``google``) and the legacy
``google.generativeai`` (its own key)."""

COMPOSED: tuple[str, ...] = tuple(row.root for row in FRAMEWORKS if row.composed)
"""Frameworks without a model base class: a plain object that holds their layers or tensors in
its attributes is their model (looked at to two levels, lists and dicts included, at wrap time)."""

_LOADED: dict[str, Adapter] = {}
_CALLABLE = CallableAdapter()


def _load(target: str, root: str, extra: str) -> Adapter:
    loaded = _LOADED.get(target)
    if loaded is not None:
        return loaded
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = getattr(exc, "name", None) or ""
        if missing.startswith("aither.") and missing == module_name:
            raise  # our own adapter module is missing: a packaging bug, not the user's
        raise FrameworkNotInstalled(root, extra) from exc
    adapter: Adapter = getattr(module, attr)()
    _LOADED[target] = adapter
    return adapter


def _composed_root(obj: Any, depth: int = 2) -> str | None:
    """The :data:`COMPOSED` framework whose objects ``obj``'s attributes hold, if any."""
    try:
        values = list(vars(obj).values())
    except Exception:  # no __dict__ (builtins, __slots__ classes), or one that raises
        return None
    for value in values[:256]:
        items = (
            list(value.values())
            if isinstance(value, dict)
            else value
            if isinstance(value, (list, tuple))
            else [value]
        )
        for item in items[:256]:
            root = type(item).__module__.partition(".")[0]
            if root in COMPOSED and sys.modules.get(root) is not None:
                return root
            if depth > 1 and root != "builtins" and not isinstance(item, (type, ModuleType)):
                nested = _composed_root(item, depth - 1)
                if nested is not None:
                    return nested
    return None


def adapter_for(obj: Any) -> Adapter:
    """The adapter for ``obj``: by the first class in its MRO whose package has one, else by
    the :data:`COMPOSED` framework whose layers it holds, else the callable adapter.

    Raises FrameworkNotInstalled (naming the extra) when the object's framework is not
    importable, and TypeError for an object that has nothing to trace.
    """
    for klass in type(obj).__mro__:
        root = klass.__module__.partition(".")[0]
        if root == "google":
            if klass.__module__.startswith("google.generativeai"):
                root = "google.generativeai"
            elif not klass.__module__.startswith("google.genai"):
                continue
        entry = ADAPTERS.get(root)
        if entry is None:
            continue
        target, extra = entry
        if sys.modules.get(root) is None:
            # An object of this framework exists, yet the framework cannot be imported (it
            # was shadowed or half-installed): say which extra fixes it.
            raise FrameworkNotInstalled(root, extra)
        adapter = _load(target, root, extra)
        if adapter.traced_methods(obj):
            return adapter
    composed = _composed_root(obj)
    if composed is not None:
        target, extra = ADAPTERS[composed]
        adapter = _load(target, composed, extra)
        if adapter.traced_methods(obj):
            return adapter
    if _CALLABLE.traced_methods(obj):
        return _CALLABLE
    raise ArgumentTypeError(
        f"aither.wrap() cannot trace a {type(obj).__module__}.{type(obj).__qualname__}: it is not callable "
        "and has no predict/predict_proba method; use @aither.track on the function that uses it, "
        "or aither.log_prediction(...)"
    )
