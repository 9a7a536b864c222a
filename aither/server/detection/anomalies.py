"""The anomalies table: one open anomaly per rule and target, bumped while the condition lasts.

Every change that alert channels care about (opened, escalated, resolved) comes back as an
:class:`~aither.server.alerts.AnomalyNotice`; a persisting condition only bumps ``count`` and
``last_seen`` and sends nothing, so there is no alert storm. Only the writer thread calls the
write functions; several servers sharing a database may still race, so opening an anomaly is
an insert that yields to the unique key and bumping one adds to the stored count.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ...schema.vocabulary import Severity
from ..alerts.notice import AnomalyNotice, NoticeEvent
from ..storage.accounts import first_row
from ..storage.schema import anomalies
from .rollups import MINUTE_NS
from .rules import Rule

STATUSES = ("open", "acknowledged", "resolved")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def to_datetime(ns: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=ns // 1000)


_TARGET = ("service", "model", "version", "environment")


@dataclass(frozen=True)
class Target:
    """What an anomaly is about; '' for a part the rule does not split by."""

    kind: str = ""
    service: str = ""
    model: str = ""
    version: str = ""
    environment: str = ""

    def describe(self) -> str:
        parts = [f"{name} {value}" for name, value in zip(_TARGET, self.parts()[1:], strict=True) if value]
        return ", ".join(parts) or "all traffic"

    def parts(self) -> tuple[str, str, str, str, str]:
        return (self.kind, self.service, self.model, self.version, self.environment)


def open_key(rule: str, target: Target) -> str:
    return "|".join((rule, *target.parts()))


@dataclass
class Hit:
    """One rule matching one target: an event rule's calls in a batch, or a window rule's tick."""

    rule: Rule
    target: Target
    time_ns: int
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    count: int = 1
    trace_id: str | None = None


def notice_of(row: Mapping[str, Any], event: NoticeEvent) -> AnomalyNotice:
    return AnomalyNotice(
        id=int(row["id"]),
        org_id=row["org_id"],  # the contract says int; aither's organisation ids are strings
        event=event,
        rule=row["rule"],
        anomaly_type=row["anomaly_type"],
        severity=row["severity"],
        detection_method=row["detection_method"],
        title=row["title"],
        message=row["message"],
        recommended_action=row["recommended_action"],
        target={name: row[name] for name in _TARGET if row[name]},
        count=int(row["count"]),
        first_seen=to_datetime(row["first_seen_ns"]),
        last_seen=to_datetime(row["last_seen_ns"]),
        status=row["status"],
        evidence=json.loads(row["evidence"]),
    )


def _open_row(connection: Connection, org_id: str, key: str) -> dict[str, Any] | None:
    return first_row(connection, anomalies, anomalies.c.org_id == org_id, anomalies.c.open_key == key)


def record(
    connection: Connection, org_id: str, hit: Hit, now_ns: int, *, per_minute: bool = False
) -> AnomalyNotice | None:
    """Open an anomaly for ``hit`` or bump the open one; the notice to send, if any.

    ``per_minute``: count at most once per minute of event time (window rules hit every tick).
    """
    key = open_key(hit.rule.name, hit.target)
    row = _open_row(connection, org_id, key)
    rule = hit.rule
    if row is None:
        values = {
            "org_id": org_id,
            "rule": rule.name,
            "anomaly_type": rule.anomaly_type.value,
            "severity": rule.severity.value,
            "detection_method": rule.method.value,
            "status": "open",
            "title": f"{rule.name}: {hit.target.describe()}",
            "message": hit.message,
            "recommended_action": rule.action,
            **dict(zip(("kind", *_TARGET), (part or None for part in hit.target.parts()), strict=True)),
            "evidence": json.dumps(hit.evidence, default=str),
            "count": hit.count,
            "first_seen_ns": hit.time_ns,
            "last_seen_ns": hit.time_ns,
            "updated_at_ns": now_ns,
            "trace_id": hit.trace_id,
            "open_key": key,
        }
        # another server may open the same anomaly at the same moment: the unique key decides,
        # the loser waits for the winner's commit (PostgreSQL) and bumps its row instead
        insert = (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(anomalies)
        inserted = connection.execute(
            insert.values(values)
            .on_conflict_do_nothing(index_elements=["org_id", "open_key"])
            .returning(anomalies.c.id)
        ).first()
        if inserted is not None:
            return notice_of({**values, "id": inserted[0]}, "opened")
        row = _open_row(connection, org_id, key)
        if row is None:  # pragma: no cover - resolved between the two statements
            return None
    increment = hit.count
    if per_minute and row["last_seen_ns"] // MINUTE_NS == hit.time_ns // MINUTE_NS:
        increment = 0
    changes: dict[str, Any] = {
        # relative to the stored row, not the one read: servers bumping it at once add up
        "count": anomalies.c.count + increment,
        "last_seen_ns": sa.case(
            (anomalies.c.last_seen_ns < hit.time_ns, hit.time_ns), else_=anomalies.c.last_seen_ns
        ),
        "message": hit.message,
        "evidence": json.dumps(hit.evidence, default=str),
        "updated_at_ns": now_ns,
    }
    connection.execute(anomalies.update().where(anomalies.c.id == row["id"]).values(changes))
    row.update(
        count=row["count"] + increment,
        last_seen_ns=max(row["last_seen_ns"], hit.time_ns),
        message=changes["message"],
        evidence=changes["evidence"],
        updated_at_ns=now_ns,
    )
    if rule.severity <= Severity(row["severity"]):
        return None
    # escalate only from the severity read, so of two servers escalating at once one notifies
    escalated = connection.execute(
        anomalies.update()
        .where(anomalies.c.id == row["id"], anomalies.c.severity == row["severity"])
        .values(severity=rule.severity.value)
    )
    if escalated.rowcount != 1:
        return None
    row["severity"] = rule.severity.value
    return notice_of(row, "escalated")


def resolve(connection: Connection, row: Mapping[str, Any], now_ns: int) -> AnomalyNotice:
    """Mark an anomaly resolved (its condition cleared, or someone resolved it)."""
    changes = {"status": "resolved", "open_key": None, "resolved_at_ns": now_ns, "updated_at_ns": now_ns}
    connection.execute(anomalies.update().where(anomalies.c.id == row["id"]).values(changes))
    return notice_of({**row, **changes}, "resolved")


def acknowledge(connection: Connection, org_id: str, anomaly_id: int, now_ns: int) -> dict[str, Any] | None:
    """Acknowledge an open anomaly (it stays open and keeps counting); None if unknown."""
    row = get(connection, org_id, anomaly_id)
    if row is None or row["status"] != "open":
        return row
    changes = {"status": "acknowledged", "acknowledged_at_ns": now_ns, "updated_at_ns": now_ns}
    connection.execute(anomalies.update().where(anomalies.c.id == anomaly_id).values(changes))
    return {**row, **changes}


def open_rows(connection: Connection, org_id: str) -> Iterator[dict[str, Any]]:
    """The organisation's open and acknowledged anomalies."""
    query = sa.select(anomalies).where(anomalies.c.org_id == org_id, anomalies.c.open_key.is_not(None))
    for row in connection.execute(query).mappings():
        yield dict(row)


