"""The JSON shapes of detection under ``/api/v1``: anomalies, the stats summary, pruning.

Frozen stdlib dataclasses that the server answers with and the SDK reads, like
:mod:`aither.schema.results`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .results import DOCUMENTED, by_name, parse_optional_time, parse_time
from .vocabulary import AnomalyType, DetectionMethod, Severity

__all__ = ["Anomaly", "AnomalyStatus", "LlmSummary", "ModelSummary", "PruneResult", "Summary"]

AnomalyStatus = Literal["open", "acknowledged", "resolved"]
"""Where an anomaly stands."""


@dataclass(frozen=True, kw_only=True)  # keyword-only: the fields are in the JSON's order
class Anomaly:
    """One anomaly: a condition that one rule found, kept open while it lasts."""

    __pydantic_config__ = DOCUMENTED

    id: int
    rule: str
    """the rule or detector: pii_detected, latency_spike, ..."""
    anomaly_type: AnomalyType
    severity: Severity
    detection_method: DetectionMethod
    status: AnomalyStatus
    """open, acknowledged or resolved"""
    title: str
    message: str
    recommended_action: str
    kind: Literal["llm", "prediction"] | None = None
    service: str | None = None
    model: str | None = None
    version: str | None = None
    environment: str | None = None
    count: int
    """hits (event rules) or minutes (window rules) while open"""
    first_seen: dt.datetime
    last_seen: dt.datetime
    updated_at: dt.datetime
    acknowledged_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    trace_id: str | None = None
    """a call that triggered it (event rules)"""
    evidence: Mapping[str, Any]
    """the numbers behind it: value, baseline, threshold..."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Anomaly:
        """An absent ``evidence`` is read as empty."""
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
            evidence=dict(get("evidence") or {}),
        )


@dataclass(frozen=True)
class LlmSummary:
    """LLM calls of a window."""

    __pydantic_config__ = DOCUMENTED

    total: int
    successful: int
    failed: int
    success_rate: float | None
    total_tokens: int
    total_cost_usd: float
    avg_latency_ms: float | None
    p95_latency_ms: float | None
    """from the rollups' log-bucket histogram (within ~19 %)"""
    pii_events: int
    injection_attempts: int


@dataclass(frozen=True)
class ModelSummary:
    """One model version's predictions in a window."""

    __pydantic_config__ = DOCUMENTED

    model: str
    version: str | None
    predictions: int
    errors: int
    error_rate: float | None
    avg_latency_ms: float | None
    p95_latency_ms: float | None
    labelled_rows: int
    accuracy: float | None
    """classification rows with a label; null when none"""


@dataclass(frozen=True)
class Summary:
    """The summary of a window, read from the per-minute rollups (to the minute): LLM calls,
    anomalies and a line per model, what ``aither stats`` shows."""

    __pydantic_config__ = DOCUMENTED

    since: dt.datetime
    until: dt.datetime
    llm: LlmSummary
    anomalies: int
    """anomalies first seen in the window"""
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

    __pydantic_config__ = DOCUMENTED

    cutoff: dt.datetime
    deleted: Mapping[str, int]
    """rows deleted per table"""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PruneResult:
        return cls(parse_time(data["cutoff"]), dict(data["deleted"]))
