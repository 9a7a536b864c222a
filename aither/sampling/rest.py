"""``rest``: the rows of a numeric output past the first :data:`JSON_ROWS`, in binary.

``ml.prediction`` keeps a model's output whole up to ``prediction_rows`` so that labels can be
scored row by row. Its first :data:`JSON_ROWS` rows are JSON numbers, readable in any
OpenTelemetry backend; a numeric array's further rows travel as base64 of their raw
little-endian values (``docs/span-schema.md``)::

    {"sample": [...], "_meta": {...},
     "rest": {"encoding": "base64", "dtype": "<f4", "shape": [9000, 2], "data": "..."}}

Why: writing a float as JSON costs ~35 ns with the GIL held on the export thread (~0.7 ms for
10,000 x 2 probabilities), which a busy caller then waits for; base64 of the bytes costs ~3 ns a
value. Standard library only: the server decodes with :func:`decode_rest` without numpy.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Mapping
from typing import Any

JSON_ROWS = 1_000
"""Rows of a numeric output written as JSON numbers; the rows past them go in ``rest``."""

FORMATS: Mapping[str, str] = {
    "|b1": "?", "|i1": "b", "|u1": "B", "<i2": "h", "<u2": "H", "<i4": "i", "<u4": "I",
    "<i8": "q", "<u8": "Q", "<f2": "e", "<f4": "f", "<f8": "d",
}  # fmt: skip
"""numpy's little-endian dtype strings -> struct formats: the dtypes ``rest`` may hold."""

MAX_VALUES = 10_000_000
"""A ``rest`` claiming more values than this is not decoded."""


def encode_rest(array: Any) -> dict[str, Any] | None:
    """``rest`` for a numpy array's rows (little-endian), or None for a dtype it can't hold."""
    rest = array.astype(array.dtype.newbyteorder("<"), copy=False)
    if rest.dtype.str not in FORMATS or rest.ndim > 2:
        return None
    return {
        "encoding": "base64",
        "dtype": rest.dtype.str,
        "shape": list(rest.shape),
        "data": base64.b64encode(rest.tobytes()).decode("ascii"),
    }


def decode_rest(rest: Any) -> list[Any] | None:
    """The rows of a ``rest`` part, one list entry a row (non-finite floats as ``"NaN"``,
    ``"Infinity"``, as the JSON rows write them); None when it does not decode."""
    if not isinstance(rest, dict) or rest.get("encoding") != "base64":
        return None
    code = FORMATS.get(str(rest.get("dtype")))
    shape = rest.get("shape")
    data = rest.get("data")
    if (
        code is None
        or not isinstance(data, str)
        or not isinstance(shape, list)
        or not 1 <= len(shape) <= 2
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        return None
    count = shape[0] * (shape[1] if len(shape) == 2 else 1)
    if count > MAX_VALUES:
        return None
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:
        return None
    if len(raw) != count * struct.calcsize(f"<{code}"):
        return None
    values = [_finite(v) for v in struct.unpack(f"<{count}{code}", raw)]
    if len(shape) == 1:
        return values
    width = shape[1]
    if width == 0:
        return [[] for _ in range(shape[0])]
    return [values[i : i + width] for i in range(0, count, width)]


def join_rest(envelope: Any) -> Any:
    """``{"sample", "_meta"}`` with a ``rest`` part's rows appended to the sample (an envelope
    without one, or whose ``rest`` does not decode, comes back without ``rest``)."""
    if not isinstance(envelope, dict) or "rest" not in envelope:
        return envelope
    joined = {k: v for k, v in envelope.items() if k != "rest"}
    rows = decode_rest(envelope["rest"])
    if rows is not None and isinstance(joined.get("sample"), list):
        joined["sample"] = joined["sample"] + rows
    return joined


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value
