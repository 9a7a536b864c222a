"""``rest``: the rows of a numeric output past the first :data:`JSON_ROWS`, in binary.

``ml.prediction`` keeps a model's output whole up to ``prediction_rows`` so that labels can be
scored row by row. Its first :data:`JSON_ROWS` rows are JSON numbers, readable in any
OpenTelemetry backend; a numeric array's further rows travel as base64 of their raw
little-endian values (``docs/span-schema.md``)::

    {"sample": [...], "_meta": {...},
     "rest": {"encoding": "base64", "dtype": "<f4", "shape": [9000, 2], "data": "..."}}

Why: writing a float as JSON costs ~35 ns with the GIL held on the export thread (~0.7 ms for
10,000 x 2 probabilities), which a busy caller then waits for; base64 of the bytes costs ~3 ns a
value. The envelope's shape and its decoding live in :mod:`aither.schema.envelope` (one
definition, shared with the server); this module only encodes.
"""

from __future__ import annotations

import base64
from typing import Any

from ..schema.envelope import FORMATS, JSON_ROWS, MAX_VALUES, decode_rest, join_rest

__all__ = ["FORMATS", "JSON_ROWS", "MAX_VALUES", "decode_rest", "encode_rest", "join_rest"]


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
