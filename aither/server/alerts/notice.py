"""The contract between detection and alerting: one notice per change of an anomaly."""

from __future__ import annotations

import json
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


def notice_to_json(notice: AnomalyNotice) -> str:
    """The notice as JSON, kept with its delivery rows so any server can send it later."""
    fields = {name: getattr(notice, name) for name in AnomalyNotice.__dataclass_fields__}
    fields["first_seen"] = notice.first_seen.isoformat()
    fields["last_seen"] = notice.last_seen.isoformat()
    return json.dumps(fields, default=str)


def notice_from_json(text: str) -> AnomalyNotice:
    """The notice :func:`notice_to_json` wrote."""
    fields = json.loads(text)
    fields["first_seen"] = datetime.fromisoformat(fields["first_seen"])
    fields["last_seen"] = datetime.fromisoformat(fields["last_seen"])
    return AnomalyNotice(**fields)
