"""The JSON shapes of ``/api/v1``: pydantic models, so the OpenAPI schema documents every field.

Times are ISO 8601 in UTC. Models built from stored rows go through the ``from_*`` helpers.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Generic, Literal, TypeVar, overload

from pydantic import BaseModel, BeforeValidator, Field

T = TypeVar("T")
Scope = Literal["read", "write", "admin"]
Role = Literal["admin", "member"]
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


class Page(BaseModel, Generic[T]):
    """A page of results, newest first; pass ``next_cursor`` as ``cursor`` for the next one."""

    items: list[T]
    next_cursor: str | None = None


# --- management --------------------------------------------------------------------------------


class Organization(BaseModel):
    id: str
    name: str
    plan: str
    created_at: dt.datetime


class Usage(BaseModel):
    """Counts of the current calendar month (UTC)."""

    org_id: str
    period_start: dt.datetime
    period_end: dt.datetime
    api_calls: int = Field(description="authenticated requests, ingest included")
    spans: int = Field(description="spans stored (replays not counted)")
    predictions: int = Field(description="prediction calls stored")
    prediction_rows: int = Field(description="output rows of those predictions")
    labels: int = Field(description="label spans stored")
    llm_calls: int
    operations: int = Field(description="function and event spans")


class User(BaseModel):
    id: str
    email: str
    name: str
    role: Role
    created_at: dt.datetime


class UserCreate(BaseModel):
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(default="", max_length=200)
    role: Role = "member"


class ApiKey(BaseModel):
    id: str
    name: str
    scopes: list[Scope]
    tail: str = Field(description="the last four characters of the secret")
    user_id: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeyCreated(ApiKey):
    secret: str = Field(description="the key itself; shown in this response only")


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
        "scopes": row["scopes"].split(),
        "tail": row["tail"],
        "user_id": row["user_id"],
        "created_at": to_time(row["created_at_ns"]),
        "last_used_at": to_time(last_used),
        "revoked_at": to_time(row["revoked_at_ns"]),
    }


# --- queries -----------------------------------------------------------------------------------


class Model(BaseModel):
    name: str
    version: str | None
    environment: str | None
    framework: str | None
    model_class: str | None
    task: str | None = Field(description="classification, regression, or null when not scored")
    predictions: int
    rows: int
    errors: int
    labelled_rows: int
    label_coverage: float
    first_seen: dt.datetime
    last_seen: dt.datetime


class Prediction(BaseModel):
    trace_id: str
    span_id: str
    model_name: str
    model_version: str | None
    environment: str | None
    framework: str | None
    model_class: str | None
    method: str | None
    time: dt.datetime
    latency_ms: float
    input_rows: int | None
    output_rows: int | None
    status: Literal["ok", "error"]
    error_message: str | None
    task: str | None
    features: Any = Field(description="the ml.features envelope as sent")
    prediction: Any = Field(description="the ml.prediction envelope as sent")
    labelled_rows: int
    label: Any = Field(default=None, description="the true value of a single-row prediction")
    labels: dict[int, Any] = Field(default_factory=dict, description="true values by row (first 1000 rows)")


class Label(BaseModel):
    trace_id: str
    span_id: str
    model_name: str | None
    target_span_id: str | None
    status: Literal["joined", "pending", "ambiguous", "invalid"]
    join_rule: str | None
    prediction_span_id: str | None
    value: Any
    is_batch: bool
    row_indices: list[int] | None
    rows: int = Field(description="prediction rows this label set")
    message: str | None
    time: dt.datetime


class LlmCall(BaseModel):
    trace_id: str
    span_id: str
    name: str
    operation: str | None
    provider: str | None
    request_model: str | None
    response_model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    finish_reasons: Any
    time: dt.datetime
    latency_ms: float
    status: Literal["ok", "error"]
    error_type: str | None = None
    client_name: str | None = None
    cache_read_input_tokens: int | None = None
    reasoning_output_tokens: int | None = None
    pii_detected: bool | None = Field(None, description="null when the call was not scanned")
    pii_counts: dict[str, dict[str, int]] | None = Field(
        None, description='matches per type: {"input": {"email": 2}, "output": {...}}'
    )
    injection_score: float | None = None
    injection_detected: bool | None = None
    injection_rules: list[str] | None = None
    user_id: str | None = Field(None, description="enduser.id of the call")
    session_id: str | None = Field(None, description="session.id of the call")
    service: str | None = Field(None, description="service.name of the span, else of its resource")
    risk_level: Literal["low", "medium", "high", "critical"] | None = Field(
        None, description="from PII findings, injection score, errors and cost; null for calls stored before"
    )


class LlmCallTotal(BaseModel):
    key: str | None = Field(description="the user, session, service, model or provider; null: not given")
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float = Field(description="sum of the priced calls' costs")
    unpriced: int = Field(description="calls without a cost (unknown model), left out of cost_usd")


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


class Latency(BaseModel):
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    mean: float | None = None


class LabelDelay(BaseModel):
    p50: float | None = None
    p90: float | None = None
    mean: float | None = None
    max: float | None = None


class ClassificationScores(BaseModel):
    accuracy: float
    precision: float
    recall: float
    f1: float
    average: Literal["binary", "macro"]
    positive_class: str | None
    classes: int
    scored_rows: int


class RegressionScores(BaseModel):
    mae: float
    rmse: float
    scored_rows: int


class VersionMetrics(BaseModel):
    version: str | None
    predictions: int
    rows: int
    errors: int
    error_rate: float
    latency_ms: Latency
    labelled_rows: int
    label_coverage: float = Field(description="share of predicted rows with a label")
    label_delay_s: LabelDelay | None
    task: str | None
    classification: ClassificationScores | None
    regression: RegressionScores | None
    first_seen: dt.datetime
    last_seen: dt.datetime


class LabelCounts(BaseModel):
    joined: int = 0
    pending: int = 0
    ambiguous: int = 0
    invalid: int = 0


class ModelMetrics(BaseModel):
    model: str
    since: dt.datetime | None
    until: dt.datetime | None
    versions: list[VersionMetrics]
    labels: LabelCounts = Field(description="labels that name this model, by join status")
    unattributed_labels: LabelCounts = Field(description="labels that name no model, by join status")


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    database: str
