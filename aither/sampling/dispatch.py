"""Which sampler serves which type, by import strings from :data:`aither.frameworks.FRAMEWORKS`.

A framework's sampler is imported only when a value of that framework is sampled, so looking up
a type never imports a framework. Kept apart from :mod:`aither.sampling` so that the builtin
sampler (which samples a container's items by their own types) imports it without a cycle.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from ..frameworks import FRAMEWORKS
from .limits import SampleLimits
from .model import Sample

__all__ = ["SAMPLERS", "Sampler", "sampler_for"]

Sampler = Callable[[Any, int, int, SampleLimits], "Sample | None"]
"""``sampler(value, rows, columns, limits)``: a :class:`Sample`, or None for "not mine"."""

SAMPLERS: dict[str, str] = {row.root: row.sampler for row in FRAMEWORKS if row.sampler is not None}
"""Root module of a type -> ``"module:function"`` of its sampler."""

_BY_TYPE: dict[type, Sampler | None] = {}


def _load(target: str) -> Sampler | None:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    fn: Sampler = getattr(module, attr)
    return fn


def sampler_for(tp: type) -> Sampler | None:
    """The sampler registered for ``tp`` or one of its bases, or None; cached per type."""
    try:
        return _BY_TYPE[tp]
    except KeyError:
        pass
    found: Sampler | None = None
    for klass in tp.__mro__:
        root = klass.__module__.partition(".")[0]
        target = SAMPLERS.get(root)
        # Only a framework that is already imported can own a live object: never import one here.
        if target is not None and root in sys.modules:
            found = _load(target)
            if found is not None:
                break
    _BY_TYPE[tp] = found
    return found
