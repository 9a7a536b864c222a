"""The contract between detection and alerting: one notice per change of an anomaly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

NoticeEvent = Literal["opened", "escalated", "resolved"]


@dataclass(frozen=True)
class AnomalyNotice:
    """An anomaly as alert channels see it.

    ``event`` says what changed: ``opened`` (a new anomaly), ``escalated`` (its severity rose),
    ``resolved`` (the condition cleared, or someone resolved it). A persisting condition that
    only bumps ``count`` sends nothing, so a channel never sees an alert storm.
    """

    id: int
    org_id: str
    event: NoticeEvent
    rule: str
    """The rule or detector that raised it (``pii_detected``, ``latency_spike``, ...)."""
    anomaly_type: str
    """An :class:`aither.AnomalyType` value."""
    severity: str
    """An :class:`aither.Severity` value."""
    detection_method: str
    """An :class:`aither.DetectionMethod` value."""
    title: str
    message: str
    recommended_action: str
    target: dict[str, str]
    """What it is about: any of ``service``, ``model``, ``version``, ``environment``."""
    count: int
    first_seen: datetime
    last_seen: datetime
    status: str
    """``open``, ``acknowledged`` or ``resolved``."""
    evidence: dict[str, Any] = field(default_factory=dict)
    """Numbers behind it: observed value, baseline, threshold, window, trace ids..."""


class AnomalySink(Protocol):
    """Where detection sends notices. ``submit`` never blocks and never raises."""

    def submit(self, notice: AnomalyNotice) -> None: ...


class NullSink:
    """A sink that keeps the last notices in memory (no channel configured; tests)."""

    def __init__(self) -> None:
        self.notices: list[AnomalyNotice] = []

    def submit(self, notice: AnomalyNotice) -> None:
        self.notices.append(notice)
        del self.notices[:-1000]
