"""Window rules: per-target minute series from the rollups, plus the last seconds of calls.

The rollups give the robust baselines (a median over the trailing hour of per-minute values)
and the windows' sums. Minutes are too coarse to see a spike within seconds when it starts late
in a minute (the minute's mean is still mostly normal calls), so detection also keeps the last
:data:`RECENT_S` seconds of each target's calls in memory (a bounded buffer, filled as calls are
stored): the "current" value of a spike or an error burst is read from those when there are
enough of them, and the rollups' current minute otherwise.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from .anomalies import Hit, Target
from .rollups import MINUTE_NS, Rollup, RollupKey
from .rules import Rule
from .timeseries import is_drop, is_spike, median

BASELINE_MINUTES = 60
"""How far back the robust baselines of spike and drop rules look."""
FRESH_MINUTES = 7
"""Minutes read at every tick; older ones come from the once-a-minute :class:`History`."""
LATEST_CALLS = 5
"""A spike is judged on the median of a target's latest calls: most of them must be spiky, so
one slow call is not a latency spike, and three spiky calls are enough."""
RECENT_S = 20.0
"""The span of the in-memory view of each target's latest calls."""
RATE_S = 10.0
"""The request-rate pace is read over the last 10 s of calls (a burst shows within seconds)."""
BURST_S = 15.0
"""Error bursts are judged on the last 15 s of a target's calls (the way the request rate is)."""
MIN_CALLS_BURST = 3
"""An error burst needs this many calls in its seconds: 1 failure in 2 calls is not a rate."""
MIN_ERRORS_BURST = 2
"""... and this many failures (one failure is ``request_failure``'s, an event rule's)."""
BURST_BASE_FLOOR = 0.005
"""The error rate a burst is tested against is the target's trailing-hour rate, at least this."""
BURST_ALPHA = 1e-3
"""A burst counts when its failures would come from the baseline rate with less than this
chance (a binomial tail): with about 240 separate 15 s windows an hour per target, a clean
stream at the floor rate raises well under one false alarm an hour."""
RECENT_MAX = 512
"""Calls kept per target at most (a busy target's 20 s are sampled down to its latest calls)."""
MIN_CALLS_FOR_RATE = 10
"""An error rate over fewer calls than this is noise, not an anomaly."""
MODEL_ERRORS_MIN_RATE = 0.05
"""model_errors also needs this share of failures, so a busy model's rare errors don't count."""
MIN_CALLS_FOR_MEAN = 3
"""A mean over fewer calls than this is not compared with a baseline."""
PER_MODEL = frozenset({"cost_spike", "latency_spike", "token_spike", "model_errors"})
"""Window rules that split by model and version; the others judge a service as a whole."""


@dataclass(slots=True)
class RecentCall:
    time_ns: int
    latency_ms: float
    cost_usd: float | None
    tokens: int
    error: bool


class RecentCalls:
    """The latest calls of each target (kind, service, model, version, environment). Not thread-safe:
    the writer thread fills it at ingest and reads it at each tick."""

    def __init__(self) -> None:
        self._calls: dict[RollupKey, deque[RecentCall]] = {}

    def add(self, key: RollupKey, call: RecentCall) -> None:
        """Remember a call of the target of rollup ``key`` (its minute is ignored)."""
        target_key: RollupKey = (0, key[1], key[2], key[3], key[4], key[5])
        calls = self._calls.get(target_key)
        if calls is None:
            self._calls[target_key] = calls = deque(maxlen=RECENT_MAX)
        calls.append(call)

    def held(self) -> dict[RollupKey, list[RecentCall]]:
        """What is held, per target (the key's minute is 0), oldest call first."""
        return {key: list(calls) for key, calls in self._calls.items()}

    def view(self, rule: Rule, now_ns: int) -> dict[Target, list[RecentCall]]:
        """The calls of the last RECENT_S seconds per target of ``rule`` (in its scope); drops older ones."""
        start = now_ns - int(RECENT_S * 1e9)
        out: dict[Target, list[RecentCall]] = defaultdict(list)
        for key, calls in list(self._calls.items()):
            while calls and calls[0].time_ns < start - int(RECENT_S * 1e9):
                calls.popleft()
            if not calls:
                del self._calls[key]
                continue
            if rule.in_scope(key[1], key[2], key[3], key[5]):
                out[target_of(rule, key)].extend(c for c in calls if start <= c.time_ns <= now_ns)
        for merged in out.values():
            merged.sort(key=lambda call: call.time_ns)
        return out


def target_of(rule: Rule, key: RollupKey) -> Target:
    _, kind, service, model, version, environment = key
    if rule.name in PER_MODEL:
        return Target(kind, service, model, version, environment)
    return Target(kind, service)


