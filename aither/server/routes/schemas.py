"""The JSON shapes of ``/api/v1`` that are the server's own, and the time helpers of the routes.

The result shapes the SDK reads too (models, predictions, labels, LLM calls, metrics, users,
keys...) are the shared dataclasses of :mod:`aither.schema.results`, which the routes answer
with; this module has what only the server has: request bodies, the trace view's typed spans and
operations, the LLM call totals and health. Times are ISO 8601 in UTC. Results built from
stored rows go through the ``*_from`` helpers.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, overload

from pydantic import BaseModel, BeforeValidator, Field

from ...schema.results import Label, LlmCall, LlmCallTotal, Organization, Prediction, Role, Scope, User

_DEFAULT_SCOPES: tuple[Scope, ...] = ("read", "write")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


@overload
def to_time(ns: int) -> dt.datetime: ...
@overload
def to_time(ns: None) -> None: ...
@overload
def to_time(ns: int | None) -> dt.datetime | None: ...
def to_time(ns: int | None) -> dt.datetime | None:
    """Nanoseconds since the epoch as an aware UTC datetime (microsecond precision)."""
    if ns is None:
        return None
    return _EPOCH + dt.timedelta(microseconds=ns // 1000)


_NS_MIN, _NS_MAX = -(2**63), 2**63 - 1  # what the 64-bit time columns hold (years 1677 to 2262)


def to_ns(moment: dt.datetime | None) -> int | None:
    """An API time parameter as ns since the epoch; a naive time is taken as UTC.

    Times beyond what a 64-bit column holds are clamped to its ends: no stored row lies past
    them, so a window bounded there selects what it would have selected anyway.
    """
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    delta = moment - _EPOCH
    ns = ((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds) * 1000
    return min(max(ns, _NS_MIN), _NS_MAX)


def iso_time_only(value: Any) -> Any:
    """Refuse a number where an ISO 8601 time is expected (pydantic would read it as epoch
    seconds, which the schema, ``format: date-time``, does not allow)."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError("must be an ISO 8601 time such as 2026-01-31T12:00:00Z, not a number")
    return value


IsoTime = Annotated[dt.datetime | None, BeforeValidator(iso_time_only)]
"""An optional ISO 8601 time parameter; a route adds its ``Query(description=...)``."""


# --- management --------------------------------------------------------------------------------


class UserCreate(BaseModel):
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(default="", max_length=200)
    role: Role = "member"


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(default_factory=lambda: list(_DEFAULT_SCOPES), min_length=1)
    user_id: str | None = Field(default=None, description="owner of the key; the caller's user by default")


def organization_from(row: dict[str, Any]) -> Organization:
    return Organization(
        id=row["id"], name=row["name"], plan=row["plan"], created_at=to_time(row["created_at_ns"])
    )


def user_from(row: dict[str, Any]) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        created_at=to_time(row["created_at_ns"]),
    )


def api_key_fields(row: dict[str, Any], last_used_ns: int | None = None) -> dict[str, Any]:
    last_used = max(filter(None, (row["last_used_at_ns"], last_used_ns)), default=None)
    return {
        "id": row["id"],
        "name": row["name"],
        "scopes": tuple(row["scopes"].split()),
        "tail": row["tail"],
        "user_id": row["user_id"],
        "created_at": to_time(row["created_at_ns"]),
        "last_used_at": to_time(last_used),
        "revoked_at": to_time(row["revoked_at_ns"]),
    }


# --- queries -----------------------------------------------------------------------------------


class LlmCallTotals(BaseModel):
    group_by: str
    since: dt.datetime | None
    until: dt.datetime | None
    items: list[LlmCallTotal]


class Operation(BaseModel):
    trace_id: str
    span_id: str
    kind: str
    name: str
    span_type: str | None
    input: Any
    output: Any
    cost_usd: float | None
    metadata: Any
    time: dt.datetime
    latency_ms: float
    status: Literal["ok", "error"]
    error_message: str | None


class Span(BaseModel):
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str | None = Field(description="aither.span.kind, when the span follows aither's schema")
    span_kind: int
    service_name: str | None
    scope_name: str | None
    start_time: dt.datetime
    end_time: dt.datetime
    start_time_unix_nano: int
    duration_ms: float
    status: Literal["unset", "ok", "error"]
    status_message: str | None
    attributes: dict[str, Any]
    events: list[Any]
    links: list[Any]
    resource: dict[str, Any]


class Trace(BaseModel):
    trace_id: str
    spans: list[Span]
    predictions: list[Prediction]
    labels: list[Label]
    llm_calls: list[LlmCall]
    operations: list[Operation]


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    database: str
