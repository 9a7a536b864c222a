"""The label join, as pure functions: which prediction a label belongs to, and which rows.

The rule (from the span schema):

1. a label carrying ``aither.label.span_id`` joins the prediction span with that id;
2. else a label naming its model (``ml.model.name``) joins that model's prediction in the trace;
3. else it joins the trace's only prediction.

When the rule finds nothing yet, the label is *pending*: predictions may arrive after their
labels, and the writer runs the rule again when one does. When it finds several, the label
is *ambiguous*: stored, counted and shown, never attached to a guess.

Rows: a batch label carries one value per row, for rows ``0..n-1`` or for the rows listed in
``ml.label.row_indices``; a single label labels row 0 of a single-row prediction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from .scoring import RowValue, label_value, row_value

JOINED: Final = "joined"
PENDING: Final = "pending"
AMBIGUOUS: Final = "ambiguous"
INVALID: Final = "invalid"
LABEL_STATUSES: Final = (JOINED, PENDING, AMBIGUOUS, INVALID)

RULE_SPAN_ID: Final = "span_id"
RULE_MODEL: Final = "model"
RULE_ONLY: Final = "only"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A prediction in the label's trace."""

    prediction_id: int
    span_id: str
    model_name: str


@dataclass(frozen=True, slots=True)
class JoinDecision:
    """Where the rule put a label."""

    status: str
    rule: str | None = None
    target: Candidate | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class LabelledRow:
    """One prediction row with its true value."""

    row_index: int
    predicted: RowValue
    label: RowValue
    value: str
    """The true value as JSON text."""


def resolve(
    target_span_id: str | None, model_name: str | None, candidates: Sequence[Candidate]
) -> JoinDecision:
    """Apply the join rule to the predictions known in the label's trace."""
    if target_span_id is not None:
        for candidate in candidates:
            if candidate.span_id == target_span_id:
                return JoinDecision(JOINED, RULE_SPAN_ID, candidate)
        return JoinDecision(PENDING, message=f"prediction span {target_span_id} not received yet")
    if model_name is not None:
        matches = [candidate for candidate in candidates if candidate.model_name == model_name]
        if len(matches) == 1:
            return JoinDecision(JOINED, RULE_MODEL, matches[0])
        if matches:
            return JoinDecision(
                AMBIGUOUS,
                message=f"the trace holds {len(matches)} predictions of model {model_name!r}; "
                "label them by span (log_label with the prediction's span id)",
            )
        return JoinDecision(PENDING, message=f"no prediction of model {model_name!r} in the trace yet")
    if len(candidates) == 1:
        return JoinDecision(JOINED, RULE_ONLY, candidates[0])
    if candidates:
        models = ", ".join(sorted({repr(candidate.model_name) for candidate in candidates}))
        return JoinDecision(
            AMBIGUOUS,
            message=f"the trace holds {len(candidates)} predictions ({models}) and the label names "
            "no model; pass model_name to log_label",
        )
    return JoinDecision(PENDING, message="no prediction in the trace yet")


# built once: json.dumps(value, default=str) builds a new encoder per call, a fifth of the join's time
_VALUE_ENCODER = json.JSONEncoder(default=str)


_SCALAR_JSON = {None: "null", True: "true", False: "false"}


def _value_json(value: Any) -> str:
    if type(value) is int:  # the common label: a class id
        return str(value)
    if value is None or type(value) is bool:
        return _SCALAR_JSON[value]
    return _VALUE_ENCODER.encode(value)


def _labelled(index: int, value: Any, sample: Any, task: str | None, method: str | None) -> LabelledRow:
    return LabelledRow(index, row_value(sample, index, task, method), label_value(value), _value_json(value))


def pair_rows(
    values: Sequence[Any],
    indices: Sequence[int] | None,
    is_batch: bool,
    *,
    output_rows: int | None,
    sample: Any,
    task: str | None,
    method: str | None,
) -> tuple[list[LabelledRow], str | None]:
    """The labelled rows of a joined label, and a message when some labels could not be placed.

    An empty list with a message means the label does not fit the prediction at all.
    """
    if not is_batch:
        if output_rows is not None and output_rows > 1:
            return [], (
                f"one label for a {output_rows}-row prediction; send one label per row "
                "(a list, or {row_index: label})"
            )
        return [_labelled(0, values[0], sample, task, method)], None
    rows = list(indices) if indices is not None else list(range(len(values)))
    paired: list[LabelledRow] = []
    outside = 0
    for index, value in zip(rows, values, strict=True):
        if output_rows is not None and index >= output_rows:
            outside += 1
            continue
        paired.append(_labelled(index, value, sample, task, method))
    if outside:
        return paired, f"{outside} labels name rows past the prediction's {output_rows} rows; ignored"
    return paired, None
