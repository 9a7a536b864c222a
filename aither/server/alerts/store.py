"""The rows of alerting: channels stored through the API, and the delivery log.

Reads run on any connection; writes run on the server's writer (``storage.writer.run``), like
every other write. Every function takes the caller's ``org_id`` and never returns another
organisation's row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...schema.vocabulary import Severity
from ..storage.accounts import first_row, new_id
from ..storage.schema import alert_channels, alert_deliveries
from .config import ChannelConfig, ChannelKind, parse_channel

PENDING: Final = "pending"
DELIVERED: Final = "delivered"
FAILED: Final = "failed"
STATUSES: Final = (PENDING, DELIVERED, FAILED)


def config_from_row(row: dict[str, Any]) -> ChannelConfig:
    """A stored channel as a :class:`ChannelConfig` (stored rows were validated when written)."""
    return ChannelConfig(
        id=row["id"],
        name=row["name"],
        kind=cast(ChannelKind, row["kind"]),
        settings=orjson.loads(row["settings"]),
        enabled=bool(row["enabled"]),
        min_severity=Severity(row["min_severity"]),
        rules=frozenset(orjson.loads(row["rules"])),
        anomaly_types=frozenset(orjson.loads(row["anomaly_types"])),
        max_attempts=row["max_attempts"],
        backoff_s=row["backoff_s"],
        timeout_s=row["timeout_s"],
    )


def _values(config: ChannelConfig) -> dict[str, Any]:
    return {
        "name": config.name,
        "kind": config.kind,
        "enabled": config.enabled,
        "min_severity": config.min_severity.value,
        "rules": orjson.dumps(sorted(config.rules)).decode(),
        "anomaly_types": orjson.dumps(sorted(config.anomaly_types)).decode(),
        "settings": orjson.dumps(dict(config.settings)).decode(),
        "max_attempts": config.max_attempts,
        "backoff_s": config.backoff_s,
        "timeout_s": config.timeout_s,
    }


def get_channel(connection: Connection, org_id: str, channel_id: str) -> dict[str, Any] | None:
    return first_row(
        connection, alert_channels, alert_channels.c.org_id == org_id, alert_channels.c.id == channel_id
    )


def find_channel_by_name(connection: Connection, org_id: str, name: str) -> dict[str, Any] | None:
    return first_row(
        connection, alert_channels, alert_channels.c.org_id == org_id, alert_channels.c.name == name
    )


def list_channels(connection: Connection, org_id: str, *, enabled_only: bool = False) -> list[dict[str, Any]]:
    query = sa.select(alert_channels).where(alert_channels.c.org_id == org_id)
    if enabled_only:
        query = query.where(alert_channels.c.enabled.is_(True))
    query = query.order_by(alert_channels.c.created_at_ns, alert_channels.c.id)
    return [dict(row) for row in connection.execute(query).mappings()]


def create_channel(
    connection: Connection, org_id: str, config: ChannelConfig, now_ns: int
) -> dict[str, Any] | None:
    """Store a new channel; None when the organisation has one of that name already."""
    if find_channel_by_name(connection, org_id, config.name) is not None:
        return None
    row = {
        "id": new_id("chn"),
        "org_id": org_id,
        **_values(config),
        "created_at_ns": now_ns,
        "updated_at_ns": now_ns,
    }
    connection.execute(alert_channels.insert().values(row))
    return row


def merged_config(row: dict[str, Any], changes: Mapping[str, Any]) -> ChannelConfig:
    """The stored channel with ``changes`` (flat keys, as in a rules file) applied, validated
    whole again; ValueError names the bad field."""
    current = config_from_row(row)
    if "type" in changes and changes["type"] != current.kind:
        raise ValueError("type can't be changed; create a new channel instead")
    return parse_channel({**current.to_mapping(), **changes, "id": current.id})


def update_channel(
    connection: Connection, org_id: str, channel_id: str, config: ChannelConfig, now_ns: int
) -> dict[str, Any] | Literal["missing", "name taken"]:
    """Store ``config`` over the channel ``channel_id``; what went wrong otherwise."""
    row = get_channel(connection, org_id, channel_id)
    if row is None:
        return "missing"
    other = find_channel_by_name(connection, org_id, config.name)
    if other is not None and other["id"] != channel_id:
        return "name taken"
    values = {**_values(config), "updated_at_ns": now_ns}
    connection.execute(
        alert_channels.update()
        .where(alert_channels.c.org_id == org_id, alert_channels.c.id == channel_id)
        .values(values)
    )
    return {**row, **values}


def delete_channel(connection: Connection, org_id: str, channel_id: str) -> dict[str, Any] | None:
    """Remove a channel (its delivery log stays); None when there is no such channel."""
    row = get_channel(connection, org_id, channel_id)
    if row is not None:
        connection.execute(
            alert_channels.delete().where(
                alert_channels.c.org_id == org_id, alert_channels.c.id == channel_id
            )
        )
    return row


# --- the delivery log ---------------------------------------------------------------------------


def insert_deliveries(connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Add delivery rows (all columns but ``id``); their ids, in order."""
    ids = []
    for row in rows:
        key = connection.execute(alert_deliveries.insert().values(row)).inserted_primary_key
        assert key is not None  # an insert always has one
        ids.append(int(key[0]))
    return ids


def update_delivery(
    connection: Connection, delivery_id: int, values: dict[str, Any], *, claim_token: int | None = None
) -> None:
    """Update a delivery row; with ``claim_token``, only while that claim holds (a server that
    lost the lease must not overwrite what the new holder records)."""
    query = alert_deliveries.update().where(alert_deliveries.c.id == delivery_id)
    if claim_token is not None:
        query = query.where(alert_deliveries.c.claim_token == claim_token)
    connection.execute(query.values(values))


def get_delivery(connection: Connection, org_id: str, delivery_id: int) -> dict[str, Any] | None:
    return first_row(
        connection,
        alert_deliveries,
        alert_deliveries.c.org_id == org_id,
        alert_deliveries.c.id == delivery_id,
    )


def list_deliveries(
    connection: Connection,
    org_id: str,
    *,
    channel_id: str | None = None,
    status: str | None = None,
    anomaly_id: int | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Deliveries, newest first, and the id to pass as ``before_id`` for the next page (None at the end)."""
    d = alert_deliveries
    clauses: list[Any] = [d.c.org_id == org_id]
    if channel_id is not None:
        clauses.append(d.c.channel_id == channel_id)
    if status is not None:
        clauses.append(d.c.status == status)
    if anomaly_id is not None:
        clauses.append(d.c.anomaly_id == anomaly_id)
    if before_id is not None:
        clauses.append(d.c.id < before_id)
    query = sa.select(d).where(*clauses).order_by(d.c.id.desc()).limit(limit + 1)
    rows = [dict(row) for row in connection.execute(query).mappings()]
    next_id = rows[limit - 1]["id"] if len(rows) > limit else None
    return rows[:limit], next_id
