"""Detection over the API: anomalies, the stats summary, rules and pruning (types, calls, resources).

``aither.anomalies`` is a :class:`AnomaliesResource` of the default client::

    aither.anomalies.list(since="24h", severity="high")
    aither.anomalies.acknowledge(42)
    aither.anomalies.resolve(42)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

from ..exceptions import ConfigError
from ..schema.vocabulary import AnomalyType, DetectionMethod, Severity
from ._calls import API, Call, _query, _time
from ._types import parse_optional_time, parse_time

if TYPE_CHECKING:
    from ._async import AsyncManagementClient
    from ._sync import ManagementClient

T = TypeVar("T")
Time = dt.datetime | str | None


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
        times = {"first_seen", "last_seen", "updated_at"}
        optional = {"acknowledged_at", "resolved_at"}
        enums = {"anomaly_type": AnomalyType, "severity": Severity, "detection_method": DetectionMethod}
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = data.get(item.name)
            if item.name in times:
                values[item.name] = parse_time(raw)
            elif item.name in optional:
                values[item.name] = parse_optional_time(raw)
            elif item.name in enums:
                values[item.name] = enums[item.name](raw)
            else:
                values[item.name] = raw
        return cls(**values)


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
    since: Time, severity: Severity | str | None, status: str | None, rule: str | None,
    updated_since: Time, limit: int,
) -> Call[tuple[Anomaly, ...]]:  # fmt: skip
    params = _query(
        since=_time(since), severity=_severity(severity), status=status, rule=rule,
        updated_since=_time(updated_since), limit=limit,
    )  # fmt: skip
    return Call("GET", f"{API}/anomalies", _anomalies, params=params)


def anomalies_get(anomaly_id: int) -> Call[Anomaly]:
    return Call("GET", f"{API}/anomalies/{_id(anomaly_id)}", Anomaly.from_json)


def anomalies_acknowledge(anomaly_id: int) -> Call[Anomaly]:
    return Call("POST", f"{API}/anomalies/{_id(anomaly_id)}/acknowledge", Anomaly.from_json)


def anomalies_resolve(anomaly_id: int) -> Call[Anomaly]:
    return Call("POST", f"{API}/anomalies/{_id(anomaly_id)}/resolve", Anomaly.from_json)


def stats_get(since: Time, until: Time) -> Call[Summary]:
    return Call(
        "GET", f"{API}/stats", Summary.from_json, params=_query(since=_time(since), until=_time(until))
    )


def rules_get() -> Call[dict[str, Any]]:
    return Call("GET", f"{API}/rules", dict)


def rules_update(settings: Mapping[str, Any]) -> Call[dict[str, Any]]:
    return Call("PUT", f"{API}/rules", dict, json=dict(settings))


def prune(older_than: str) -> Call[PruneResult]:
    return Call("POST", f"{API}/prune", PruneResult.from_json, json={"older_than": older_than})


class AnomaliesResource:
    """Anomalies the server detected; listing needs ``read``, acknowledging and resolving too."""

    def __init__(self, source: Callable[[], ManagementClient]) -> None:
        self._source = source

    def list(
        self,
        *,
        since: Time = None,
        severity: Severity | str | None = None,
        status: str | None = None,
        rule: str | None = None,
        updated_since: Time = None,
        limit: int = 50,
    ) -> tuple[Anomaly, ...]:
        """Anomalies newest first (by last seen); ``severity`` keeps that level and above.

        ``since`` and ``updated_since`` take a datetime, an ISO 8601 time or ``24h``/``7d``;
        with ``updated_since`` the answer is what changed after it, oldest change first.

        Example:
            >>> aither.anomalies.list(since="24h", severity="high")  # doctest: +SKIP
            (Anomaly(id=3, rule='pii_detected', severity=<Severity.HIGH: 'high'>, ...),)
        """
        return self._source().send(anomalies_list(since, severity, status, rule, updated_since, limit))

    def get(self, anomaly_id: int) -> Anomaly:
        """One anomaly; NotFound if unknown."""
        return self._source().send(anomalies_get(anomaly_id))

    def acknowledge(self, anomaly_id: int) -> Anomaly:
        """Mark an open anomaly as seen; it stays open and keeps counting."""
        return self._source().send(anomalies_acknowledge(anomaly_id))

    def resolve(self, anomaly_id: int) -> Anomaly:
        """Close an anomaly now; if its condition persists, the next hit opens a new one."""
        return self._source().send(anomalies_resolve(anomaly_id))


class StatsResource:
    """The ``aither stats`` summary, from the server's per-minute rollups; needs ``read``."""

    def __init__(self, source: Callable[[], ManagementClient]) -> None:
        self._source = source

    def get(self, *, since: Time = None, until: Time = None) -> Summary:
        """LLM calls, anomalies and models over a window (default: the last 24 hours)."""
        return self._source().send(stats_get(since, until))


class RulesResource:
    """The detection rules; reading needs ``read``, changing needs ``admin``."""

    def __init__(self, source: Callable[[], ManagementClient]) -> None:
        self._source = source

    def get(self) -> dict[str, Any]:
        """The rules in force: the five knobs, the quiet period, and every rule."""
        return self._source().send(rules_get())

    def update(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Apply the rules file's shape (``{"latency_threshold_ms": 2000, "rules": {...}}``)."""
        return self._source().send(rules_update(settings))

    def prune(self, *, older_than: str) -> PruneResult:
        """Delete the organisation's telemetry older than ``older_than`` (``7d``); needs ``admin``."""
        return self._source().send(prune(older_than))


class AsyncAnomaliesResource:
    """The async twin of :class:`AnomaliesResource`."""

    def __init__(self, client: AsyncManagementClient) -> None:
        self._client = client

    async def list(
        self,
        *,
        since: Time = None,
        severity: Severity | str | None = None,
        status: str | None = None,
        rule: str | None = None,
        updated_since: Time = None,
        limit: int = 50,
    ) -> tuple[Anomaly, ...]:
        """Anomalies newest first; see :meth:`AnomaliesResource.list`."""
        return await self._client.send(anomalies_list(since, severity, status, rule, updated_since, limit))

    async def get(self, anomaly_id: int) -> Anomaly:
        return await self._client.send(anomalies_get(anomaly_id))

    async def acknowledge(self, anomaly_id: int) -> Anomaly:
        return await self._client.send(anomalies_acknowledge(anomaly_id))

    async def resolve(self, anomaly_id: int) -> Anomaly:
        return await self._client.send(anomalies_resolve(anomaly_id))


class AsyncStatsResource:
    """The async twin of :class:`StatsResource`."""

    def __init__(self, client: AsyncManagementClient) -> None:
        self._client = client

    async def get(self, *, since: Time = None, until: Time = None) -> Summary:
        return await self._client.send(stats_get(since, until))


class AsyncRulesResource:
    """The async twin of :class:`RulesResource`."""

    def __init__(self, client: AsyncManagementClient) -> None:
        self._client = client

    async def get(self) -> dict[str, Any]:
        return await self._client.send(rules_get())

    async def update(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        return await self._client.send(rules_update(settings))

    async def prune(self, *, older_than: str) -> PruneResult:
        return await self._client.send(prune(older_than))