def get(connection: Connection, org_id: str, anomaly_id: int) -> dict[str, Any] | None:
    return first_row(connection, anomalies, anomalies.c.org_id == org_id, anomalies.c.id == anomaly_id)


def list_rows(
    connection: Connection,
    org_id: str,
    *,
    since_ns: int | None = None,
    updated_since_ns: int | None = None,
    severity: Severity | None = None,
    status: str | None = None,
    rule: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Anomalies newest first (by last seen); ``severity`` keeps that level and above."""
    query = sa.select(anomalies).where(anomalies.c.org_id == org_id)
    if since_ns is not None:
        query = query.where(anomalies.c.last_seen_ns >= since_ns)
    if updated_since_ns is not None:
        query = query.where(anomalies.c.updated_at_ns > updated_since_ns)
    if severity is not None:
        query = query.where(anomalies.c.severity.in_([s.value for s in Severity if s >= severity]))
    if status is not None:
        query = query.where(anomalies.c.status == status)
    if rule is not None:
        query = query.where(anomalies.c.rule == rule)
    order = anomalies.c.updated_at_ns if updated_since_ns is not None else anomalies.c.last_seen_ns
    query = query.order_by(order.desc(), anomalies.c.id.desc()).limit(limit)
    return [dict(row) for row in connection.execute(query).mappings()]
