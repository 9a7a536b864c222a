"""The typed, frozen results of the management and query API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def parse_time(value: Any) -> dt.datetime:
    """An ISO 8601 time from the API as an aware datetime (Python 3.10 can't read a trailing Z)."""
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return dt.datetime.fromisoformat(text)


def parse_optional_time(value: Any) -> dt.datetime | None:
    return None if value is None else parse_time(value)


@dataclass(frozen=True)
class Organization:
    """An organisation: everything a key sees belongs to one."""

    id: str
    name: str
    plan: str
    created_at: dt.datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Organization:
        return cls(data["id"], data["name"], data["plan"], parse_time(data["created_at"]))


@dataclass(frozen=True)
class Usage:
    """Counts of the current period (calendar month, UTC)."""

    api_calls: int
    predictions: int
    labels: int
    spans: int
    period_start: dt.datetime
    period_end: dt.datetime
    prediction_rows: int = 0
    llm_calls: int = 0
    operations: int = 0
    org_id: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Usage:
        return cls(
            api_calls=int(data["api_calls"]),
            predictions=int(data["predictions"]),
            labels=int(data["labels"]),
            spans=int(data["spans"]),
            period_start=parse_time(data["period_start"]),
            period_end=parse_time(data["period_end"]),
            prediction_rows=int(data.get("prediction_rows", 0)),
            llm_calls=int(data.get("llm_calls", 0)),
            operations=int(data.get("operations", 0)),
            org_id=data.get("org_id"),
        )


@dataclass(frozen=True)
class User:
    """A user of the organisation; ``role`` is ``admin`` or ``member``."""

    id: str
    email: str
    name: str
    role: str
    created_at: dt.datetime | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> User:
        return cls(
            data["id"], data["email"], data["name"], data["role"], parse_optional_time(data.get("created_at"))
        )


@dataclass(frozen=True)
class APIKey:
    """An API key as lists show it: never the secret, only its last four characters."""

    id: str
    name: str
    scopes: tuple[str, ...]
    tail: str
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

    secret: str = field(default="", repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CreatedAPIKey:
        return cls(**cls._fields(data), secret=data["secret"])


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    items: tuple[T, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class Model:
    """A model and version that sent predictions, with its volume and label coverage."""

    name: str
    version: str | None
    environment: str | None
    framework: str | None
    model_class: str | None
    task: str | None
    predictions: int
    rows: int
    errors: int
    labelled_rows: int
    label_coverage: float
    first_seen: dt.datetime
    last_seen: dt.datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Model:
        return cls(
            **{k: data[k] for k in _names(cls) if k not in ("first_seen", "last_seen")},
            first_seen=parse_time(data["first_seen"]),
            last_seen=parse_time(data["last_seen"]),
        )


@dataclass(frozen=True)
class Prediction:
    """One prediction call: its identity, samples, outcome and the labels joined to it."""

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
    status: str
    error_message: str | None
    task: str | None
    features: Any
    prediction: Any
    labelled_rows: int
    label: Any
    labels: Mapping[int, Any]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Prediction:
        labels = {int(row): value for row, value in (data.get("labels") or {}).items()}
        return by_name(cls, data, time=parse_time(data["time"]), labels=labels)


@dataclass(frozen=True)
class LlmCall:
    """One LLM call: GenAI identity and usage, cost, and the PII and prompt-injection flags."""

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
    status: str
    error_type: str | None = None
    client_name: str | None = None
    cache_read_input_tokens: int | None = None
    reasoning_output_tokens: int | None = None
    pii_detected: bool | None = None
    """None when the call was not scanned for personal data."""
    pii_counts: Mapping[str, Mapping[str, int]] | None = None
    """Matches per type: ``{"input": {"email": 2}, "output": {...}}``."""
    injection_score: float | None = None
    injection_detected: bool | None = None
    injection_rules: tuple[str, ...] | None = None
    user_id: str | None = None
    """``enduser.id`` of the call."""
    session_id: str | None = None
    """``session.id`` of the call."""
    service: str | None = None
    """``service.name`` of the call's span, else of its resource."""
    risk_level: str | None = None
    """``low``, ``medium``, ``high`` or ``critical`` (an :class:`aither.RiskLevel` value)."""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LlmCall:
        rules = data.get("injection_rules")
        rules_tuple = tuple(rules) if rules is not None else None
        return by_name(cls, data, time=parse_time(data["time"]), injection_rules=rules_tuple)


@dataclass(frozen=True)
class LlmCallTotal:
    """LLM calls of one user, session, service, model or provider: counts, tokens and cost."""

    key: str | None
    """The user (session, service...); None for calls that did not say."""
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    """The sum of the priced calls' costs."""
    unpriced: int
    """Calls without a cost (an unknown model), left out of ``cost_usd``."""

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


@dataclass(frozen=True)
class Label:
    """A label span and where the join put it (``joined``, ``pending``, ``ambiguous``, ``invalid``)."""

    trace_id: str
    span_id: str
    model_name: str | None
    target_span_id: str | None
    status: str
    join_rule: str | None
    prediction_span_id: str | None
    value: Any
    is_batch: bool
    row_indices: tuple[int, ...] | None
    rows: int
    message: str | None
    time: dt.datetime

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Label:
        indices = data.get("row_indices")
        rows = tuple(indices) if indices is not None else None
        return by_name(cls, data, row_indices=rows, time=parse_time(data["time"]))


@dataclass(frozen=True)
class Latency:
    p50: float | None
    p90: float | None
    p99: float | None
    mean: float | None


@dataclass(frozen=True)
class LabelDelay:
    """Seconds from prediction to label."""

    p50: float | None
    p90: float | None
    mean: float | None
    max: float | None


@dataclass(frozen=True)
class ClassificationScores:
    accuracy: float
    precision: float
    recall: float
    f1: float
    average: str
    positive_class: str | None
    classes: int
    scored_rows: int


@dataclass(frozen=True)
class RegressionScores:
    mae: float
    rmse: float
    scored_rows: int


@dataclass(frozen=True)
class LabelCounts:
    joined: int = 0
    pending: int = 0
    ambiguous: int = 0
    invalid: int = 0


@dataclass(frozen=True)
class VersionMetrics:
    """Metrics of one model version over the window."""

    version: str | None
    predictions: int
    rows: int
    errors: int
    error_rate: float
    latency_ms: Latency
    labelled_rows: int
    label_coverage: float
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

    model: str
    since: dt.datetime | None
    until: dt.datetime | None
    versions: tuple[VersionMetrics, ...]
    labels: LabelCounts
    unattributed_labels: LabelCounts

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


@dataclass(frozen=True)
class Trace:
    """A trace: its spans (as the server stores them) and the rows made of them."""

    trace_id: str
    spans: tuple[Mapping[str, Any], ...]
    predictions: tuple[Prediction, ...]
    labels: tuple[Label, ...]
    llm_calls: tuple[LlmCall, ...]
    operations: tuple[Mapping[str, Any], ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Trace:
        return cls(
            trace_id=data["trace_id"],
            spans=tuple(data["spans"]),
            predictions=tuple(Prediction.from_json(p) for p in data["predictions"]),
            labels=tuple(Label.from_json(label) for label in data["labels"]),
            llm_calls=tuple(LlmCall.from_json(call) for call in data["llm_calls"]),
            operations=tuple(data["operations"]),
        )


def _names(cls: type) -> list[str]:
    return [item.name for item in fields(cls)]


def by_name(cls: type[T], data: Mapping[str, Any], **parsed: Any) -> T:
    """A ``cls`` of ``data``'s values by field name (None where absent), ``parsed`` in place of
    the raw values of those fields."""
    return cls(**{k: data.get(k) for k in _names(cls) if k not in parsed}, **parsed)