Group = tuple[bool, str | None, str | None, str | None]
"""How a rule cuts the rollups: (per model?, service, model, environment scope); rules that
cut alike share one series per tick."""


def group_of(rule: Rule) -> Group:
    return (rule.name in PER_MODEL, rule.service, rule.model, rule.environment)


@dataclass
class History:
    """The series of the closed minutes (before the fresh ones), read once per event minute."""

    minute: int
    rules: object
    series: dict[Group, dict[Target, dict[int, Rollup]]]


def series_of(group: Group, rows: Sequence[tuple[RollupKey, Rollup]]) -> dict[Target, dict[int, Rollup]]:
    """Per target, the merged rollup of each minute, for the rows in the group's scope."""
    per_model, service, model, environment = group
    out: dict[Target, dict[int, Rollup]] = defaultdict(dict)
    for key, rollup in rows:
        if (
            (service is not None and key[2] != service)
            or (model is not None and key[3] != model)
            or (environment is not None and key[5] != environment)
        ):
            continue
        target = Target(key[1], key[2], key[3], key[4], key[5]) if per_model else Target(key[1], key[2])
        minutes = out[target]
        merged = minutes.get(key[0])
        if merged is None:
            minutes[key[0]] = merged = Rollup()
        merged.merge(rollup, histogram=False)
    return out


def sliding(series: Mapping[int, Rollup], now_ns: int, window_s: float) -> Rollup:
    """The sums over ``(now - window, now]``: whole minutes inside, the oldest one prorated.

    The current minute counts as far as it has come, so a rule sees a burst within seconds
    instead of when its minute closes.
    """
    start = now_ns - int(window_s * 1e9)
    oldest = start - start % MINUTE_NS
    total = Rollup()
    for minute, rollup in series.items():
        if minute > now_ns or minute < oldest:
            continue
        weight = 1.0 - (start - oldest) / MINUTE_NS if minute == oldest else 1.0
        total.merge(rollup, weight, histogram=False)
    return total


def _value(rule: Rule, rollup: Rollup) -> float | None:
    """The per-call mean a spike rule compares (None when there are no calls to average)."""
    if rule.name == "cost_spike":
        return rollup.cost_usd / rollup.cost_calls if rollup.cost_calls >= 1 else None
    if rule.name == "token_spike":
        return rollup.tokens / rollup.count if rollup.count >= 1 else None
    return rollup.mean_latency() if rollup.count >= 1 else None


def _call_value(rule: Rule, call: RecentCall) -> float | None:
    if rule.name == "cost_spike":
        return call.cost_usd
    if rule.name == "token_spike":
        return float(call.tokens)
    return call.latency_ms


def _summed(calls: Iterable[RecentCall]) -> Rollup:
    total = Rollup()
    for call in calls:
        total.count += 1
        total.errors += call.error
        total.latency_sum_ms += call.latency_ms
        total.input_tokens += call.tokens
        if call.cost_usd is not None:
            total.cost_usd += call.cost_usd
            total.cost_calls += 1
    return total


def _binomial_tail(errors: int, calls: int, p: float) -> float:
    """P(X >= errors) for X ~ Binomial(calls, p): how surprising ``errors`` failures are at rate p."""
    below = sum(math.comb(calls, k) * p**k * (1 - p) ** (calls - k) for k in range(errors))
    return max(0.0, 1.0 - below)


def _error_burst(
    recent: Sequence[RecentCall], history: Iterable[Rollup], now_ns: int, min_rate: float
) -> Rollup | None:
    """The last :data:`BURST_S` seconds' calls when their failures are a burst, else None.

    A burst has at least :data:`MIN_CALLS_BURST` calls and :data:`MIN_ERRORS_BURST` failures, a
    failure rate above ``min_rate``, and more failures than the target's trailing-hour error rate
    explains (binomial tail below :data:`BURST_ALPHA`), so a noisy target needs a larger burst.
    """
    latest = _summed(call for call in recent if call.time_ns > now_ns - int(BURST_S * 1e9))
    if latest.count < MIN_CALLS_BURST or latest.errors < MIN_ERRORS_BURST:
        return None
    if latest.errors / latest.count <= min_rate:
        return None
    calls = errors = 0.0
    for rollup in history:
        calls, errors = calls + rollup.count, errors + rollup.errors
    base = max(errors / calls if calls else 0.0, BURST_BASE_FLOOR)
    if _binomial_tail(int(latest.errors), int(latest.count), base) >= BURST_ALPHA:
        return None
    return latest


