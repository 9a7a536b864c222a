"""Samples of Python's own values: scalars, strings, bytes, lists, tuples, dicts, anything else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import faults
from .encoder import safe_repr
from .limits import SampleLimits
from .model import Sample, meta

_SCALARS = (bool, int, float, complex, type(None))


def _string(value: str, limits: SampleLimits) -> tuple[str, bool]:
    if len(value) <= limits.max_string:
        return value, False
    return value[: limits.max_string] + "...", True


def snapshot(value: Any, limits: SampleLimits, columns: int, depth: int = 0, *, named: bool = False) -> Any:
    """A bounded copy of a nested value: ``columns`` items per level, ``max_depth`` levels.

    Framework values met inside (a numpy array in a dict) are sampled by their own sampler;
    other objects are kept as they are and encoded on the export thread. A named tuple is a
    list of its values, or with ``named`` a dict of its fields (so ``redact_keys`` can find them).
    """
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, str):
        return _string(value, limits)[0]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value[: limits.max_string])
    if depth >= limits.max_depth:
        return "..."
    if isinstance(value, (list, tuple)):
        fields = getattr(value, "_fields", None) if named and isinstance(value, tuple) else None
        if isinstance(fields, tuple):
            value = dict(zip(fields, value, strict=False))
        else:
            return [snapshot(v, limits, columns, depth + 1, named=named) for v in value[:columns]]
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            if i >= columns:
                break
            out[key if isinstance(key, (str, int, float, bool)) else safe_repr(key, 100)] = snapshot(
                item, limits, columns, depth + 1, named=named
            )
        return out
    if isinstance(value, (set, frozenset)):
        return [
            snapshot(v, limits, columns, depth + 1, named=named)
            for i, v in zip(range(columns), value, strict=False)
        ]
    if type(value).__module__ != "builtins":
        from .dispatch import sampler_for

        fn = sampler_for(type(value))
        if fn is not None:
            nested = fn(value, columns, columns, limits)
            if nested is not None:
                return nested.data
    return value


def _column_length(value: Any) -> int | None:
    """The length of a value that can be a column of a batch, else None."""
    if not hasattr(value, "__len__") or isinstance(value, (str, bytes, bytearray, Mapping)):
        return None
    try:
        return len(value)
    except TypeError:  # 0-d arrays and tensors have __len__ yet no length
        return None
    except Exception as exc:  # a __len__ that raises: a fault of the value, counted
        faults.note(exc)
        return None


def _sample_sequence(
    value: list[Any] | tuple[Any, ...], rows: int, columns: int, limits: SampleLimits
) -> Sample:
    n = len(value)
    head = value[:rows]
    truncated = n > rows
    first = value[0] if n else None
    cols: list[str] | None = None
    shape: list[int] = [n]
    dtypes: Any = type(first).__name__ if n else None
    if isinstance(first, Mapping):
        keys = list(first.keys())
        cols = [str(k) for k in keys[:columns]]
        shape = [n, len(keys)]
        # Records describe each column, {"amount": "float", ...}, as frames do (schema v2).
        dtypes = {str(k): type(first[k]).__name__ for k in keys[:columns]}
        data: list[Any] = []
        for row in head:
            if isinstance(row, Mapping):
                truncated = truncated or len(row) > columns
            data.append(snapshot(row, limits, columns, 1))
    elif isinstance(first, (list, tuple)):
        shape = [n, len(first)]
        data = []
        for row in head:
            if isinstance(row, (list, tuple)):
                truncated = truncated or len(row) > columns
            data.append(snapshot(row, limits, columns, 1))
    else:
        data = [snapshot(v, limits, columns, 1) for v in head]
    approx = 64 + 24 * len(data) * (len(cols) if cols else (min(shape[1], columns) if len(shape) > 1 else 1))
    return Sample(data, meta(type(value).__name__, shape, cols, dtypes, n, truncated), approx)


def _sample_mapping(value: Mapping[Any, Any], rows: int, columns: int, limits: SampleLimits) -> Sample:
    keys = list(value.keys())
    shown = keys[:columns]
    truncated = len(keys) > columns
    values = [value[k] for k in shown]
    # A dict of equal-length columns ({"amount": [..], "country": [..]}) is a batch of rows;
    # any other dict is one record.
    lengths = [_column_length(v) for v in values]
    first = lengths[0] if lengths else None
    columnar = first is not None and all(n == first for n in lengths)
    n_rows = first if columnar and first is not None else 1
    data: dict[Any, Any] = {}
    dtypes: list[str] = []
    for key, item in zip(shown, values, strict=True):
        name = key if isinstance(key, (str, int, float, bool)) else safe_repr(key, 100)
        if columnar:
            nested = snapshot(item, limits, rows, 1)
            truncated = truncated or n_rows > rows
        else:
            nested = snapshot(item, limits, columns, 1)
            if isinstance(item, str) and len(item) > limits.max_string:
                truncated = True
        data[name] = nested
        dtypes.append(type(item).__name__)
    cols = [str(k) for k in shown]
    shape = [n_rows, len(keys)]
    approx = 64 + sum(len(c) + (24 * min(n_rows, rows) if columnar else 24) for c in cols)
    return Sample(data, meta(type(value).__name__, shape, cols, dtypes, n_rows, truncated), approx)


def sample_builtin(value: Any, rows: int, columns: int, limits: SampleLimits) -> Sample:
    """Sample any value: Python's own types precisely, anything else by its ``repr``."""
    if isinstance(value, _SCALARS):
        return Sample(value, meta(type(value).__name__, [], None, type(value).__name__, 1), 32)
    if isinstance(value, str):
        text, cut = _string(value, limits)
        return Sample(text, meta("str", [len(value)], None, "str", 1, cut), 32 + len(text))
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value[: limits.max_string])
        return Sample(
            raw,
            meta(type(value).__name__, [len(value)], None, "bytes", 1, len(value) > len(raw)),
            64 + 2 * len(raw),
        )
    if isinstance(value, (list, tuple)):
        return _sample_sequence(value, rows, columns, limits)
    if isinstance(value, Mapping):
        return _sample_mapping(value, rows, columns, limits)
    tp = type(value)
    name = tp.__qualname__ if tp.__module__ == "builtins" else f"{tp.__module__}.{tp.__qualname__}"
    n: int | None = None
    if hasattr(tp, "__len__"):
        try:
            n = len(value)
        except TypeError:  # unsized (a 0-d array of some framework): no row count
            pass
        except Exception as exc:  # a __len__ that raises (or a MemoryError): counted, no row count
            faults.note(exc)
    text = safe_repr(value, limits.max_string)
    cut = len(text) > limits.max_string
    return Sample(
        text,
        meta(name, [n] if n is not None else None, None, None, n if n is not None else 1, cut),
        64 + len(text),
    )
