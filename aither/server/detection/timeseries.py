"""Time-series methods over per-minute series: pure functions of lists of floats, no numpy.

Spikes and drops are judged against a robust baseline (the median and the median absolute
deviation of the trailing hour), so one earlier outlier neither hides the next one nor
raises a false alarm, as a mean and standard deviation would.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MAD_SCALE = 1.4826
"""MAD times this estimates the standard deviation of normally distributed data."""


def median(values: Sequence[float]) -> float:
    """The median (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def mad(values: Sequence[float]) -> float:
    """The median absolute deviation from the median (NaN for no values)."""
    centre = median(values)
    return median([abs(value - centre) for value in values])


def robust_z(value: float, history: Sequence[float], *, floor: float = 0.05) -> float:
    """How many robust standard deviations ``value`` lies above the median of ``history``.

    The spread is at least ``floor`` times the median, so a perfectly flat baseline does not
    make a tiny wobble infinitely significant.
    """
    centre = median(history)
    spread = max(MAD_SCALE * mad(history), floor * abs(centre), 1e-12)
    return (value - centre) / spread


def z_score(value: float, history: Sequence[float]) -> float:
    """The classic z-score against the mean and standard deviation of ``history``."""
    if len(history) < 2:
        return 0.0
    mean = sum(history) / len(history)
    variance = sum((x - mean) ** 2 for x in history) / (len(history) - 1)
    return (value - mean) / math.sqrt(variance) if variance > 0 else 0.0


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile with linear interpolation (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def iqr_bounds(history: Sequence[float], k: float = 1.5) -> tuple[float, float]:
    """Tukey's fences: (Q1 - k IQR, Q3 + k IQR); a value outside is an outlier."""
    q1, q3 = quantile(history, 0.25), quantile(history, 0.75)
    return q1 - k * (q3 - q1), q3 + k * (q3 - q1)


def ewma(series: Sequence[float], alpha: float = 0.3) -> list[float]:
    """The exponentially weighted moving average of ``series`` (same length)."""
    out: list[float] = []
    level = math.nan
    for value in series:
        level = value if math.isnan(level) else alpha * value + (1 - alpha) * level
        out.append(level)
    return out


def cusum(series: Sequence[float], target: float, slack: float, limit: float) -> int | None:
    """The first index where the upper CUSUM of ``series`` passes ``limit``, or None.

    Accumulates how far values run above ``target + slack``; a small lasting shift (a slow
    degradation) crosses the limit where no single point would.
    """
    total = 0.0
    for index, value in enumerate(series):
        total = max(0.0, total + value - target - slack)
        if total > limit:
            return index
    return None


def is_spike(
    value: float, history: Sequence[float], *, multiplier: float, min_history: int = 5, z: float = 3.5
) -> bool:
    """Whether ``value`` is ``multiplier`` times the robust baseline and far outside its spread."""
    if len(history) < min_history or multiplier <= 0:
        return False
    base = median(history)
    return base > 0 and value > multiplier * base and robust_z(value, history) > z


def poisson_cdf(k: float, mean: float) -> float:
    """P(X <= k) for a Poisson count X of the given mean."""
    if mean <= 0:
        return 1.0
    term = total = math.exp(-mean)
    for i in range(1, math.floor(k) + 1):
        term *= mean / i
        total += term
    return min(1.0, total)


def is_drop(
    count: float,
    history: Sequence[float],
    *,
    divisor: float,
    minutes: float = 1.0,
    min_history: int = 5,
    min_base: float = 10.0,
    p_value: float = 1e-6,
) -> bool:
    """Whether ``count`` (over ``minutes``) fell below the per-minute baseline of ``history``
    divided by ``divisor``, and a count that low is all but impossible (Poisson tail under
    ``p_value``) at the baseline rate: a throughput drop, not a quiet minute.
    """
    if len(history) < min_history or divisor <= 0:
        return False
    base = median(history)
    expected = base * minutes
    return base >= min_base and count < expected / divisor and poisson_cdf(count, expected) < p_value
