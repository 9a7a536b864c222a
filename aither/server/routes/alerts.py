"""The alerts API under ``/api/v1/alerts``: channels and their delivery log.

==========================================  =============  ==========================================
route                                       scope          returns
==========================================  =============  ==========================================
``GET /alerts/channels``                    admin          stored and rules-file channels, masked
``POST /alerts/channels``                   admin          a new channel (flat keys, as in the file)
``PATCH /alerts/channels/{id}``             admin          the channel with the given keys changed
``DELETE /alerts/channels/{id}``            admin          the removed channel (its log stays)
``POST /alerts/channels/{id}/test``         admin          the log row of a test notice sent now
``GET /alerts/deliveries``                  read or admin  the delivery log, newest first
==========================================  =============  ==========================================

Secrets (``secret``, ``routing_key``, ``password``, a Slack ``url``, a webhook's ``headers``
values) are never returned: they read ``****`` plus, for long ones, their last four
characters. A PATCH that sends such a masked value back leaves the secret as it was. Channels
of the rules file (``file:<name>``) are changed in the file, not here (409).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Query, Request
from pydantic import BaseModel, Field

from ...schema.results import Page
from ..alerts.config import ChannelConfig, mask_settings, parse_channel, unmask_changes
from ..alerts.dispatch import send_test
from ..alerts.store import (
    STATUSES,
    config_from_row,
    create_channel,
    delete_channel,
    get_channel,
    list_channels,
    list_deliveries,
    merged_config,
    update_channel,
)
from .deps import Admin, ReaderOrAdmin, StorageDep
from .responses import AUTHENTICATED, CONFLICT, NOT_FOUND, QUERY, WITH_BODY, creates
from .schemas import to_time

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], responses=AUTHENTICATED)

_CHANNEL_EXAMPLE = {
    "name": "ops",
    "type": "webhook",
    "url": "https://hooks.example.com/aither",
    "secret": "a-long-random-string-0123456789",
    "min_severity": "high",
}


class AlertChannel(BaseModel):
    id: str
    name: str
    type: Literal["webhook", "slack", "pagerduty", "email"]
    source: Literal["api", "file"] = Field(description="api: stored through this API; file: the rules file")
    enabled: bool
    min_severity: str
    rules: list[str] = Field(description="only notices of these rules (empty: any)")
    anomaly_types: list[str] = Field(description="only notices of these anomaly types (empty: any)")
    max_attempts: int
    backoff_s: float
    timeout_s: float
    settings: dict[str, Any] = Field(description="the type's own keys; secrets masked")
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class AlertDelivery(BaseModel):
    id: int
    channel_id: str
    channel_name: str
    channel_type: str
    anomaly_id: int
    event: str = Field(description="opened, escalated, resolved, or test")
    severity: str
    title: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    http_status: int | None
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    next_attempt_at: dt.datetime | None = Field(description="when a pending delivery tries again")
    delivered_at: dt.datetime | None


def channel_out(config: ChannelConfig, row: dict[str, Any] | None = None) -> AlertChannel:
    return AlertChannel(
        id=config.id or f"file:{config.name}",
        name=config.name,
        type=config.kind,
        source=config.source,
        enabled=config.enabled,
        min_severity=config.min_severity.value,
        rules=sorted(config.rules),
        anomaly_types=sorted(config.anomaly_types),
        max_attempts=config.max_attempts,
        backoff_s=config.backoff_s,
        timeout_s=config.timeout_s,
        settings=mask_settings(config.kind, config.settings),
        created_at=to_time(row["created_at_ns"]) if row else None,
        updated_at=to_time(row["updated_at_ns"]) if row else None,
    )


def delivery_out(row: dict[str, Any]) -> AlertDelivery:
    return AlertDelivery(
        **{key: row[key] for key in AlertDelivery.model_fields if key in row},
        channel_type=row["channel_kind"],
        created_at=to_time(row["created_at_ns"]),
        updated_at=to_time(row["updated_at_ns"]),
        next_attempt_at=to_time(row["next_attempt_at_ns"]),
        delivered_at=to_time(row["delivered_at_ns"]),
    )


def _file_channels(request: Request) -> tuple[ChannelConfig, ...]:
    channels: tuple[ChannelConfig, ...] = getattr(request.app.state.alert_sink, "file_channels", ())
    return channels


def _invalid(error: ValueError) -> HTTPException:
    # shaped as FastAPI's own 422 (a list of {loc, msg, type}), which the OpenAPI document declares
    return HTTPException(422, [{"loc": ["body"], "msg": str(error), "type": "value_error"}])


@router.get("/channels", response_model=list[AlertChannel], summary="Alert channels, secrets masked")
def get_channels(principal: Admin, storage: StorageDep, request: Request) -> list[AlertChannel]:
    with storage.read() as connection:
        rows = list_channels(connection, principal.org_id)
    stored = [channel_out(config_from_row(row), row) for row in rows]
    return stored + [channel_out(channel) for channel in _file_channels(request)]


@creates(router, "/channels", AlertChannel, "Add a channel", {**WITH_BODY, **CONFLICT})
def post_channel(
    principal: Admin,
    storage: StorageDep,
    body: Annotated[dict[str, Any], Body(examples=[_CHANNEL_EXAMPLE])],
) -> AlertChannel:
    if "id" in body:
        raise _invalid(ValueError("id is chosen by the server; leave it out"))
    try:
        config = parse_channel(body)
    except ValueError as error:
        raise _invalid(error) from None
    row = storage.writer.run(lambda c: create_channel(c, principal.org_id, config, time.time_ns()))
    if row is None:
        raise HTTPException(409, f"a channel called {config.name!r} exists already")
    return channel_out(config_from_row(row), row)


def _not_file(channel_id: str) -> None:
    if channel_id.startswith("file:"):
        raise HTTPException(409, f"channel {channel_id!r} is defined in the rules file; change it there")


@router.patch(
    "/channels/{channel_id}",
    response_model=AlertChannel,
    summary="Change a channel",
    responses={**WITH_BODY, **NOT_FOUND, **CONFLICT},
)
def patch_channel(
    channel_id: str,
    principal: Admin,
    storage: StorageDep,
    body: Annotated[dict[str, Any], Body(examples=[{"min_severity": "critical", "enabled": False}])],
) -> AlertChannel:
    _not_file(channel_id)
    if "id" in body:
        raise _invalid(ValueError("id can't be changed"))

    with storage.read() as connection:
        current = get_channel(connection, principal.org_id, channel_id)
    if current is None:
        raise HTTPException(404, f"no alert channel {channel_id!r}")
    # a masked secret sent back (a GET, edited, PATCHed) means "keep it"
    changes = unmask_changes(current["kind"], config_from_row(current).settings, body)
    try:
        config = merged_config(current, changes)
    except ValueError as error:
        raise _invalid(error) from None
    row = storage.writer.run(
        lambda c: update_channel(c, principal.org_id, channel_id, config, time.time_ns())
    )
    if row == "missing":
        raise HTTPException(404, f"no alert channel {channel_id!r}")
    if row == "name taken":
        raise HTTPException(409, f"a channel called {config.name!r} exists already")
    assert isinstance(row, dict)
    return channel_out(config_from_row(row), row)


@router.delete(
    "/channels/{channel_id}",
    response_model=AlertChannel,
    summary="Remove a channel",
    responses={**NOT_FOUND, **CONFLICT},
)
def remove_channel(channel_id: str, principal: Admin, storage: StorageDep) -> AlertChannel:
    _not_file(channel_id)
    row = storage.writer.run(lambda c: delete_channel(c, principal.org_id, channel_id))
    if row is None:
        raise HTTPException(404, f"no alert channel {channel_id!r}")
    return channel_out(config_from_row(row), row)


@router.post(
    "/channels/{channel_id}/test",
    response_model=AlertDelivery,
    summary="Send the channel a test notice now (one attempt) and return its log row",
    responses=NOT_FOUND,
)
def test_channel(channel_id: str, principal: Admin, storage: StorageDep, request: Request) -> AlertDelivery:
    config: ChannelConfig | None = None
    if channel_id.startswith("file:"):
        config = next((c for c in _file_channels(request) if c.id == channel_id), None)
    else:
        with storage.read() as connection:
            row = get_channel(connection, principal.org_id, channel_id)
        config = config_from_row(row) if row is not None else None
    if config is None:
        raise HTTPException(404, f"no alert channel {channel_id!r}")
    return delivery_out(send_test(storage, principal.org_id, config, request.app.state.settings.base_url))


@router.get(
    "/deliveries",
    response_model=Page[AlertDelivery],
    summary="The delivery log, newest first",
    responses=QUERY,
)
def get_deliveries(
    principal: ReaderOrAdmin,
    storage: StorageDep,
    channel: Annotated[str | None, Query(description="a channel id")] = None,
    status_: Annotated[str | None, Query(alias="status", description=" | ".join(STATUSES))] = None,
    anomaly_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Page[AlertDelivery]:
    if status_ is not None and status_ not in STATUSES:
        raise HTTPException(400, f"status must be one of {', '.join(STATUSES)}, not {status_!r}")
    before: int | None = None
    if cursor is not None:
        if not cursor.isdigit():
            raise HTTPException(400, f"invalid cursor {cursor!r}; pass the next_cursor of a previous page")
        before = int(cursor)
    with storage.read() as connection:
        rows, next_id = list_deliveries(
            connection,
            principal.org_id,
            channel_id=channel,
            status=status_,
            anomaly_id=anomaly_id,
            limit=limit,
            before_id=before,
        )
    next_cursor = str(next_id) if next_id is not None else None
    return Page[AlertDelivery](items=tuple(delivery_out(row) for row in rows), next_cursor=next_cursor)
