"""The sample envelope: how ``ml.features``, ``ml.prediction`` and ``ml.label`` carry a value.

The SDK writes (:mod:`aither.sampling`), the server reads (:mod:`aither.server.ingest`)::

    {"sample": [...], "_meta": {"type", "shape", "columns", "dtypes", "rows", "truncated"},
     "rest": {"encoding": "base64", "dtype": "<f4", "shape": [9000, 2], "data": "..."}}

``sample`` holds the first rows as JSON; ``_meta`` describes the whole value; ``rest`` (only on a
numeric output longer than :data:`JSON_ROWS` rows) holds the further rows as base64 of their raw
little-endian values, because writing floats as JSON costs ~35 ns each on the SDK's export
thread and base64 of the bytes ~3 ns (``docs/span-schema.md``). A bare JSON value, with no
envelope, is its own sample.

Standard library only: the server decodes without numpy.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "FORMATS",
    "JSON_ROWS",
    "MAX_VALUES",
    "META",
    "META_FIELDS",
    "REST",
    "SAMPLE",
    "decode_rest",
    "join_rest",
    "split_envelope",
]

SAMPLE: Final = "sample"
"""The envelope key of the sampled rows (JSON)."""
META: Final = "_meta"
"""The envelope key of the description of the whole value."""
REST: Final = "rest"
"""The envelope key of a numeric output's rows past :data:`JSON_ROWS`, in binary."""
META_FIELDS: Final = ("type", "shape", "columns", "dtypes", "rows", "truncated")
"""The keys of ``_meta``, always all present (None where they do not apply)."""

JSON_ROWS: Final = 1_000
"""Rows of a numeric output written as JSON numbers; the rows past them go in ``rest``."""

FORMATS: Mapping[str, str] = {
    "|b1": "?", "|i1": "b", "|u1": "B", "<i2": "h", "<u2": "H", "<i4": "i", "<u4": "I",
    "<i8": "q", "<u8": "Q", "<f2": "e", "<f4": "f", "<f8": "d",
}  # fmt: skip
"""numpy's little-endian dtype strings -> struct formats: the dtypes ``rest`` may hold."""

MAX_VALUES: Final = 10_000_000
"""A ``rest`` claiming more values than this is not decoded."""


def decode_rest(rest: Any) -> list[Any] | None:
    """The rows of a ``rest`` part, one list entry a row.

    Non-finite floats come back as ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``, as the JSON
    rows write them.

    Args:
        rest: The parsed ``rest`` value, of any shape (it comes from the network).

    Returns:
        The rows, or None when ``rest`` does not decode.
    """
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
    """The envelope with its ``rest`` rows appended to ``sample``, and no ``rest`` key.

    An envelope without ``rest`` comes back as it is; one whose ``rest`` does not decode comes
    back without ``rest``, its sample the JSON rows only.
    """
    if not isinstance(envelope, dict) or REST not in envelope:
        return envelope
    joined = {k: v for k, v in envelope.items() if k != REST}
    rows = decode_rest(envelope[REST])
    if rows is not None and isinstance(joined.get(SAMPLE), list):
        joined[SAMPLE] = joined[SAMPLE] + rows
    return joined


def split_envelope(parsed: Any) -> tuple[Any, Mapping[str, Any]]:
    """``(sample, _meta)`` of a parsed envelope; a bare value is its own sample, with no ``_meta``.

    A numeric output's ``rest`` rows are appended to the sample, one row each; a ``rest`` that
    does not decode is left out, and the sample is its JSON rows only.
    """
    if isinstance(parsed, dict) and SAMPLE in parsed:
        joined = join_rest(parsed)
        meta = joined.get(META)
        return joined[SAMPLE], meta if isinstance(meta, dict) else {}
    return parsed, {}


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value
