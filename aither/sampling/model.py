"""The :class:`Sample`: what a sampler returns and the encoder turns into the span's JSON."""

from __future__ import annotations

import sys
from typing import Any

from .rest import JSON_ROWS, encode_rest

META_KEYS = ("type", "shape", "columns", "dtypes", "rows", "truncated")
"""The keys of ``_meta``, always all present (None where they do not apply)."""


def meta(
    type_name: str,
    shape: Any = None,
    columns: Any = None,
    dtypes: Any = None,
    rows: int | None = None,
    truncated: bool = False,
) -> dict[str, Any]:
    """The ``_meta`` dict. Values may be framework objects (a dtype, a shape tuple): they
    are turned into JSON on the export thread, so the caller pays nothing for that."""
    return {
        "type": type_name,
        "shape": shape,
        "columns": columns,
        "dtypes": dtypes,
        "rows": rows,
        "truncated": truncated,
    }


class Sample:
    """A bounded snapshot of a value and the description of the whole value.

    Attributes:
        data: the first rows x columns, already copied (later changes by the caller to the
            original never show), in a form the encoder can turn into JSON.
        meta: the ``_meta`` dict: type, shape, columns, dtypes, rows, truncated.
        approx_bytes: a rough size of the sample once encoded, for the queue's byte bound.
    """

    __slots__ = ("approx_bytes", "data", "meta")

    def __init__(self, data: Any, meta: dict[str, Any], approx_bytes: int) -> None:
        self.data = data
        self.meta = meta
        self.approx_bytes = approx_bytes

    @property
    def rows(self) -> int | None:
        rows = self.meta.get("rows")
        return rows if isinstance(rows, int) else None

    def __aither_json__(self) -> dict[str, Any]:
        return {"sample": self.data, "_meta": self.meta}

    def __repr__(self) -> str:
        return f"Sample(meta={self.meta!r})"


class EagerSample(Sample):
    """A sample that is cheap to write once taken (a DataFrame's first rows, read as one array):
    up to about :data:`~aither.sampling.encoder.EAGER_BYTES` of it is written as JSON on the
    caller's thread, so the export thread, whose Python holds the GIL the caller waits for, has
    nothing left to encode and the queued span holds one string instead of the frame's slice."""

    __slots__ = ()


class OutputSample(Sample):
    """A model's output for ``ml.prediction``: the first :data:`JSON_ROWS` rows as JSON, and
    for a numeric array with more rows, the rest in binary (see :mod:`aither.sampling.rest`).
    """

    __slots__ = ()

    def __aither_json__(self) -> dict[str, Any]:
        data = self.data
        hook = getattr(type(data), "__aither_json__", None)
        if hook is not None:  # a tensor's host copy: resolve it to its array
            data = hook(data)
        np = sys.modules.get("numpy")
        if (
            np is None
            or not isinstance(data, np.ndarray)
            or data.ndim == 0
            or len(data) <= JSON_ROWS
            or data.dtype.kind not in "biuf"
        ):
            return {"sample": data, "_meta": self.meta}
        rest = encode_rest(data[JSON_ROWS:])
        if rest is None:
            return {"sample": data, "_meta": self.meta}
        return {"sample": data[:JSON_ROWS], "_meta": self.meta, "rest": rest}


class Deferred:
    """A value computed on the export thread: ``Deferred(fn, *args)`` encodes as ``fn(*args)``.

    For descriptions that cost more than they are worth on the caller's thread (a frame's
    dtypes, its column names), computed from immutable or snapshot objects only.
    """

    __slots__ = ("args", "fn")

    def __init__(self, fn: Any, *args: Any) -> None:
        self.fn = fn
        self.args = args

    def __aither_json__(self) -> Any:
        return self.fn(*self.args)
