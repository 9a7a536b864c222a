"""pandas DataFrames, Series and Index: ``iloc`` the first rows and columns, nothing more."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .limits import SampleLimits
from .model import Sample, meta

# Since pandas 3 (and with copy-on-write on in 2.x) a slice is a snapshot: later writes to
# the caller's frame never reach it. Older modes get an explicit copy of the slice.
_COW = int(pd.__version__.split(".")[0]) >= 3 or bool(getattr(pd.options.mode, "copy_on_write", False))


def sample_pandas(value: Any, rows: int, columns: int, limits: SampleLimits) -> Sample | None:
    if isinstance(value, pd.DataFrame):
        n_rows, n_cols = value.shape
        part = value.iloc[:rows, :columns]
        if not _COW:
            part = part.copy()
        cols = [str(c) for c in value.columns[:columns]]
        return Sample(
            part,
            meta("pandas.DataFrame", (n_rows, n_cols), cols, part.dtypes, n_rows, n_rows > rows or n_cols > columns),
            64 + 24 * part.size,
        )
    if isinstance(value, (pd.Series, pd.Index)):
        n = len(value)
        part = value[:rows]
        if not _COW:
            part = part.copy()
        name = value.name
        kind = "pandas.Series" if isinstance(value, pd.Series) else "pandas.Index"
        return Sample(
            part,
            meta(kind, (n,), None if name is None else [str(name)], value.dtype, n, n > rows),
            64 + 24 * len(part),
        )
    return None
