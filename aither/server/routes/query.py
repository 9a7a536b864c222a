"""The query API under ``/api/v1``: models, predictions, labels, traces, LLM calls, metrics.

Every route needs a key with the ``read`` scope and sees only its organisation's data.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query

from ...schema import results as r
from ...schema.vocabulary import RiskLevel
from ..analysis.label_join import LABEL_STATUSES
from ..storage import Storage
from ..storage.filters import LabelFilter, LlmCallFilter, ModelScope, Paging, PredictionFilter
from ..storage.metrics import model_metrics
from ..storage.queries import (
    CursorError,
    get_trace,
    label_status_counts,
    list_labels,
    list_llm_calls,
    list_models,
    list_predictions,
    llm_call_totals,
)
from ..storage.window import Window
from . import schemas as s
from .deps import Reader, StorageDep
from .params import Cursor, IsoTime, Limit
from .responses import NOT_FOUND, QUERY

router = APIRouter(prefix="/api/v1", tags=["query"], responses=QUERY)
T = TypeVar("T")

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
Since = Annotated[IsoTime, Query(description="ISO 8601 time; from this time on (inclusive)")]
Until = Annotated[IsoTime, Query(description="ISO 8601 time; before this time")]


def _window(since: Since = None, until: Until = None) -> Window:
    window = Window(s.to_ns(since), s.to_ns(until))
    # since == until is an empty window (nothing matches), not an error: the schema can't say so
    if window.since_ns is not None and window.until_ns is not None and window.since_ns > window.until_ns:
        raise HTTPException(400, "since must not be after until")
    return window


def _paging(limit: Limit = 50, cursor: Cursor = None) -> Paging:
    return Paging(limit, cursor)


TimeWindow = Annotated[Window, Depends(_window)]
"""The ``since`` and ``until`` parameters, as a window."""
PageOf = Annotated[Paging, Depends(_paging)]
"""The ``limit`` and ``cursor`` parameters of a list."""


def _read(storage: Storage, sql_read: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """What ``sql_read`` answers, asked of the telemetry store's read of the same name when the
    server has one (the two answer alike); a cursor this server did not hand out is the
    caller's mistake (400)."""
    try:
        if storage.telemetry is not None:
            answer: T = getattr(storage.telemetry, sql_read.__name__)(*args, **kwargs)
            return answer
        with storage.read() as connection:
            return sql_read(connection, *args, **kwargs)
    except CursorError as exc:
        raise HTTPException(400, str(exc)) from None


def _status(is_error: bool) -> Literal["ok", "error"]:
    return "error" if is_error else "ok"


def _names(shape: type[Any]) -> tuple[str, ...]:
    """The fields of a response shape: a shared dataclass's or a pydantic model's."""
    if dataclasses.is_dataclass(shape):
        return r.field_names(shape)
    return tuple(shape.model_fields)


def _row_out(shape: Callable[..., T], names: tuple[str, ...], row: dict[str, Any], **read: Any) -> T:
    """``shape`` of a stored row: its fields by name, ``read`` (values read out of the row's
    columns) in place of those; sequences the row holds as lists become the shape's tuples."""
    values = {key: row[key] for key in names if key in row and key not in read}
    for key in ("row_indices", "injection_rules"):
        if isinstance(values.get(key), list):
            values[key] = tuple(values[key])
    return shape(**values, **read)


def prediction_out(row: dict[str, Any]) -> r.Prediction:
    names = _names(r.Prediction)
    return _row_out(r.Prediction, names, row, time=s.to_time(row["time_ns"]), status=_status(row["is_error"]))


def label_out(row: dict[str, Any]) -> r.Label:
    return _row_out(r.Label, _names(r.Label), row, time=s.to_time(row["time_ns"]))


def _rows_out(shape: type[T], rows: list[dict[str, Any]]) -> list[T]:
    names = _names(shape)
    return [
        _row_out(shape, names, row, time=s.to_time(row["time_ns"]), status=_status(row["is_error"]))
        for row in rows
    ]