def window_hit(
    rule: Rule, target: Target, series: Mapping[int, Rollup], recent: Sequence[RecentCall], now_ns: int
) -> Hit | None:
    """Whether ``rule`` holds for ``target`` at event time ``now_ns``; its hit if so."""
    threshold = rule.threshold
    if threshold is None:
        return None
    hit = partial(Hit, rule, target, now_ns)  # each rule adds its message and evidence
    current_minute = now_ns - now_ns % MINUTE_NS
    history_minutes = range(
        current_minute - BASELINE_MINUTES * MINUTE_NS, current_minute - MINUTE_NS, MINUTE_NS
    )
    if rule.name in ("cost_spike", "latency_spike", "token_spike"):
        value: float | None = None
        values = [v for call in recent[-LATEST_CALLS:] if (v := _call_value(rule, call)) is not None]
        if len(values) >= MIN_CALLS_FOR_MEAN:
            value = median(values)
        else:  # too few calls in the last seconds: the current minute's mean
            current = Rollup()
            current.merge(series.get(current_minute, Rollup()), histogram=False)
            if current.count < MIN_CALLS_FOR_MEAN:
                current.merge(series.get(current_minute - MINUTE_NS, Rollup()), histogram=False)
            value = _value(rule, current) if current.count >= MIN_CALLS_FOR_MEAN else None
        history = [v for m in history_minutes if m in series and (v := _value(rule, series[m])) is not None]
        if value is None or not is_spike(value, history, multiplier=threshold):
            return None
        base = median(history)
        return hit(
            f"{value:.4g} per call is {value / base:.1f}x the baseline {base:.4g}",
            {"value": value, "baseline": base, "multiplier": threshold, "baseline_minutes": len(history)},
        )  # fmt: skip
    if rule.name == "throughput_degradation":
        first = min(series) if series else current_minute
        history = [series[m].count if m in series else 0.0 for m in history_minutes if m >= first]
        # two minutes: a drop shows in about one, and a lull of one quiet minute is not one
        rate = sliding(series, now_ns, 120).count / 2
        if not is_drop(rate * 2, history, divisor=threshold, minutes=2):
            return None
        base = median(history)
        return hit(
            f"{rate:.0f} requests/min, down from a baseline of {base:.0f}",
            {"requests_per_minute": rate, "baseline": base, "divisor": threshold},
        )  # fmt: skip
    window = sliding(series, now_ns, rule.window_s)
    minutes = rule.window_s / 60.0
    closed = [series[m] for m in history_minutes if m in series]
    if rule.name == "high_error_rate":
        rate = window.errors / window.count if window.count else 0.0
        seconds = rule.window_s
        if not (window.count >= MIN_CALLS_FOR_RATE and rate > threshold):
            # a sudden burst of failures shows in the last seconds long before it outweighs a
            # window of successes
            burst = _error_burst(recent, closed, now_ns, threshold)
            if burst is None:
                return None
            window, rate, seconds = burst, burst.errors / burst.count, BURST_S
        return hit(
            f"{rate:.1%} of {window.count:.0f} calls failed (threshold {threshold:.0%})",
            {"error_rate": rate, "calls": window.count, "errors": window.errors, "threshold": threshold,
             "window_seconds": seconds},
        )  # fmt: skip
    if rule.name == "model_errors":
        seconds = rule.window_s
        if window.errors < threshold or window.errors / max(window.count, 1) < MODEL_ERRORS_MIN_RATE:
            # the model's failures in the last seconds, when they are a burst for it
            burst = _error_burst(recent, closed, now_ns, MODEL_ERRORS_MIN_RATE)
            if burst is None:
                return None
            window, seconds = burst, BURST_S
        return hit(
            f"{window.errors:.0f} failed calls of {window.count:.0f} in the window",
            {"errors": window.errors, "calls": window.count, "threshold": threshold,
             "window_seconds": seconds},
        )  # fmt: skip
    if rule.name == "high_request_rate":
        rate = window.count / minutes
        # the last seconds' pace counts once their count is surely above what the threshold
        # rate would bring (three Poisson deviations), so a burst shows within seconds
        latest_count = sum(1 for call in recent if call.time_ns > now_ns - int(RATE_S * 1e9))
        expected = threshold * RATE_S / 60.0
        if latest_count > expected + 3 * math.sqrt(expected):
            rate = max(rate, latest_count * 60.0 / RATE_S)
        if rate <= threshold:
            return None
        return hit(
            f"{rate:.0f} requests/min (threshold {threshold:.0f})",
            {"requests_per_minute": rate, "threshold": threshold},
        )  # fmt: skip
    if rule.name == "high_cost_rate":
        # the trailing window's spend, or the last five minutes' pace if that is higher
        rate = max(window.cost_usd * 60.0 / minutes, sliding(series, now_ns, 300).cost_usd * 12.0)
        if rate <= threshold:
            return None
        return hit(
            f"${rate:.2f}/hour (threshold ${threshold:.2f}/hour)",
            {"usd_per_hour": rate, "threshold": threshold},
        )  # fmt: skip
    return None
