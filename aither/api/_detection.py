"""Detection over the API: anomalies, the stats summary, rules and pruning (types, calls, resources).

``aither.anomalies`` is a :class:`AnomaliesResource` of the default client::

    aither.anomalies.list(since="24h", severity="high")
    aither.anomalies.acknowledge(42)
    aither.anomalies.resolve(42)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..exceptions import ConfigError
from ..schema.vocabulary import AnomalyType, DetectionMethod, Severity
from ._calls import API, Call, Time, _query
from ._endpoint import Endpoint, M, Resource
from ._types import by_name, parse_optional_time, parse_time


@dataclass(frozen=True)
class Anomaly:
    """One anomaly: a rule's condition on one target, kept open (``count`` growing) while it lasts."""

    id: int
    rule: str
    anomaly_type: AnomalyType
    severity: Severity
    detection_method: DetectionMethod
    status: str
    """``open``, ``acknowledged`` or ``resolved``."""
    title: str
    message: str
    recommended_action: str
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    updated_at: dt.datetime
    kind: str | None = None
    service: str | None = None
    model: str | None = None
    version: str | None = None
    environment: str | None = None
    acknowledged_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    trace_id: str | None = None
    evidence: Mapping[str, Any] | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Anomaly:
        get = data.get
        return by_name(
            cls,
            data,
            anomaly_type=AnomalyType(get("anomaly_type")),
            severity=Severity(get("severity")),
            detection_method=DetectionMethod(get("detection_method")),
            first_seen=parse_time(get("first_seen")),
            last_seen=parse_time(get("last_seen")),
            updated_at=parse_time(get("updated_at")),
            acknowledged_at=parse_optional_time(get("acknowledged_at")),
            resolved_at=parse_optional_time(get("resolved_at")),
        )


@dataclass(frozen=True)
class LlmSummary:
    """LLM calls of a window."""

    total: int
    successful: int
    failed: int
    success_rate: float | None
    total_tokens: int
    total_cost_usd: float
    avg_latency_ms: float | None
    p95_latency_ms: float | None
    pii_events: int
    injection_attempts: int


@dataclass(frozen=True)
class ModelSummary:
    """One model version's predictions in a window."""

    model: str
    version: str | None
    predictions: int
    errors: int
    error_rate: float | None
    avg_latency_ms: float | None
    p95_latency_ms: float | None
    labelled_rows: int
    accuracy: float | None


@dataclass(frozen=True)
class Summary:
    """What ``aither stats`` shows: LLM calls, anomalies, and a line per model."""

    since: dt.datetime
    until: dt.datetime
    llm: LlmSummary
    anomalies: int
    open_anomalies: int
    models: tuple[ModelSummary, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Summary:
        return cls(
            since=parse_time(data["since"]),
            until=parse_time(data["until"]),
            llm=LlmSummary(**data["llm"]),
            anomalies=int(data["anomalies"]),
            open_anomalies=int(data["open_anomalies"]),
            models=tuple(ModelSummary(**entry) for entry in data["models"]),
        )


@dataclass(frozen=True)
class PruneResult:
    """Rows deleted per table, and the cutoff they were older than."""

    cutoff: dt.datetime
    deleted: Mapping[str, int]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PruneResult:
        return cls(parse_time(data["cutoff"]), dict(data["deleted"]))


def _anomalies(data: Any) -> tuple[Anomaly, ...]:
    return tuple(Anomaly.from_json(item) for item in data)


def _severity(value: Severity | str | None) -> str | None:
    if value is None:
        return None
    try:
        return Severity(value).value
    except ValueError:
        raise ConfigError(f"severity must be one of low, medium, high, critical; got {value!r}") from None


def _id(anomaly_id: int) -> int:
    if isinstance(anomaly_id, bool) or not isinstance(anomaly_id, int) or anomaly_id < 1:
        raise ConfigError(f"anomaly_id must be a positive integer, got {anomaly_id!r}")
    return anomaly_id


def anomalies_list(
    *,
    since: Time = None,
    severity: Severity | str | None = None,
    status: str | None = None,
    rule: str | None = None,
    updated_since: Time = None,
    limit: int = 50,
) -> Call[tuple[Anomaly, ...]]:
    """Anomalies newest first (by last seen); ``severity`` keeps that level and above.

    ``since`` and ``updated_since`` take a datetime, an ISO 8601 time or ``24h``/``7d``;
    with ``updated_since`` the answer is what changed after it, oldest change first.

    Example:
        >>> aither.anomalies.list(since="24h", severity="high")  # doctest: +SKIP
        (Anomaly(id=3, rule='pii_detected', severity=<Severity.HIGH: 'high'>, ...),)
    """
    filters = {**locals(), "severity": _severity(severity)}
    return Call("GET", f"{API}/anomalies", _anomalies, params=_query(**filters))


def anomalies_get(anomaly_id: int) -> Call[Anomaly]:
    """One anomaly; NotFound if unknown."""
    return Call("GET", f"{API}/anomalies/{_id(anomaly_id)}", Anomaly.from_json)


def anomalies_acknowledge(anomaly_id: int) -> Call[Anomaly]:
    """Mark an open anomaly as seen; it stays open and keeps counting."""
    return Call("POST", f"{API}/anomalies/{_id(anomaly_id)}/acknowledge", Anomaly.from_json)


def anomalies_resolve(anomaly_id: int) -> Call[Anomaly]:
    """Close an anomaly now; if its condition persists, the next hit opens a new one."""
    return Call("POST", f"{API}/anomalies/{_id(anomaly_id)}/resolve", Anomaly.from_json)


def stats_get(*, since: Time = None, until: Time = None) -> Call[Summary]:
    """LLM calls, anomalies and models over a window (default: the last 24 hours)."""
    return Call("GET", f"{API}/stats", Summary.from_json, params=_query(since=since, until=until))


def rules_get() -> Call[dict[str, Any]]:
    """The rules in force: the five knobs, the quiet period, and every rule."""
    return Call("GET", f"{API}/rules", dict)


def rules_update(settings: Mapping[str, Any]) -> Call[dict[str, Any]]:
    """Apply the rules file's shape (``{"latency_threshold_ms": 2000, "rules": {...}}``)."""
    return Call("PUT", f"{API}/rules", dict, json=dict(settings))


def rules_prune(*, older_than: str) -> Call[PruneResult]:
    """Delete the organisation's telemetry older than ``older_than`` (``7d``); needs ``admin``."""
    return Call("POST", f"{API}/prune", PruneResult.from_json, json={"older_than": older_than})


class AnomaliesResource(Resource[M]):
    """Anomalies the server detected; listing needs ``read``, acknowledging and resolving too."""

    list = Endpoint(anomalies_list)
    get = Endpoint(anomalies_get)
    acknowledge = Endpoint(anomalies_acknowledge)
    resolve = Endpoint(anomalies_resolve)


class StatsResource(Resource[M]):
    """The ``aither stats`` summary, from the server's per-minute rollups; needs ``read``."""

    get = Endpoint(stats_get)


class RulesResource(Resource[M]):
    """The detection rules; reading needs ``read``, changing needs ``admin``."""

    get = Endpoint(rules_get)
    update = Endpoint(rules_update)
    prune = Endpoint(rules_prune)
