"""The time-series methods and the risk levels: pure functions, no database."""

from __future__ import annotations

import math

import pytest

from aither import RiskLevel
from aither.server.detection.risk import call_risk
from aither.server.detection.rules import RuleSet
from aither.server.detection.timeseries import (
    cusum,
    ewma,
    iqr_bounds,
    is_drop,
    is_spike,
    mad,
    median,
    poisson_cdf,
    robust_z,
    z_score,
)
from aither.server.ingest.records import LlmCallRecord


def test_median_and_mad_ignore_an_outlier_a_mean_would_follow() -> None:
    calm = [100.0, 104, 98, 101, 99, 103, 97, 5000]
    assert median(calm) == pytest.approx(100.5)
    assert mad(calm) == pytest.approx(2.5)
    assert robust_z(300, calm) > 3.5  # the mean (~700) would call 300 low
    assert z_score(300, calm) < 0
    assert math.isnan(median([]))


def test_spikes_need_the_multiple_and_the_spread() -> None:
    history = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95]
    assert is_spike(3.5, history, multiplier=3)
    assert not is_spike(2.5, history, multiplier=3)
    assert not is_spike(3.5, history[:3], multiplier=3)  # too little history for a baseline
    assert not is_spike(3.5, [0.0] * 10, multiplier=3)  # no baseline to multiply


def test_drops_need_a_count_that_is_all_but_impossible_at_the_baseline() -> None:
    history = [20.0, 19, 21, 22, 18, 20]
    assert not is_drop(6, history, divisor=3)  # a quiet minute at 20/min happens
    assert is_drop(1, history, divisor=3)
    assert is_drop(6, history, divisor=3, minutes=2)  # 6 in two minutes is not a lull
    assert not is_drop(1, [5.0] * 10, divisor=3)  # under the minimum baseline
    assert poisson_cdf(0, 2) == pytest.approx(math.exp(-2))
    assert poisson_cdf(100, 2) == pytest.approx(1.0)


def test_iqr_ewma_cusum() -> None:
    low, high = iqr_bounds([1.0, 2, 3, 4, 5, 6, 7, 8])
    assert (low, high) == pytest.approx((-2.5, 11.5))  # Q1 2.75, Q3 6.25 (as numpy interpolates)
    assert ewma([1.0, 1, 1, 5], alpha=0.5) == [1.0, 1.0, 1.0, 3.0]
    shifted = [10.0] * 20 + [12.0] * 20
    assert cusum(shifted, target=10, slack=0.5, limit=10) == 26  # a small lasting shift
    assert cusum([10.0] * 40, target=10, slack=0.5, limit=10) is None


def _call(**changes: object) -> LlmCallRecord:
    call = LlmCallRecord(
        "a" * 32, "b" * 16, "chat", "chat", "openai", "m", None, 100, 50, 0.001, None, 0, 200.0, False
    )
    for name, value in changes.items():
        setattr(call, name, value)
    return call


@pytest.mark.parametrize(
    ("changes", "level"),
    [
        ({}, RiskLevel.LOW),
        ({"is_error": True}, RiskLevel.MEDIUM),
        ({"cost_usd": 0.9}, RiskLevel.MEDIUM),
        ({"latency_ms": 6000.0}, RiskLevel.MEDIUM),
        ({"input_tokens": 9000}, RiskLevel.MEDIUM),
        ({"pii_detected": True}, RiskLevel.HIGH),
        ({"injection_score": 0.6}, RiskLevel.HIGH),
        ({"injection_detected": True, "pii_detected": True}, RiskLevel.CRITICAL),
    ],
)
def test_risk_levels(changes: dict[str, object], level: RiskLevel) -> None:
    assert call_risk(_call(**changes), RuleSet()) is level


def test_risk_follows_the_rules_thresholds() -> None:
    strict = RuleSet().updated({"cost_threshold_usd": 0.0005})
    assert call_risk(_call(), strict) is RiskLevel.MEDIUM
