"""Bounded samples of inputs and outputs, by data type.

:func:`sample` takes the first ``rows`` x ``columns`` of any value and describes the whole
in ``_meta``: ``{type, shape, columns, dtypes, rows, truncated}``. It runs on the caller's
thread and costs O(sample), never O(input): each sampler slices first and copies only the
slice; conversion to JSON waits for the export thread (:mod:`aither.sampling.encoder`).

Samplers are found by the root module of the value's type in :data:`SAMPLERS`, which holds
import strings: a framework's sampler is imported only when a value of that framework is
sampled, so looking up a type never imports a framework.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from .builtins import sample_builtin
from .limits import SampleLimits
from .model import Sample, meta

__all__ = ["SAMPLERS", "Sample", "SampleLimits", "Sampler", "meta", "sample"]

Sampler = Callable[[Any, int, int, SampleLimits], "Sample | None"]
"""``sampler(value, rows, columns, limits)``: a :class:`Sample`, or None for "not mine"."""

SAMPLERS: dict[str, str] = {
    "numpy": "aither.sampling.numpy:sample_numpy",
    "pandas": "aither.sampling.pandas:sample_pandas",
    "polars": "aither.sampling.polars:sample_polars",
    "torch": "aither.sampling.torch:sample_torch",
    "tensorflow": "aither.sampling.tensorflow:sample_tensorflow",
    "keras": "aither.sampling.tensorflow:sample_tensorflow",
    "tinygrad": "aither.sampling.tinygrad:sample_tinygrad",
    "xgboost": "aither.sampling.boosting:sample_boosting",
    "lightgbm": "aither.sampling.boosting:sample_boosting",
    "catboost": "aither.sampling.boosting:sample_boosting",
    "scipy": "aither.sampling.scipy:sample_scipy",
}
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


def sample(value: Any, rows: int, columns: int, limits: SampleLimits) -> Sample:
    """A bounded :class:`Sample` of ``value``: first ``rows`` x ``columns`` plus ``_meta``.

    Called on the caller's thread; O(rows x columns). Raises only on a bug in a sampler,
    which the caller counts as an internal error.
    """
    tp = type(value)
    if tp.__module__ != "builtins":
        fn = sampler_for(tp)
        if fn is not None:
            result = fn(value, rows, columns, limits)
            if result is not None:
                return result
    return sample_builtin(value, rows, columns, limits)
