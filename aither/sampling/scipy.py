"""scipy sparse matrices and arrays: slice the first rows and columns, then densify only those.

CSR, CSC, LIL and DOK slice in time proportional to the rows or columns kept. COO, BSR and
DIA cannot be sliced without a pass over every stored value, so they are described (shape,
dtype, stored values) without values. ``_meta`` adds ``nnz``, the stored values' count
(None for LIL and DIA, which would have to count them).
"""

from __future__ import annotations

from typing import Any

import scipy.sparse as sp  # type: ignore[import-untyped]  # no stubs; see pyproject's mypy overrides

from .limits import SampleLimits
from .model import Sample, meta

_SLICEABLE = frozenset({"csr", "csc", "lil", "dok"})


def _nnz(value: Any) -> int | None:
    """Stored values, where that is O(1): LIL and DIA would count row by row or diagonal by diagonal."""
    if value.format in ("csr", "csc", "bsr", "coo"):
        return int(value.nnz)
    if value.format == "dok":
        return len(value.keys())
    return None


def sample_scipy(value: Any, rows: int, columns: int, limits: SampleLimits) -> Sample | None:
    """Sample a scipy sparse matrix or array; None for anything else of scipy's."""
    if not sp.issparse(value):
        return None
    tp = type(value)
    shape = list(value.shape)
    n_rows = shape[0] if shape else 1
    data: Any = None
    truncated = True
    if value.format in _SLICEABLE and len(shape) == 2:
        data = value[:rows, :columns].toarray()
        truncated = list(data.shape) != shape
    elif value.format in _SLICEABLE and len(shape) == 1:  # 1-d sparse arrays (scipy >= 1.14)
        data = value[:rows].toarray()
        truncated = list(data.shape) != shape
    described = meta(f"scipy.sparse.{tp.__name__}", shape, None, value.dtype, n_rows, truncated)
    described["nnz"] = _nnz(value)
    return Sample(data, described, 128 + (12 * data.size if data is not None else 0))
