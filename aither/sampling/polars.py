"""polars DataFrames and Series: ``slice`` then ``select``; polars frames are immutable, so no copy.

A frame's sample is a list of records and its ``dtypes`` a ``{column: dtype}`` dict (span
schema v2), both made from the slice on the export thread.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from .limits import SampleLimits
from .model import Deferred, Sample, meta


def _records(part: pl.DataFrame) -> list[dict[str, Any]]:
    """The sampled rows as records (schema v2); ``part`` is the slice, immutable."""
    records: list[dict[str, Any]] = part.to_dicts()
    return records


def _dtypes(part: pl.DataFrame) -> dict[str, str]:
    return {name: str(dtype) for name, dtype in part.schema.items()}


def sample_polars(value: Any, rows: int, columns: int, limits: SampleLimits) -> Sample | None:
    if isinstance(value, pl.DataFrame):
        n_rows, n_cols = value.shape
        cols = value.columns[:columns]
        part = value.slice(0, rows).select(cols)
        return Sample(
            Deferred(_records, part),
            meta(
                "polars.DataFrame",
                (n_rows, n_cols),
                cols,
                Deferred(_dtypes, part),
                n_rows,
                n_rows > rows or n_cols > columns,
            ),
            64 + 24 * part.height * part.width,
        )
    if isinstance(value, pl.Series):
        n = len(value)
        part = value.slice(0, rows)
        return Sample(
            part, meta("polars.Series", (n,), [value.name], value.dtype, n, n > rows), 64 + 24 * len(part)
        )
    if isinstance(value, pl.LazyFrame):
        # Collecting a LazyFrame would run the user's whole query: describe it instead.
        schema = value.collect_schema()
        names = schema.names()
        return Sample(
            None,
            meta("polars.LazyFrame", None, names[:columns], list(schema.dtypes())[:columns], None, True),
            64,
        )
    return None
