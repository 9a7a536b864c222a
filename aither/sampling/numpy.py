"""numpy arrays and scalars: slice on the first two axes (and cap the others), then copy the slice."""

from __future__ import annotations

from typing import Any

import numpy as np

from .limits import SampleLimits
from .model import Sample, meta


def head(array: Any, rows: int, columns: int) -> Any:
    """The index that keeps ``rows`` of the first axis and ``columns`` of every other axis."""
    return (slice(rows),) + (slice(columns),) * (array.ndim - 1)


def sample_numpy(value: Any, rows: int, columns: int, limits: SampleLimits) -> Sample | None:
    if isinstance(value, np.generic):
        return Sample(value, meta(f"numpy.{type(value).__name__}", [], None, value.dtype, 1), 32)
    if not isinstance(value, np.ndarray):
        return None
    shape = value.shape
    if value.ndim == 0:
        return Sample(value.copy(), meta("numpy.ndarray", shape, None, value.dtype, 1), 32)
    part = value[head(value, rows, columns)]
    # A copy of the slice only: later writes to the caller's array never reach the span.
    part = part.copy()
    columns_meta = list(value.dtype.names[:columns]) if value.dtype.names else None
    return Sample(
        part,
        meta("numpy.ndarray", shape, columns_meta, value.dtype, shape[0], part.shape != shape),
        64 + part.nbytes,
    )
