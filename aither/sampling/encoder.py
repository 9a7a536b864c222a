"""The JSON encoder of samples: it never raises.

Runs on the export thread. :func:`to_jsonable` turns anything into something readable, in
one walk of the (bounded) sample; orjson then writes it, numeric numpy arrays natively:

- NaN and infinities become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``;
- datetimes, dates and times their ISO form; Decimals, UUIDs and paths their ``str``;
- text is UTF-8; a string with a lone surrogate falls back to escaped ASCII;
- bytes UTF-8 text where they decode, else ``"base64:..."``;
- numpy, pandas and polars values their lists; sets sorted lists where sortable;
- a cycle ``"<cycle>"``; an object whose ``__repr__`` raises ``"<ClassName object>"``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import sys
import uuid
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import orjson

from . import faults

_MAX_DEPTH = 32
_MAX_ITEMS = 100_000

_DTYPE_NAMES: dict[Any, str] = {}
"""numpy dtype -> its ``str``: numpy builds the name in Python (~2 µs) on every call."""


def safe_repr(obj: object, limit: int = 1000) -> str:
    """``repr(obj)`` cut to ``limit`` characters; never raises."""
    try:
        text = repr(obj)
    except Exception as exc:  # MemoryError included: the placeholder stands in, the fault is counted
        faults.note(exc)
        try:
            return f"<{type(obj).__name__} object>"
        except Exception:
            return "<object>"
    if not isinstance(text, str):
        faults.note(TypeError(f"__repr__ returned {type(text).__name__}, not str"))
        return f"<{type(obj).__name__} object>"
    return text if len(text) <= limit else text[:limit] + "..."


def dtype_name(dtype: Any) -> str:
    """``str(dtype)``, remembered for the few dtypes a process meets."""
    try:
        return _DTYPE_NAMES[dtype]
    except (KeyError, TypeError):
        pass
    name = str(dtype)
    if len(_DTYPE_NAMES) < 1024:
        try:
            _DTYPE_NAMES[dtype] = name
        except TypeError:  # an unhashable dtype-like object
            pass
    return name


def _bytes(value: bytes | bytearray | memoryview) -> str:
    raw = bytes(value[:4096])
    try:
        text = raw.decode("utf-8")
        if text.isprintable() or all(c.isprintable() or c in "\n\r\t" for c in text):
            return text if len(value) <= 4096 else text + "..."
    except UnicodeDecodeError:
        pass
    return "base64:" + base64.b64encode(raw).decode("ascii") + ("..." if len(value) > 4096 else "")


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _convert_known(obj: Any) -> Any:
    """One step of conversion for a non-JSON type, or the sentinel ``_UNKNOWN``."""
    if isinstance(obj, (dt.datetime, dt.date, dt.time)):
        return obj.isoformat()
    if isinstance(obj, dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, (decimal.Decimal, uuid.UUID, PurePath)):
        return str(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return _bytes(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    to_jsonable_hook = getattr(type(obj), "__aither_json__", None)
    if to_jsonable_hook is not None:
        return to_jsonable_hook(obj)
    module = type(obj).__module__.partition(".")[0]
    if module == "numpy" and "numpy" in sys.modules:
        np = sys.modules["numpy"]
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.dtype):
            return dtype_name(obj)
    if module == "pandas" and "pandas" in sys.modules:
        pd = sys.modules["pandas"]
        if isinstance(obj, pd.DataFrame):
            return obj.to_numpy(dtype=object).tolist()
        if isinstance(obj, (pd.Series, pd.Index)):
            return obj.tolist()
        if obj is pd.NaT:
            return None
        if isinstance(obj, pd.Timestamp):
            return obj.isoformat()
    if module == "polars" and "polars" in sys.modules:
        pl = sys.modules["polars"]
        if isinstance(obj, pl.DataFrame):
            return [list(row) for row in obj.rows()]
        if isinstance(obj, pl.Series):
            return obj.to_list()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name, None) for f in dataclasses.fields(obj)}
    if isinstance(obj, (set, frozenset)):
        items = list(obj)
        try:
            items.sort()
        except TypeError:
            pass
        return items
    if isinstance(obj, type):
        return f"{obj.__module__}.{obj.__qualname__}"
    # dtypes of other frameworks (pandas, polars, torch) read well as their str.
    if type(obj).__name__.endswith(("Dtype", "DType", "dtype")) or module in ("polars", "torch"):
        return str(obj)
    return _UNKNOWN


_UNKNOWN = object()


def _array_fragment(obj: Any) -> Any:
    """A numeric numpy array as pre-encoded JSON (orjson, natively), or None to walk it.

    Arrays holding NaN or infinity are walked instead, so those read as ``"NaN"``/``"Infinity"``
    rather than orjson's ``null``.
    """
    np = sys.modules.get("numpy")
    if np is None or not isinstance(obj, np.ndarray):
        return None
    kind = obj.dtype.kind
    if kind not in "biuf":
        return None
    try:
        data = orjson.dumps(
            # (ascontiguousarray also makes a 0-d array 1-d, as it always was written here)
            obj if obj.ndim and obj.flags.c_contiguous else np.ascontiguousarray(obj),
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
    except (TypeError, orjson.JSONEncodeError):
        return None
    # orjson writes NaN and infinities as null, which no finite number reads as: one scan of
    # the output costs less than asking numpy whether every value is finite.
    if kind == "f" and b"null" in data:
        return None
    return orjson.Fragment(data)


class Encoded:
    """A value of only JSON's own types (finite floats), with its JSON already written: the
    encoder puts the JSON in as it is, instead of walking the value."""

    __slots__ = ("json", "value")

    def __init__(self, json: bytes, value: Any) -> None:
        self.json = json
        self.value = value

    @classmethod
    def of(cls, value: Any) -> Any:
        """``value`` with its JSON, or ``value`` alone where orjson refuses it (a lone surrogate)."""
        try:
            return cls(orjson.dumps(value), value)
        except orjson.JSONEncodeError:
            return value


def to_jsonable(obj: Any, _depth: int = 0, _seen: set[int] | None = None, *, fragments: bool = False) -> Any:
    """A structure of only dict/list/str/int/float/bool/None that reads like ``obj``; never raises.

    With ``fragments``, numeric numpy arrays and :class:`Encoded` values become pre-encoded
    ``orjson.Fragment`` values.
    """
    try:
        if obj is None or isinstance(obj, (bool, int, str)):
            return obj
        if isinstance(obj, float):
            return _float(obj)
        if type(obj) is Encoded:
            if fragments:
                return orjson.Fragment(obj.json)
            obj = obj.value
        if _depth >= _MAX_DEPTH:
            return "..."
        if fragments:
            fragment = _array_fragment(obj)
            if fragment is not None:
                return fragment
        seen = _seen if _seen is not None else set()
        if isinstance(obj, (list, tuple, Mapping, set, frozenset)):
            ident = id(obj)
            if ident in seen:
                return "<cycle>"
            seen.add(ident)
            try:
                if isinstance(obj, Mapping):
                    out: dict[str, Any] = {}
                    for i, (key, value) in enumerate(obj.items()):
                        if i >= _MAX_ITEMS:
                            out["..."] = "truncated"
                            break
                        name = key if isinstance(key, str) else str(to_jsonable(key, _depth + 1, seen))
                        out[name] = to_jsonable(value, _depth + 1, seen, fragments=fragments)
                    return out
                items = obj if isinstance(obj, (list, tuple)) else _convert_known(obj)
                return [
                    to_jsonable(v, _depth + 1, seen, fragments=fragments) for v in list(items)[:_MAX_ITEMS]
                ]
            finally:
                seen.discard(ident)
        converted = _convert_known(obj)
        if converted is _UNKNOWN:
            return safe_repr(obj)
        return to_jsonable(converted, _depth + 1, seen, fragments=fragments)
    except Exception:
        return safe_repr(obj)


def dumps(obj: Any) -> str:
    """Compact JSON of ``obj``; never raises (see the module docstring for what becomes what).

    Runs on the export thread: the value is made safe in one walk, in which numeric numpy
    arrays (the bulk of most samples) are encoded natively by orjson.
    """
    prepared = to_jsonable(obj, fragments=True)
    try:
        return orjson.dumps(prepared).decode("utf-8")
    except Exception:
        pass  # a lone surrogate in a string: orjson refuses, json escapes it
    try:
        return json.dumps(to_jsonable(obj), allow_nan=False, separators=(",", ":"), ensure_ascii=True)
    except Exception:
        return json.dumps(safe_repr(obj))


_ATOMS = (str, int, bool, type(None))
EAGER_BYTES = 4096
"""Samples up to about this many bytes that :func:`encode_now` can write are encoded on the
caller's thread: orjson writes a small numeric array in about a microsecond, less than what
keeping the sample until export costs (the objects every full garbage collection walks while
the span is queued, and the span's copy with its attributes at export)."""


def _atom(value: Any) -> bool:
    """A value orjson writes as the export thread's encoder would: finite floats only."""
    return isinstance(value, _ATOMS) or (type(value) is float and math.isfinite(value))


def encode_now(data: Any, meta: Mapping[str, Any], max_rows: int | None = None) -> str | None:
    """``dumps({"sample": data, "_meta": meta})`` for the cheap cases, else None.

    Cheap means a numeric numpy array with finite values (or a scalar), and a ``_meta`` of
    atoms, shape tuples and numpy dtypes: the JSON is byte for byte what the export thread's
    :func:`dumps` would write. Anything else returns None, and is deferred as before; so is an
    array of more than ``max_rows`` rows (an output whose further rows go in binary).
    """
    try:
        shape = getattr(data, "shape", None)
        if max_rows is not None and shape and shape[0] > max_rows:
            return None
        described: dict[str, Any] = {}
        for key, value in meta.items():
            if isinstance(value, _ATOMS) and not isinstance(value, float):
                described[key] = value
            elif type(value) in (tuple, list) and all(type(v) is int for v in value):
                described[key] = list(value)
            else:
                np = sys.modules.get("numpy")
                if np is None or not isinstance(value, np.dtype):
                    return None
                described[key] = dtype_name(value)
        if _atom(data) or (type(data) is list and all(_atom(v) for v in data)):
            sample: Any = data
        else:
            sample = _array_fragment(data)
            if sample is None:
                return None
        return orjson.dumps({"sample": sample, "_meta": described}).decode("utf-8")
    except Exception:
        return None


_PLAIN_NODES = 256
"""Values and containers :func:`encode_plain` reads before it leaves a value to the export thread."""


def _plain(value: Any, budget: list[int], depth: int) -> bool:
    budget[0] -= 1
    if budget[0] < 0 or depth > _MAX_DEPTH:
        return False
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_plain(v, budget, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and _plain(v, budget, depth + 1) for k, v in value.items())
    return False


def encode_plain(value: Any) -> str | None:
    """``dumps(value)`` for a small value of only JSON's own types (str, int, bool, None,
    finite floats, lists, dicts with str keys), else None: such a value reads the same
    through :func:`to_jsonable`, so orjson writes it as is, at once, on the caller's thread."""
    try:
        if not _plain(value, [_PLAIN_NODES], 0):
            return None
        return orjson.dumps(value).decode("utf-8")
    except Exception:  # a lone surrogate, say: the export thread's encoder escapes it
        return None
