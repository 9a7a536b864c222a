"""The JSON shapes of ``/api/v1``, one definition for both sides: frozen stdlib dataclasses.

The server declares them as its routes' ``response_model`` (pydantic reads stdlib dataclasses,
and ``__pydantic_config__`` has it take each attribute docstring as the field's description in
the OpenAPI document); the SDK reads the same JSON into them with their ``from_json``, lenient
about fields that older servers do not send. Sequences are tuples and objects ``Mapping``, so a
result can't be changed in place. Times are aware datetimes, ISO 8601 in UTC on the wire.

The detection shapes (anomalies, the stats summary, pruning) are in
:mod:`aither.schema.detection_results`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Generic, Literal, TypeVar

__all__ = [
    "APIKey",
    "ClassificationScores",
    "CreatedAPIKey",
    "Label",
    "LabelCounts",
    "LabelDelay",
    "LabelStatus",
    "Latency",
    "LlmCall",
    "LlmCallTotal",
    "Model",
    "ModelMetrics",
    "Organization",
    "Page",
    "Prediction",
    "RegressionScores",
    "Role",
    "Scope",
    "Status",
    "Usage",
    "User",
    "VersionMetrics",
    "by_name",
    "field_names",
    "parse_optional_time",
    "parse_time",
]

T = TypeVar("T")
Scope = Literal["read", "write", "admin"]
"""What an API key may do."""
Role = Literal["admin", "member"]
"""What a user may do."""
Status = Literal["ok", "error"]
"""Whether a call returned or raised."""
LabelStatus = Literal["joined", "pending", "ambiguous", "invalid"]
"""Where the label join put a label."""

DOCUMENTED: Any = {"use_attribute_docstrings": True}
"""Each class's ``__pydantic_config__``: its attribute docstrings describe its fields."""


def parse_time(value: Any) -> dt.datetime:
    """An ISO 8601 time from the API as an aware datetime (Python 3.10 can't read a trailing Z)."""
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return dt.datetime.fromisoformat(text)


