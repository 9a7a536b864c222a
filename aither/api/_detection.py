"""Detection over the API: anomalies, the stats summary, rules and pruning (calls, resources).

The result types are :mod:`aither.schema.detection_results`' (the server answers with them).

``aither.anomalies`` is a :class:`AnomaliesResource` of the default client::

    aither.anomalies.list(since="24h", severity="high")
    aither.anomalies.acknowledge(42)
    aither.anomalies.resolve(42)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..exceptions import ConfigError
from ..schema.detection_results import Anomaly, LlmSummary, ModelSummary, PruneResult, Summary
from ..schema.vocabulary import Severity
from ._calls import API, Call, Time, _query
from ._endpoint import Endpoint, M, Resource

__all__ = [
    "AnomaliesResource",
    "Anomaly",
    "LlmSummary",
    "ModelSummary",
    "PruneResult",
    "RulesResource",
    "StatsResource",
    "Summary",
]


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
