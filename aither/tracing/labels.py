"""Label spans: ground truth joined to a prediction through its trace id.

A label span lives in the prediction's trace. When the SDK still remembers the prediction
(same process, recent), the label becomes a child of the prediction span and carries its
span id, and a batch label's length is checked against the prediction's rows. When a trace
holds several predictions, the label must name its model: aither never guesses.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from ..exceptions import AmbiguousLabel, ConfigError, InvalidTraceId
from ..sampling.encoder import dumps, to_jsonable
from ..schema import semconv
from .context import set_last
from .predictions import PredictionIndex, PredictionRef

if TYPE_CHECKING:
    from .._runtime import Runtime

_TRACE_ID = re.compile(r"[0-9a-f]{32}")


def parse_trace_id(trace_id: object) -> int:
    """The int of a 32-hex-digit trace id; InvalidTraceId saying why otherwise."""
    if not isinstance(trace_id, str):
        raise InvalidTraceId(
            f"trace_id must be the 32-hex-digit string aither returned (e.g. tracked.last_trace_id), "
            f"got {type(trace_id).__name__} {trace_id!r}"
        )
    text = trace_id.strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    if not _TRACE_ID.fullmatch(text):
        raise InvalidTraceId(f"trace_id {trace_id!r} is not 32 hexadecimal digits")
    value = int(text, 16)
    if value == 0:
        raise InvalidTraceId("trace_id 000...0 is the invalid trace id of OpenTelemetry")
    return value


def _is_batch(label: Any) -> bool:
    if isinstance(label, (str, bytes, bytearray, Mapping)):
        return False
    if isinstance(label, Sequence):
        return True
    shape = getattr(label, "shape", None)  # numpy, pandas, polars, tensors
    return isinstance(shape, tuple) and len(shape) >= 1 and hasattr(label, "__len__")


def _row_map(label: Mapping[Any, Any]) -> tuple[list[int], list[Any]] | None:
    """``{row_index: label}`` as (indices, values) sorted by row; None if the keys are not ints."""
    if not label or not all(isinstance(k, int) and not isinstance(k, bool) for k in label):
        return None
    indices = sorted(label)
    if indices[0] < 0:
        raise ConfigError(f"label row indices must be >= 0, got {indices[0]}")
    return indices, [label[i] for i in indices]


def _target(refs: list[PredictionRef] | None, model_name: str | None, trace_hex: str) -> PredictionRef | None:
    if not refs:
        return None
    candidates = refs if model_name is None else [r for r in refs if r.model_name == model_name]
    names = sorted({r.model_name for r in refs})
    if not candidates:
        raise AmbiguousLabel(
            f"trace {trace_hex} holds predictions of {names}, none of model {model_name!r}; "
            "pass the model_name the prediction was made with"
        )
    if len(candidates) > 1:
        which = "of the same model" if model_name is not None or len(names) == 1 else f"of models {names}"
        raise AmbiguousLabel(
            f"trace {trace_hex} holds {len(candidates)} predictions {which}; "
            + (
                "pass model_name= to say which one this label is for"
                if len(names) > 1
                else "label each prediction through its own trace id (make each call in its own trace)"
            )
        )
    return candidates[0]


def log_label(
    runtime: Runtime,
    index: PredictionIndex,
    trace_id: str,
    label: Any,
    *,
    model_name: str | None = None,
) -> None:
    """Emit a label span in the prediction's trace; raises on a caller's mistake only.

    ``label`` is one value, a sequence aligned with the prediction's rows, or a mapping
    ``{row_index: label}`` for some rows of a batch.
    """
    tid = parse_trace_id(trace_id)
    trace_hex = f"{tid:032x}"
    if model_name is not None and (not isinstance(model_name, str) or not model_name):
        raise ConfigError(f"model_name must be a non-empty string, got {model_name!r}")
    ref = _target(index.get(tid), model_name, trace_hex)

    attrs: dict[str, Any] = {
        semconv.AITHER_SPAN_KIND: semconv.SPAN_KIND_LABEL,
        semconv.AITHER_SCHEMA_VERSION: semconv.SCHEMA_VERSION,
    }
    name = model_name or (ref.model_name if ref is not None else None)
    if name is not None:
        attrs[semconv.ML_MODEL_NAME] = name
    rows = ref.rows if ref is not None else None
    row_map = _row_map(label) if isinstance(label, Mapping) else None
    if row_map is not None:
        indices, values = row_map
        if rows is not None and indices[-1] >= rows:
            raise ConfigError(
                f"label row index {indices[-1]} is out of range: the prediction had {rows} rows"
            )
        attrs[semconv.ML_LABEL] = dumps(to_jsonable(values))
        attrs[semconv.ML_LABEL_BATCH] = True
        attrs[semconv.ML_LABEL_ROW_INDICES] = dumps(indices)
    elif _is_batch(label):
        values = to_jsonable(label)
        if not isinstance(values, list):
            values = [values]
        if rows is not None and len(values) != rows:
            raise ConfigError(
                f"the label has {len(values)} values but the prediction had {rows} rows; pass one label per "
                "row, or {row_index: label} for some of them"
            )
        attrs[semconv.ML_LABEL] = dumps(values)
        attrs[semconv.ML_LABEL_BATCH] = True
    else:
        attrs[semconv.ML_LABEL] = dumps(label)
        attrs[semconv.ML_LABEL_BATCH] = False
    if ref is not None:
        attrs[semconv.AITHER_LABEL_SPAN_ID] = f"{ref.span_id:016x}"

    span_name = f"label {name}" if name else "label"
    parent_span_id = ref.span_id if ref is not None else None
    if parent_span_id is None and runtime.processor is None:
        # A user's provider has its own id generator: hang the label under a stand-in parent
        # id in the right trace rather than start a root span in a new trace.
        parent_span_id = random.getrandbits(64) or 1
    if parent_span_id is not None:
        # A child of the prediction span it labels: every OpenTelemetry backend shows it there.
        parent = SpanContext(tid, parent_span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
        ctx = trace.set_span_in_context(NonRecordingSpan(parent), Context())
        span = runtime.tracer.start_span(span_name, context=ctx, attributes=attrs)
    else:
        # A root span in the prediction's trace, through aither's id generator.
        from .._runtime import force_trace_id, reset_trace_id

        token = force_trace_id(tid)
        try:
            span = runtime.tracer.start_span(span_name, context=Context(), attributes=attrs)
        finally:
            reset_trace_id(token)
    span.end()
    set_last(tid)