def _span_out(row: dict[str, Any]) -> s.Span:
    status = {0: "unset", 1: "ok", 2: "error"}.get(row["status_code"], "unset")
    return s.Span(
        trace_id=row["trace_id"],
        span_id=row["span_id"],
        parent_span_id=row["parent_span_id"],
        name=row["name"],
        kind=row["aither_kind"],
        span_kind=row["span_kind"],
        service_name=row["service_name"],
        scope_name=row["scope_name"],
        start_time=s.to_time(row["start_time_ns"]),
        end_time=s.to_time(row["end_time_ns"]),
        start_time_unix_nano=row["start_time_ns"],
        duration_ms=(row["end_time_ns"] - row["start_time_ns"]) / 1e6,
        status=status,  # type: ignore[arg-type]
        status_message=row["status_message"],
        attributes=row["attributes"] or {},
        events=row["events"] or [],
        links=row["links"] or [],
        resource=row["resource"] or {},
    )


@router.get("/models", response_model=list[r.Model], summary="Models and versions that sent predictions")
def get_models(*, principal: Reader, storage: StorageDep, window: TimeWindow) -> list[r.Model]:
    rows = _read(storage, list_models, principal.org_id, window)
    return [
        r.Model(
            name=row["model_name"],
            version=row["model_version"],
            environment=row["environment"],
            framework=row["framework"],
            model_class=row["model_class"],
            task=row["task"],
            predictions=row["predictions"],
            rows=row["rows"],
            errors=row["errors"],
            labelled_rows=row["labelled_rows"],
            label_coverage=min(1.0, row["labelled_rows"] / row["rows"]) if row["rows"] else 0.0,
            first_seen=s.to_time(row["first_seen_ns"]),
            last_seen=s.to_time(row["last_seen_ns"]),
        )
        for row in rows
    ]


@router.get("/predictions", response_model=r.Page[r.Prediction], summary="Predictions, newest first")
def get_predictions(
    *,
    principal: Reader,
    storage: StorageDep,
    model: str | None = None,
    version: str | None = None,
    environment: str | None = None,
    # plain parameters, not a TimeWindow: a dependency's parameters come after the route's own
    # in the OpenAPI document, which lists since and until before labelled and error
    since: Since = None,
    until: Until = None,
    labelled: Annotated[bool | None, Query(description="true: only labelled; false: only unlabelled")] = None,
    error: Annotated[
        bool | None, Query(description="true: only calls that raised; false: only good ones")
    ] = None,
    page: PageOf,
) -> r.Page[r.Prediction]:
    window = _window(since, until)
    where = PredictionFilter(model, version, environment, window, labelled=labelled, error=error)
    rows, next_cursor = _read(storage, list_predictions, principal.org_id, where, page)
    return r.Page(items=tuple(prediction_out(row) for row in rows), next_cursor=next_cursor)


@router.get("/labels", response_model=r.Page[r.Label], summary="Labels and where the join put them")
def get_labels(
    *,
    principal: Reader,
    storage: StorageDep,
    status: Annotated[str | None, Query(description="joined, pending, ambiguous or invalid")] = None,
    model: str | None = None,
    page: PageOf,
) -> r.Page[r.Label]:
    if status is not None and status not in LABEL_STATUSES:
        raise HTTPException(400, f"status must be one of {', '.join(LABEL_STATUSES)}")
    where = LabelFilter(status=status, model=model)
    rows, next_cursor = _read(storage, list_labels, principal.org_id, where, page)
    return r.Page(items=tuple(label_out(row) for row in rows), next_cursor=next_cursor)


@router.get(
    "/traces/{trace_id}",
    response_model=s.Trace,
    summary="A trace with its spans and rows",
    responses=NOT_FOUND,
)
def get_trace_route(*, trace_id: str, principal: Reader, storage: StorageDep) -> s.Trace:
    trace_id = trace_id.lower()
    if not _TRACE_ID.match(trace_id):
        raise HTTPException(400, f"{trace_id!r} is not a trace id (32 hexadecimal digits)")
    trace = _read(storage, get_trace, principal.org_id, trace_id)
    if trace is None:
        raise HTTPException(404, f"no trace {trace_id}")
    return s.Trace(
        trace_id=trace_id,
        spans=[_span_out(row) for row in trace["spans"]],
        predictions=[prediction_out(row) for row in trace["predictions"]],
        labels=[label_out(row) for row in trace["labels"]],
        llm_calls=_rows_out(r.LlmCall, trace["llm_calls"]),
        operations=_rows_out(s.Operation, trace["operations"]),
    )


