"""pandas DataFrames, Series and Index: the first rows by position, nothing more on the caller.

``df.iloc[:rows]`` costs a few microseconds where ``df.iloc[:rows, :columns]`` costs tens, so
the sampler keeps the first rows of every column; the columns are cut and the dtypes read from
that snapshot (the caller's later writes never reach it) when the sample is written: on the
caller's thread once the model has answered, for a frame's head of up to about 4 KB (an
:class:`~aither.sampling.model.EagerSample`: one numpy array written by orjson costs less
than the export thread's turns with the GIL), on the export thread otherwise.

A frame's sample is a list of records and its ``dtypes`` a ``{column: dtype}`` dict, as the
original README shows (span schema v2). Two columns of one name keep the last one's value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .encoder import Encoded, dtype_name
from .limits import SampleLimits
from .model import Deferred, EagerSample, Sample, meta

# Since pandas 3 (and with copy-on-write on in 2.x) a slice is a snapshot: later writes to
# the caller's frame never reach it. Older modes get an explicit copy of the slice.
_COW = int(pd.__version__.split(".")[0]) >= 3 or bool(getattr(pd.options.mode, "copy_on_write", False))


class _FrameSample:
    """The export thread's reading of a frame's sampled rows: names, dtypes and records, each
    computed once per sample (``_meta`` and the records share them).

    A frame whose sampled columns share one numeric dtype (the usual model input) is read as
    one numpy array and written by orjson at once; any other frame goes through object values
    and the encoder's walk, as before. Either way the JSON is the same.
    """

    __slots__ = ("_dtypes", "_names", "columns", "part")

    def __init__(self, part: pd.DataFrame, columns: int) -> None:
        self.part = part
        self.columns = columns
        self._names: list[str] | None = None
        self._dtypes: list[Any] | None = None

    def names(self) -> list[str]:
        if self._names is None:
            self._names = column_names(self.part.columns, self.columns)
        return self._names

    def _dtype_list(self) -> list[Any]:
        if self._dtypes is None:
            self._dtypes = self.part.dtypes.tolist()[: self.columns]
        return self._dtypes

    def dtypes(self) -> dict[str, str]:
        """``{column: dtype}`` of the sampled columns (schema v2)."""
        return dict(zip(self.names(), map(dtype_name, self._dtype_list()), strict=True))

    def records(self) -> Any:
        """The sampled rows as records, ``{"col1": 1.5, "col2": "A"}`` (schema v2)."""
        names = self.names()
        part = self.part
        kinds = self._dtype_list()
        width = len(names)
        if part.shape[1] > 4 * width:  # a wide frame: cut its columns before converting
            part = part.iloc[:, :width]
        same = bool(kinds) and all(
            isinstance(d, np.dtype) and d == kinds[0] and d.kind in "biuf" for d in kinds
        )
        if same and len(set(names)) == width:
            array = part.to_numpy()[:, :width]
            if kinds[0].kind != "f" or bool(np.isfinite(array).all()):
                records = [dict(zip(names, row, strict=True)) for row in array.tolist()]
                return Encoded.of(records)
        rows = part.iloc[:, :width].to_numpy(dtype=object).tolist()
        return [dict(zip(names, row, strict=True)) for row in rows]


_LAST_NAMES: tuple[Any, int, list[str]] | None = None
"""The last column index read, its width and its names: a service sends frames of one index."""


def column_names(index: pd.Index, columns: int) -> list[str]:
    """The first ``columns`` names of ``index`` as strings; an Index is immutable, so the
    last one's names are kept and a frame of the same index reads them for nothing."""
    global _LAST_NAMES
    last = _LAST_NAMES
    if last is not None and last[0] is index and last[1] == columns:
        return last[2]
    head = index if len(index) <= 4 * columns else index[:columns]
    names = [c if type(c) is str else str(c) for c in head.tolist()[:columns]]
    _LAST_NAMES = (index, columns, names)
    return names


def sample_pandas(value: Any, rows: int, columns: int, limits: SampleLimits) -> Sample | None:
    if isinstance(value, pd.DataFrame):
        n_rows, n_cols = value.shape
        part = value.iloc[:rows]
        if not _COW:
            part = part.copy()
        frame = _FrameSample(part, columns)
        return EagerSample(
            Deferred(frame.records),
            meta(
                "pandas.DataFrame",
                (n_rows, n_cols),
                Deferred(frame.names),  # the part's columns are the value's, an immutable Index
                Deferred(frame.dtypes),
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
