"""Open, bump or resolve a drift anomaly through detection's anomalies table (writer thread only)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.engine import Connection

from ..alerts.notice import AnomalyNotice
from ..detection import anomalies
from ..detection.anomalies import Hit, Target
from ..detection.rules import Rule


def hit(
    connection: Connection,
    org_id: str,
    rule: Rule,
    target: Target,
    time_ns: int,
    message: str,
    evidence: dict[str, Any],
    trace_id: str | None = None,
) -> AnomalyNotice | None:
    """Open the anomaly of ``rule`` on ``target``, or bump the open one; the notice to send, if any."""
    return anomalies.record(
        connection, org_id, Hit(rule, target, time_ns, message, evidence, trace_id=trace_id), time.time_ns()
    )


def resolve(connection: Connection, org_id: str, rule: Rule, target: Target) -> AnomalyNotice | None:
    """Resolve the open anomaly of ``rule`` on ``target`` (a clean window); None when none is open."""
    key = anomalies.open_key(rule.name, target)
    for row in anomalies.open_rows(connection, org_id):
        if row["open_key"] == key:
            return anomalies.resolve(connection, row, time.time_ns())
    return None


def settle(
    connection: Connection,
    org_id: str,
    rule: Rule,
    target: Target,
    time_ns: int,
    finding: tuple[str, dict[str, Any]] | None,
) -> AnomalyNotice | None:
    """A check's outcome: its ``finding`` (message, evidence) opens or bumps the anomaly of
    ``rule`` on ``target``; no finding (a clean window) resolves it."""
    if finding is None:
        return resolve(connection, org_id, rule, target)
    message, evidence = finding
    return hit(connection, org_id, rule, target, time_ns, message, evidence)
