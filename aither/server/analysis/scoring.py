"""Turn predicted and true values into comparable per-row values, and name the model's task.

A prediction's ``ml.prediction`` sample holds one value per output row (see the span schema):
a list of scalars for a 1-D output, a list of lists for a 2-D one (``predict_proba``), or a
bare scalar for a single prediction. Each row becomes a :class:`RowValue`: a class (a short
canonical string) for classification and a number for regression, so that the metrics query
compares strings and subtracts floats without parsing JSON.

The task is read off the values, never guessed from names:

- ``predict_proba`` / ``predict_log_proba`` outputs are classification; the predicted class is
  the column with the highest score (a single column is a positive-class probability,
  thresholded at 0.5). The class is the column *index*, which matches labels encoded
  ``0..k-1`` as scikit-learn's ``LabelEncoder`` leaves them.
- Integers, booleans and strings are classes: classification.
- Any float (the JSON encoder writes floats as ``1.0``, integers as ``1``) makes the output
  numeric: regression. ``"NaN"`` and ``"Infinity"`` (how the SDK encodes non-finite floats)
  count as floats with no value.
- Anything else (nested outputs, several columns of a multi-output model) is not scored; its
  rows still count for label coverage.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Final

CLASSIFICATION: Final = "classification"
REGRESSION: Final = "regression"

PROBA_METHODS: Final = frozenset({"predict_proba", "predict_log_proba"})
"""Methods whose 2-D output holds one score per class."""

_NON_FINITE: Final = frozenset({"NaN", "Infinity", "-Infinity"})
_CLASS_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class RowValue:
    """One row's value, ready for the metrics query."""

    klass: str | None
    num: float | None


NO_VALUE: Final = RowValue(None, None)


def class_of(value: Any) -> str | None:
    """The canonical class string of a value: ``True`` and ``1`` and ``1.0`` are all ``"1"``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, str):
        return value[:_CLASS_CHARS].replace("\x00", "\ufffd")  # PostgreSQL text can't hold NUL
    return json.dumps(value, sort_keys=True, default=str)[:_CLASS_CHARS]


def number_of(value: Any) -> float | None:
    """The value as a finite float, or None when it is not a number."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def label_value(value: Any) -> RowValue:
    """A true value (one row of ``ml.label``) as a :class:`RowValue`."""
    return RowValue(class_of(value), number_of(value))


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _is_float(value: Any) -> bool:
    return (isinstance(value, float)) or (isinstance(value, str) and value in _NON_FINITE)


def infer_task(sample: Any, method: str | None) -> str | None:
    """``classification``, ``regression`` or None (not scored) for a prediction sample."""
    if _is_scalar(sample):
        if sample is None:
            return None
        return REGRESSION if _is_float(sample) else CLASSIFICATION
    if not isinstance(sample, list) or not sample:
        return None
    if all(isinstance(row, list) for row in sample):
        widths = {len(row) for row in sample}
        if method in PROBA_METHODS and widths and 0 not in widths:
            return CLASSIFICATION
        if widths == {1}:  # an (n, 1) column, as Keras and some regressors return
            return infer_task([row[0] for row in sample], method)
        return None
    if not all(_is_scalar(value) for value in sample):
        return None
    present = [value for value in sample if value is not None]
    if not present:
        return None
    return REGRESSION if any(_is_float(value) for value in present) else CLASSIFICATION


def _argmax(row: list[Any]) -> RowValue:
    scores = [number_of(value) for value in row]
    numbers = [score for score in scores if score is not None]
    if len(numbers) != len(scores):
        return NO_VALUE
    if len(numbers) == 1:
        return RowValue("1" if numbers[0] >= 0.5 else "0", None)
    best = max(range(len(numbers)), key=lambda column: numbers[column])
    return RowValue(str(best), float(best))


def row_value(sample: Any, index: int, task: str | None, method: str | None) -> RowValue:
    """The value of output row ``index``; :data:`NO_VALUE` past the sample or when unscored."""
    if task is None:
        return NO_VALUE
    if isinstance(sample, list):
        if index < 0 or index >= len(sample):
            return NO_VALUE
        value = sample[index]
    elif index == 0:  # a single prediction: the sample is the value
        value = sample
    else:
        return NO_VALUE
    if isinstance(value, list):
        if method in PROBA_METHODS:
            return _argmax(value)
        if len(value) != 1:
            return NO_VALUE
        value = value[0]
    if task == REGRESSION:
        return RowValue(None, number_of(value))
    return RowValue(class_of(value), number_of(value))


def sample_rows(sample: Any) -> int:
    """How many output rows a prediction sample holds (1 for a scalar)."""
    if isinstance(sample, list):
        return len(sample)
    return 0 if sample is None else 1
