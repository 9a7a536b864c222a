"""The label join rule, per-row scoring and the metric formulas, as pure functions."""

from __future__ import annotations

import math

import pytest

from aither.server.analysis.label_join import (
    AMBIGUOUS,
    JOINED,
    PENDING,
    Candidate,
    pair_rows,
    resolve,
)
from aither.server.analysis.quality import classification_scores, quantile
from aither.server.analysis.scoring import NO_VALUE, RowValue, class_of, label_value, row_value

FRAUD = Candidate(1, "a" * 16, "fraud")
CHURN = Candidate(2, "b" * 16, "churn")
FRAUD_AGAIN = Candidate(3, "c" * 16, "fraud")


def test_join_by_span_id_wins_over_everything() -> None:
    decision = resolve("c" * 16, "churn", [FRAUD, CHURN, FRAUD_AGAIN])
    assert (decision.status, decision.rule, decision.target) == (JOINED, "span_id", FRAUD_AGAIN)
    assert resolve("d" * 16, None, [FRAUD]).status == PENDING


def test_join_by_model_name() -> None:
    decision = resolve(None, "churn", [FRAUD, CHURN])
    assert (decision.status, decision.rule, decision.target) == (JOINED, "model", CHURN)
    assert resolve(None, "churn", [FRAUD]).status == PENDING
    ambiguous = resolve(None, "fraud", [FRAUD, FRAUD_AGAIN])
    assert ambiguous.status == AMBIGUOUS
    assert "2 predictions of model 'fraud'" in (ambiguous.message or "")


def test_join_to_the_only_prediction_and_never_guess() -> None:
    assert resolve(None, None, [CHURN]).target == CHURN
    assert resolve(None, None, []).status == PENDING
    ambiguous = resolve(None, None, [FRAUD, CHURN])
    assert ambiguous.status == AMBIGUOUS
    assert ambiguous.target is None
    assert "pass model_name" in (ambiguous.message or "")


def test_pair_rows_batch_and_row_indices() -> None:
    rows, message = pair_rows(
        [1, 0, 1], None, True, output_rows=3, sample=[1, 1, 1], task="classification", method="predict"
    )
    assert message is None
    assert [(r.row_index, r.predicted.klass, r.label.klass, r.value) for r in rows] == [
        (0, "1", "1", "1"),
        (1, "1", "0", "0"),
        (2, "1", "1", "1"),
    ]
    rows, message = pair_rows(
        ["x", "y"], [4, 9], True, output_rows=5, sample=list("abcde"), task="classification", method="predict"
    )
    assert [(r.row_index, r.predicted.klass) for r in rows] == [(4, "e")]
    assert message == "1 labels name rows past the prediction's 5 rows; ignored"


def test_single_label_labels_row_zero_of_a_single_row_prediction_only() -> None:
    rows, message = pair_rows(
        [1], None, False, output_rows=1, sample=[1], task="classification", method="predict"
    )
    assert [(r.row_index, r.predicted, r.label) for r in rows] == [
        (0, RowValue("1", 1.0), RowValue("1", 1.0))
    ]
    rows, message = pair_rows(
        [1], None, False, output_rows=10, sample=[1] * 10, task="classification", method="predict"
    )
    assert rows == []
    assert message is not None
    assert "one label for a 10-row prediction" in message
    rows, _ = pair_rows(
        [0.5], None, False, output_rows=1, sample=0.87, task="regression", method="log_prediction"
    )
    assert rows[0].predicted == RowValue(None, 0.87)
    assert rows[0].label.num == 0.5


def test_row_values() -> None:
    proba = [[0.2, 0.8], [0.9, 0.1], [0.3, 0.3, 0.4]]
    assert row_value(proba, 0, "classification", "predict_proba") == RowValue("1", 1.0)
    assert row_value(proba, 1, "classification", "predict_proba") == RowValue("0", 0.0)
    assert row_value(proba, 2, "classification", "predict_proba").klass == "2"
    assert row_value([[0.7]], 0, "classification", "predict_proba").klass == "1"
    assert row_value([1, 2], 5, "classification", "predict") == NO_VALUE  # past the sample (truncated)
    assert row_value([1.5, "NaN"], 1, "regression", "predict") == RowValue(None, None)
    assert row_value([[2.5]], 0, "regression", "predict") == RowValue(None, 2.5)
    assert row_value([1, 2], 0, None, "predict") == NO_VALUE


@pytest.mark.parametrize(
    ("value", "klass"),
    [
        (True, "1"),
        (False, "0"),
        (1, "1"),
        (1.0, "1"),
        (2.5, "2.5"),
        ("cat", "cat"),
        (None, None),
        (float("nan"), None),
    ],
)
def test_classes_are_canonical(value: object, klass: str | None) -> None:
    assert class_of(value) == klass
    assert label_value(value).klass == klass


def test_binary_classification_scores() -> None:
    # predicted, true: 3 true positives, 1 false positive, 2 false negatives, 4 true negatives
    scores = classification_scores({("1", "1"): 3, ("1", "0"): 1, ("0", "1"): 2, ("0", "0"): 4})
    assert scores["accuracy"] == pytest.approx(0.7)
    assert scores["precision"] == pytest.approx(0.75)
    assert scores["recall"] == pytest.approx(0.6)
    assert scores["f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert (scores["average"], scores["positive_class"], scores["scored_rows"]) == ("binary", "1", 10)


def test_multiclass_scores_are_macro_averaged() -> None:
    scores = classification_scores({("a", "a"): 2, ("b", "a"): 1, ("b", "b"): 1, ("c", "c"): 1})
    assert scores["accuracy"] == pytest.approx(0.8)
    # precision a=1, b=0.5, c=1; recall a=2/3, b=1, c=1
    assert scores["precision"] == pytest.approx((1 + 0.5 + 1) / 3)
    assert scores["recall"] == pytest.approx((2 / 3 + 1 + 1) / 3)
    assert (scores["average"], scores["classes"]) == ("macro", 3)
    assert classification_scores({}) == {}


def test_quantile_matches_linear_interpolation() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert quantile(values, 0.5) == 2.5
    assert quantile(values, 0.0) == 1.0
    assert quantile(values, 1.0) == 4.0
    assert quantile([7.0], 0.99) == 7.0
    assert math.isnan(quantile([], 0.5))
