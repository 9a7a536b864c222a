"""Model quality from counts and sorted values: pure functions, below storage.

:mod:`aither.server.storage.metrics` counts in SQL (a confusion matrix per version, sorted
latencies) and turns the counts into scores here, so that the arithmetic is tested without a
database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

_POSITIVE = "1"


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of sorted values (the same as ``percentile_cont``)."""
    if not sorted_values:
        return math.nan
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def classification_scores(confusion: dict[tuple[str, str], int]) -> dict[str, Any]:
    """Accuracy, precision, recall and F1 from ``{(predicted, true): count}``.

    Binary (positive class ``1``) when every class is ``0`` or ``1``; macro-averaged over the
    classes otherwise.
    """
    total = sum(confusion.values())
    if not total:
        return {}
    correct = sum(count for (predicted, true), count in confusion.items() if predicted == true)
    classes = sorted({c for pair in confusion for c in pair})
    binary = set(classes) <= {"0", "1"}
    targets = [_POSITIVE] if binary else classes

    def prf(cls: str) -> tuple[float, float, float]:
        tp = confusion.get((cls, cls), 0)
        predicted = sum(n for (p, _), n in confusion.items() if p == cls)
        actual = sum(n for (_, t), n in confusion.items() if t == cls)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    scores = [prf(cls) for cls in targets]
    return {
        "accuracy": correct / total,
        "precision": sum(s[0] for s in scores) / len(scores),
        "recall": sum(s[1] for s in scores) / len(scores),
        "f1": sum(s[2] for s in scores) / len(scores),
        "average": "binary" if binary else "macro",
        "positive_class": _POSITIVE if binary else None,
        "classes": len(classes),
        "scored_rows": total,
    }
