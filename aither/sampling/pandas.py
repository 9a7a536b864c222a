"""pandas DataFrames, Series and Index: the first rows by position, nothing more on the caller.

``df.iloc[:rows]`` costs a few microseconds where ``df.iloc[:rows, :columns]`` costs tens, so
the caller keeps the first rows of every column and the export thread cuts the columns and
reads the dtypes (from that snapshot: the caller's later writes never reach it).

A frame's sample is a list of records and its ``dtypes`` a ``{column: dtype}`` dict, as the
original README shows (span schema v2). Two columns of one name keep the last one's value.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .limits import SampleLimits
from .model import Deferred, Sample, meta

# Since pandas 3 (and with copy-on-write on in 2.x) a slice is a snapshot: later writes to
# the caller's frame never reach it. Older modes get an explicit copy of the slice.
_COW = int(pd.__version__.split(".")[0]) >= 3 or bool(getattr(pd.options.mode, "copy_on_write", False))


def _frame_records(part: pd.DataFrame, columns: int) -> list[dict[str, Any]]:
    """The sampled rows as records, ``{"col1": 1.5, "col2": "A"}`` (schema v2), from the slice only."""
    names = _column_names(part.columns, columns)
    rows = part.iloc[:, :columns].to_numpy(dtype=object).tolist()
    return [dict(zip(names, row, strict=True)) for row in rows]


def _column_names(index: pd.Index, columns: int) -> list[str]:
    return [str(c) for c in index[:columns]]


def _dtypes(part: pd.DataFrame, columns: int) -> dict[str, str]:
    """``{column: dtype}`` of the sampled columns (schema v2)."""
    names = _column_names(part.columns, columns)
    return dict(zip(names, (str(d) for d in part.dtypes.iloc[:columns]), strict=True))


def sample_pandas(value: Any, rows: int, columns: int, limits: SampleLimits) -> Sample | None:
    if isinstance(value, pd.DataFrame):
        n_rows, n_cols = value.shape
        part = value.iloc[:rows]
        if not _COW:
            part = part.copy()
        return Sample(
            Deferred(_frame_records, part, columns),
            meta(
                "pandas.DataFrame",
                (n_rows, n_cols),
                Deferred(_column_names, value.columns, columns),  # an Index is immutable
                Deferred(_dtypes, part, columns),
                n_rows,
                n_rows > rows or n_cols > columns,
            ),
            256 + 16 * min(n_rows, rows) * n_cols,
        )
    if isinstance(value, (pd.Series, pd.Index)):
        n = len(value)
        part = value[:rows]
        if not _COW and isinstance(part, pd.Series):
            part = part.copy()
        name = value.name
        kind = "pandas.Series" if isinstance(value, pd.Series) else "pandas.Index"
        return Sample(
            part,
            meta(kind, (n,), None if name is None else [str(name)], value.dtype, n, n > rows),
            128 + 16 * len(part),
        )
    return None
