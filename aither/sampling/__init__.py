"""Bounded samples of inputs and outputs, by data type.

:func:`sample` takes the first ``rows`` x ``columns`` of any value and describes the whole
in ``_meta``: ``{type, shape, columns, dtypes, rows, truncated}``. It runs on the caller's
thread and costs O(sample), never O(input): each sampler slices first and copies only the
slice; conversion to JSON waits for the export thread (:mod:`aither.sampling.encoder`).

Samplers are found by the root module of the value's type in :data:`SAMPLERS`
(:mod:`aither.sampling.dispatch`, read from :data:`aither.frameworks.FRAMEWORKS`), which holds
import strings: a framework's sampler is imported only when a value of that framework is
sampled, so looking up a type never imports a framework.
"""

from __future__ import annotations

from typing import Any

from .builtins import sample_builtin
from .dispatch import SAMPLERS, Sampler, sampler_for
from .limits import SampleLimits
from .model import Sample, meta

__all__ = ["SAMPLERS", "Sample", "SampleLimits", "Sampler", "meta", "sample", "sampler_for"]


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