@router.get("/llm-calls", response_model=r.Page[r.LlmCall], summary="LLM calls, newest first")
def get_llm_calls(
    *,
    principal: Reader,
    storage: StorageDep,
    model: Annotated[str | None, Query(description="request or response model")] = None,
    provider: str | None = None,
    pii: Annotated[bool | None, Query(description="true: personal data found; false: none")] = None,
    injection: Annotated[bool | None, Query(description="true: prompt injection detected")] = None,
    error: Annotated[bool | None, Query(description="true: failed calls only")] = None,
    user_id: Annotated[str | None, Query(description="the end user (enduser.id)")] = None,
    session_id: Annotated[str | None, Query(description="the session (session.id)")] = None,
    service: Annotated[str | None, Query(description="the service (service.name)")] = None,
    risk: Annotated[
        RiskLevel | None, Query(description="this risk level and above (low, medium, high, critical)")
    ] = None,
    window: TimeWindow,
    page: PageOf,
) -> r.Page[r.LlmCall]:
    where = LlmCallFilter(
        model=model,
        provider=provider,
        pii=pii,
        injection=injection,
        error=error,
        user_id=user_id,
        session_id=session_id,
        service=service,
        window=window,
        min_risk=risk,
    )
    rows, next_cursor = _read(storage, list_llm_calls, principal.org_id, where, page)
    return r.Page(items=tuple(_rows_out(r.LlmCall, rows)), next_cursor=next_cursor)


@router.get(
    "/llm-calls/totals",
    response_model=s.LlmCallTotals,
    summary="LLM calls, tokens and cost per user, session, service, model or provider",
)
def get_llm_call_totals(
    *,
    principal: Reader,
    storage: StorageDep,
    group_by: Annotated[
        Literal["user", "session", "service", "model", "provider"], Query(description="what to total by")
    ] = "user",
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
) -> s.LlmCallTotals:
    window = _window(since, until)
    rows = _read(storage, llm_call_totals, principal.org_id, group_by, window=window, limit=limit)
    return s.LlmCallTotals(
        group_by=group_by, since=since, until=until, items=[r.LlmCallTotal(**row) for row in rows]
    )


def _version_out(entry: dict[str, Any]) -> r.VersionMetrics:
    """A version's metrics of the storage's entry (its parts as dicts, its times in ns)."""
    delay, classification, regression = (entry[k] for k in ("label_delay_s", "classification", "regression"))
    parts = ("latency_ms", "label_delay_s", "classification", "regression")
    return r.VersionMetrics(
        **{key: value for key, value in entry.items() if not key.endswith("_ns") and key not in parts},
        latency_ms=r.Latency(**entry["latency_ms"]),
        label_delay_s=r.LabelDelay(**delay) if delay is not None else None,
        classification=r.ClassificationScores(**classification) if classification is not None else None,
        regression=r.RegressionScores(**regression) if regression is not None else None,
        first_seen=s.to_time(entry["first_seen_ns"]),
        last_seen=s.to_time(entry["last_seen_ns"]),
    )


@router.get(
    "/models/{model}/metrics",
    response_model=r.ModelMetrics,
    summary="Metrics of a model per version over a time window",
    responses=NOT_FOUND,
)
def get_metrics(
    *,
    model: str,
    principal: Reader,
    storage: StorageDep,
    version: str | None = None,
    environment: str | None = None,
    since: Since = None,
    until: Until = None,
) -> r.ModelMetrics:
    scope = ModelScope(model, version, environment, _window(since, until))
    if storage.telemetry is not None:
        telemetry = storage.telemetry
        versions = telemetry.model_metrics(principal.org_id, scope)
        named = telemetry.label_status_counts(principal.org_id, model)
        unnamed = telemetry.label_status_counts(principal.org_id, None)
    else:
        with storage.read() as connection:
            versions = model_metrics(connection, principal.org_id, scope)
            named = label_status_counts(connection, principal.org_id, model)
            unnamed = label_status_counts(connection, principal.org_id, None)
    if not versions and not named:
        raise HTTPException(
            404, f"no predictions of model {model!r}" + (f" version {version!r}" if version else "")
        )
    return r.ModelMetrics(
        model=model,
        since=since,
        until=until,
        versions=tuple(_version_out(entry) for entry in versions),
        labels=r.LabelCounts(**named),
        unattributed_labels=r.LabelCounts(**unnamed),
    )