def parse_optional_time(value: Any) -> dt.datetime | None:
    return None if value is None else parse_time(value)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(cls: type) -> tuple[str, ...]:
    """The names of a result class's fields, in order (read once per class: readers and the
    server's row builders ask per row)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(item.name for item in fields(cls))
    return names


def by_name(cls: type[T], data: Mapping[str, Any], **parsed: Any) -> T:
    """A ``cls`` of ``data``'s values by field name (None where absent), ``parsed`` in place of
    the raw values of those fields."""
    return cls(**{k: data.get(k) for k in field_names(cls) if k not in parsed}, **parsed)


@dataclass(frozen=True)
class Page(Generic[T]):
    """A page of results, newest first; pass ``next_cursor`` as ``cursor`` for the next one."""

    __pydantic_config__ = DOCUMENTED

    items: tuple[T, ...]
    next_cursor: str | None = None


# --- management --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Organization:
    """An organisation: everything a key sees belongs to one."""

    __pydantic_config__ = DOCUMENTED

    id: str
    name: str
    plan: str
    created_at: dt.datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Organization:
        return cls(data["id"], data["name"], data["plan"], parse_time(data["created_at"]))


@dataclass(frozen=True, kw_only=True)  # keyword-only: the fields are in the JSON's order
class Usage:
    """Counts of the current calendar month (UTC)."""

    __pydantic_config__ = DOCUMENTED

    org_id: str
    period_start: dt.datetime
    period_end: dt.datetime
    api_calls: int
    """authenticated requests, ingest included"""
    spans: int
    """spans stored (replays not counted)"""
    predictions: int
    """prediction calls stored"""
    prediction_rows: int
    """output rows of those predictions"""
    labels: int
    """label spans stored"""
    llm_calls: int
    operations: int
    """function and event spans"""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Usage:
        """Older servers sent no ``org_id`` (read as ""), ``prediction_rows``, ``llm_calls`` or
        ``operations`` (read as 0)."""
        return cls(
            org_id=str(data.get("org_id") or ""),
            period_start=parse_time(data["period_start"]),
            period_end=parse_time(data["period_end"]),
            api_calls=int(data["api_calls"]),
            spans=int(data["spans"]),
            predictions=int(data["predictions"]),
            prediction_rows=int(data.get("prediction_rows", 0)),
            labels=int(data["labels"]),
            llm_calls=int(data.get("llm_calls", 0)),
            operations=int(data.get("operations", 0)),
        )


@dataclass(frozen=True)
class User:
    """A user of the organisation; ``role`` is ``admin`` or ``member``."""

    __pydantic_config__ = DOCUMENTED

    id: str
    email: str
    name: str
    role: Role
    created_at: dt.datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> User:
        return cls(data["id"], data["email"], data["name"], data["role"], parse_time(data["created_at"]))


@dataclass(frozen=True)
class APIKey:
    """An API key as lists show it: never the secret, only its last four characters."""

    __pydantic_config__ = DOCUMENTED

    id: str
    name: str
    scopes: tuple[Scope, ...]
    tail: str
    """the last four characters of the secret"""
    user_id: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @staticmethod
    def _fields(data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": data["id"],
            "name": data["name"],
            "scopes": tuple(data["scopes"]),
            "tail": data["tail"],
            "user_id": data["user_id"],
            "created_at": parse_time(data["created_at"]),
            "last_used_at": parse_optional_time(data.get("last_used_at")),
            "revoked_at": parse_optional_time(data.get("revoked_at")),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> APIKey:
        return cls(**cls._fields(data))


@dataclass(frozen=True)
class CreatedAPIKey(APIKey):
    """A key just created: ``secret`` is the key itself, returned this once and never again."""

    tail: str
    """the last four characters of the secret"""
    # (declared again, in its place, for its description: pydantic reads the docstrings of
    # the class's own source only)
    secret: str = field(repr=False)
    """the key itself; shown in this response only"""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CreatedAPIKey:
        return cls(**cls._fields(data), secret=data["secret"])


# --- queries -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """A model and version that sent predictions, with its volume and label coverage."""

    __pydantic_config__ = DOCUMENTED

    name: str
    version: str | None
    environment: str | None
    framework: str | None
    model_class: str | None
    task: str | None
    """classification, regression, or null when not scored"""
    predictions: int
    rows: int
    errors: int
    labelled_rows: int
    label_coverage: float
    first_seen: dt.datetime
    last_seen: dt.datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Model:
        times = ("first_seen", "last_seen")
        return cls(
            **{k: data[k] for k in field_names(cls) if k not in times},
            first_seen=parse_time(data["first_seen"]),
            last_seen=parse_time(data["last_seen"]),
        )


@dataclass(frozen=True)
class Prediction:
    """One prediction call: its identity, samples, outcome and the labels joined to it."""

    __pydantic_config__ = DOCUMENTED

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
    status: Status
    error_message: str | None
    task: str | None
    features: Any
    """the ml.features envelope as sent"""
    prediction: Any
    """the ml.prediction envelope as sent"""
    labelled_rows: int
    label: Any = None
    """the true value of a single-row prediction"""
    labels: Mapping[int, Any] = field(default_factory=dict)
    """true values by row (first 1000 rows)"""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Prediction:
        labels = {int(row): value for row, value in (data.get("labels") or {}).items()}
        return by_name(cls, data, time=parse_time(data["time"]), labels=labels)


@dataclass(frozen=True)
class Label:
    """A label span and where the join put it (``joined``, ``pending``, ``ambiguous``, ``invalid``)."""

    __pydantic_config__ = DOCUMENTED

    trace_id: str
    span_id: str
    model_name: str | None
    target_span_id: str | None
    status: LabelStatus
    join_rule: str | None
    prediction_span_id: str | None
    value: Any
    is_batch: bool
    row_indices: tuple[int, ...] | None
    rows: int
    """prediction rows this label set"""
    message: str | None
    time: dt.datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Label:
        indices = data.get("row_indices")
        rows = tuple(indices) if indices is not None else None
        return by_name(cls, data, row_indices=rows, time=parse_time(data["time"]))


@dataclass(frozen=True)
class LlmCall:
    """One LLM call: GenAI identity and usage, cost, and the PII and prompt-injection flags."""

    __pydantic_config__ = DOCUMENTED

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
    status: Status
    error_type: str | None = None
    client_name: str | None = None
    cache_read_input_tokens: int | None = None
    reasoning_output_tokens: int | None = None
    pii_detected: bool | None = None
    """null when the call was not scanned"""
    pii_counts: Mapping[str, Mapping[str, int]] | None = None
    """matches per type: {"input": {"email": 2}, "output": {...}}"""
    injection_score: float | None = None
    injection_detected: bool | None = None
    injection_rules: tuple[str, ...] | None = None
    user_id: str | None = None
    """enduser.id of the call"""
    session_id: str | None = None
    """session.id of the call"""
    service: str | None = None
    """service.name of the span, else of its resource"""
    risk_level: Literal["low", "medium", "high", "critical"] | None = None
    """from PII findings, injection score, errors and cost; null for calls stored before"""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LlmCall:
        rules = data.get("injection_rules")
        rules_tuple = tuple(rules) if rules is not None else None
        return by_name(cls, data, time=parse_time(data["time"]), injection_rules=rules_tuple)


@dataclass(frozen=True)
class LlmCallTotal:
    """LLM calls of one user, session, service, model or provider: counts, tokens and cost."""

    __pydantic_config__ = DOCUMENTED

    key: str | None
    """the user, session, service, model or provider; null: not given"""
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    """sum of the priced calls' costs"""
    unpriced: int
    """calls without a cost (unknown model), left out of cost_usd"""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LlmCallTotal:
        key = data.get("key")
        return cls(
            key=str(key) if key is not None else None,
            calls=int(data["calls"]),
            errors=int(data["errors"]),
            input_tokens=int(data["input_tokens"]),
            output_tokens=int(data["output_tokens"]),
            cost_usd=float(data["cost_usd"]),
            unpriced=int(data["unpriced"]),
        )


# --- metrics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    """Percentiles and mean of the calls' latency."""

    __pydantic_config__ = DOCUMENTED

    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    mean: float | None = None


@dataclass(frozen=True)
class LabelDelay:
    """Seconds from prediction to label."""

    __pydantic_config__ = DOCUMENTED

    p50: float | None = None
    p90: float | None = None
    mean: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class ClassificationScores:
    """Scores of the labelled rows of a classifier."""

    __pydantic_config__ = DOCUMENTED

    accuracy: float
    precision: float
    recall: float
    f1: float
    average: Literal["binary", "macro"]
    positive_class: str | None
    classes: int
    scored_rows: int


@dataclass(frozen=True)
class RegressionScores:
    """Errors of the labelled rows of a regressor."""

    __pydantic_config__ = DOCUMENTED

    mae: float
    rmse: float
    scored_rows: int


@dataclass(frozen=True)
class LabelCounts:
    """Labels by join status."""

    __pydantic_config__ = DOCUMENTED

    joined: int = 0
    pending: int = 0
    ambiguous: int = 0
    invalid: int = 0


@dataclass(frozen=True)
class VersionMetrics:
    """Metrics of one model version over the window."""

    __pydantic_config__ = DOCUMENTED

    version: str | None
    predictions: int
    rows: int
    errors: int
    error_rate: float
    latency_ms: Latency
    labelled_rows: int
    label_coverage: float
    """share of predicted rows with a label"""
    label_delay_s: LabelDelay | None
    task: str | None
    classification: ClassificationScores | None
    regression: RegressionScores | None
    first_seen: dt.datetime
    last_seen: dt.datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VersionMetrics:
        delay = data.get("label_delay_s")
        classification = data.get("classification")
        regression = data.get("regression")
        return cls(
            version=data["version"],
            predictions=data["predictions"],
            rows=data["rows"],
            errors=data["errors"],
            error_rate=data["error_rate"],
            latency_ms=Latency(**data["latency_ms"]),
            labelled_rows=data["labelled_rows"],
            label_coverage=data["label_coverage"],
            label_delay_s=LabelDelay(**delay) if delay else None,
            task=data.get("task"),
            classification=ClassificationScores(**classification) if classification else None,
            regression=RegressionScores(**regression) if regression else None,
            first_seen=parse_time(data["first_seen"]),
            last_seen=parse_time(data["last_seen"]),
        )


@dataclass(frozen=True)
class ModelMetrics:
    """Metrics of a model per version, and how its labels were joined."""

    __pydantic_config__ = DOCUMENTED

    model: str
    since: dt.datetime | None
    until: dt.datetime | None
    versions: tuple[VersionMetrics, ...]
    labels: LabelCounts
    """labels that name this model, by join status"""
    unattributed_labels: LabelCounts
    """labels that name no model, by join status"""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelMetrics:
        return cls(
            model=data["model"],
            since=parse_optional_time(data.get("since")),
            until=parse_optional_time(data.get("until")),
            versions=tuple(VersionMetrics.from_json(v) for v in data["versions"]),
            labels=LabelCounts(**data["labels"]),
            unattributed_labels=LabelCounts(**data["unattributed_labels"]),
        )
