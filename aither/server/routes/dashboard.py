"""Read endpoints the dashboard needs beyond the query API: summaries and time series.

=================================  =============================================================
route                              returns
=================================  =============================================================
``GET /dashboard/overview``        every model version and LLM model: volume, errors, latency
                                   p50/p99, cost, and a series per bucket for the sparklines
``GET /dashboard/series``          one model's (or the LLM calls') series per time bucket:
                                   volume, errors, latency, cost, tokens, labelled rows, accuracy
``GET /dashboard/latest``          the newest data's time per table: a cheap "anything new?"
=================================  =============================================================

Every query is a GROUP BY limited to the window on an indexed time column
(``(org_id, model_name, model_version, time_ns, latency_ms)`` for predictions, ``(org_id,
time_ns)`` for LLM calls). The detection engine's per-minute rollups can answer the same
shapes later. The window defaults to the last 24 hours and is cut into ``buckets`` buckets.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, BeforeValidator, Field
from sqlalchemy.engine import Connection

from ..analysis.metrics import _nan_to_none, _quantiles_by_version
from ..storage.queries import Window
from ..storage.schema import label_rows, llm_calls, predictions, spans
from . import schemas as s
from .deps import Reader, StorageDep
from .responses import QUERY

router = APIRouter(prefix="/api/v1/dashboard", tags=["dashboard"], responses=QUERY)

DEFAULT_RANGE_NS = 24 * 3600 * 1_000_000_000
_PERCENTILES = (0.5, 0.99)
Since = Annotated[
    dt.datetime | None,
    BeforeValidator(s.iso_time_only),
    Query(description="ISO 8601; default: 24 hours before until"),
]
Until = Annotated[
    dt.datetime | None, BeforeValidator(s.iso_time_only), Query(description="ISO 8601; default: now")
]
Buckets = Annotated[int, Query(ge=1, le=500, description="how many time buckets to cut the window in")]


class Point(BaseModel):
    """One time bucket (``t`` is its start)."""

    t: dt.datetime
    count: int
    errors: int
    latency_ms: float | None = Field(description="mean latency in the bucket")
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    labelled_rows: int | None = Field(None, description="predicted rows of the bucket with a label")
    correct_rows: int | None = Field(None, description="labelled rows whose predicted class was right")
    abs_error: float | None = Field(None, description="mean |prediction - label| of regression rows")


class ModelSummary(BaseModel):
    name: str
    version: str | None
    environment: str | None
    task: str | None
    predictions: int
    errors: int
    error_rate: float
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    last_seen: dt.datetime
    series: list[Point]


class LlmSummary(BaseModel):
    model: str = Field(description="response model, else request model")
    provider: str | None
    calls: int
    errors: int
    error_rate: float
    cost_usd: float
    input_tokens: int
    output_tokens: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    pii_flagged: int
    injection_flagged: int
    last_seen: dt.datetime
    series: list[Point]


class Overview(BaseModel):
    since: dt.datetime
    until: dt.datetime
    bucket_seconds: float
    models: list[ModelSummary]
    llm: list[LlmSummary]


class Series(BaseModel):
    source: Literal["predictions", "llm"]
    since: dt.datetime
    until: dt.datetime
    bucket_seconds: float
    points: list[Point]


class Latest(BaseModel):
    """Newest times (ns) per table; the dashboard reloads its data when one changes."""

    spans_ns: int | None
    predictions_ns: int | None
    llm_calls_ns: int | None
    version: str = Field(description="all of the above in one string, to compare")


def _range(since: dt.datetime | None, until: dt.datetime | None, buckets: int) -> tuple[int, int, int]:
    asked_until, asked_since = s.to_ns(until), s.to_ns(since)
    until_ns = asked_until if asked_until is not None else time.time_ns()
    # the default start stays inside the 64-bit time columns (an until in 1677 has none before)
    since_ns = asked_since if asked_since is not None else max(until_ns - DEFAULT_RANGE_NS, -(2**63))
    if since_ns >= until_ns:
        raise HTTPException(400, "since must be before until")
    bucket_ns = max(1, -(-(until_ns - since_ns) // buckets))
    return since_ns, until_ns, bucket_ns


def _points(rows: dict[int, dict[str, Any]], since_ns: int, bucket_ns: int, buckets: int) -> list[Point]:
    """Every bucket of the window, empty ones included, so sparklines share one time axis."""
    out = []
    for index in range(buckets):
        values: dict[str, Any] = {"count": 0, "errors": 0, "latency_ms": None}
        values.update((key, value) for key, value in rows.get(index, {}).items() if not key.startswith("_"))
        out.append(Point(t=s.to_time(since_ns + index * bucket_ns), **values))
    return out


def _bucket(column: Any, since_ns: int, bucket_ns: int) -> Any:
    # integer division on both SQLite and PostgreSQL: the bucket's index in the window
    return ((column - since_ns) // sa.literal(bucket_ns, sa.BigInteger)).label("bucket")


def _prediction_series(
    connection: Connection, clauses: list[Any], group: list[Any], since_ns: int, bucket_ns: int
) -> dict[tuple[Any, ...], dict[int, dict[str, Any]]]:
    """Per group and bucket: count, errors, mean latency, and (``_``-named) what the totals need."""
    p = predictions.c
    bucket = _bucket(p.time_ns, since_ns, bucket_ns)
    query = (
        sa.select(
            *group,
            bucket,
            sa.func.count(),
            sa.func.sum(sa.case((p.is_error, 1), else_=0)),
            sa.func.avg(p.latency_ms),
            sa.func.max(p.time_ns),
            sa.func.max(p.environment),
            sa.func.max(p.task),
        )
        .where(*clauses)
        .group_by(*group, bucket)
    )
    out: dict[tuple[Any, ...], dict[int, dict[str, Any]]] = {}
    width = len(group)
    for row in connection.execute(query):
        index, count, errors, latency, last, environment, task = row[width:]
        out.setdefault(tuple(row[:width]), {})[int(index)] = {
            "count": int(count),
            "errors": int(errors or 0),
            "latency_ms": float(latency) if latency is not None else None,
            "_last": int(last),
            "_environment": environment,
            "_task": task,
        }
    return out


def _llm_model() -> Any:
    c = llm_calls.c
    return sa.func.coalesce(c.response_model, c.request_model, "(unknown)")


def _llm_series(
    connection: Connection, clauses: list[Any], grouped: bool, since_ns: int, bucket_ns: int
) -> dict[Any, dict[int, dict[str, Any]]]:
    c = llm_calls.c
    bucket = _bucket(c.time_ns, since_ns, bucket_ns)
    key = _llm_model() if grouped else sa.literal("all")
    query = (
        sa.select(
            key.label("key"),
            bucket,
            sa.func.count(),
            sa.func.sum(sa.case((c.is_error, 1), else_=0)),
            sa.func.avg(c.latency_ms),
            sa.func.sum(c.cost_usd),
            sa.func.sum(c.input_tokens),
            sa.func.sum(c.output_tokens),
            sa.func.max(c.time_ns),
            sa.func.max(c.provider),
            sa.func.sum(sa.case((c.pii_detected.is_(True), 1), else_=0)),
            sa.func.sum(sa.case((c.injection_detected.is_(True), 1), else_=0)),
        )
        .where(*clauses)
        .group_by(key, bucket)
    )
    out: dict[Any, dict[int, dict[str, Any]]] = {}
    for row in connection.execute(query):
        name, index, count, errors, latency, cost, tokens_in, tokens_out, last, provider, pii, injection = row
        out.setdefault(name, {})[int(index)] = {
            "count": int(count),
            "errors": int(errors or 0),
            "latency_ms": float(latency) if latency is not None else None,
            "cost_usd": float(cost or 0.0),
            "input_tokens": int(tokens_in or 0),
            "output_tokens": int(tokens_out or 0),
            "_last": int(last),
            "_provider": provider,
            "_pii": int(pii or 0),
            "_injection": int(injection or 0),
        }
    return out


def _total(buckets: dict[int, dict[str, Any]], field: str) -> Any:
    return sum(entry[field] for entry in buckets.values())


def _latest(buckets: dict[int, dict[str, Any]], field: str) -> Any:
    """``field`` of the newest bucket that has one."""
    return next((buckets[i][field] for i in sorted(buckets, reverse=True) if buckets[i][field]), None)


@router.get("/overview", response_model=Overview, summary="Models and LLM models with sparklines")
def get_overview(
    *,
    principal: Reader,
    storage: StorageDep,
    since: Since = None,
    until: Until = None,
    buckets: Buckets = 24,
    only: Annotated[
        Literal["models", "llm"] | None, Query(description="only the ML models, or only the LLM models")
    ] = None,
) -> Overview:
    since_ns, until_ns, bucket_ns = _range(since, until, buckets)
    window = Window(since_ns, until_ns)
    p = predictions.c
    c = llm_calls.c
    p_clauses: list[Any] = [p.org_id == principal.org_id, *window.clauses(p.time_ns)]
    c_clauses: list[Any] = [c.org_id == principal.org_id, *window.clauses(c.time_ns)]
    # the totals are the sums of the series' buckets: one GROUP BY per table, not two
    series: dict[tuple[Any, ...], dict[int, dict[str, Any]]] = {}
    llm_series: dict[Any, dict[int, dict[str, Any]]] = {}
    latency: dict[Any, list[float]] = {}
    llm_latency: dict[Any, list[float]] = {}
    with storage.read() as connection:
        if only != "llm":
            series = _prediction_series(
                connection, p_clauses, [p.model_name, p.model_version], since_ns, bucket_ns
            )
            # one percentile pass over the covering index, keyed by "model\0version"
            pair = p.model_name + "\x00" + sa.func.coalesce(p.model_version, "")
            latency = _quantiles_by_version(connection, pair, p.latency_ms, p_clauses, _PERCENTILES)
        if only != "models":
            llm_series = _llm_series(connection, c_clauses, True, since_ns, bucket_ns)
            llm_latency = _quantiles_by_version(
                connection, _llm_model(), c.latency_ms, c_clauses, _PERCENTILES
            )
    models = []
    for (name, version), rows in sorted(series.items(), key=lambda item: (item[0][0], item[0][1] or "")):
        p50, p99 = _nan_to_none(latency.get(f"{name}\x00{version or ''}", [float("nan")] * 2))
        count, errors = _total(rows, "count"), _total(rows, "errors")
        models.append(
            ModelSummary(
                name=name,
                version=version,
                environment=_latest(rows, "_environment"),
                task=_latest(rows, "_task"),
                predictions=count,
                errors=errors,
                error_rate=errors / count if count else 0.0,
                latency_p50_ms=p50,
                latency_p99_ms=p99,
                last_seen=s.to_time(max(entry["_last"] for entry in rows.values())),
                series=_points(rows, since_ns, bucket_ns, buckets),
            )
        )
    llm = []
    for name, rows in sorted(llm_series.items()):
        p50, p99 = _nan_to_none(llm_latency.get(name, [float("nan")] * 2))
        count, errors = _total(rows, "count"), _total(rows, "errors")
        llm.append(
            LlmSummary(
                model=name,
                provider=_latest(rows, "_provider"),
                calls=count,
                errors=errors,
                error_rate=errors / count if count else 0.0,
                cost_usd=_total(rows, "cost_usd"),
                input_tokens=_total(rows, "input_tokens"),
                output_tokens=_total(rows, "output_tokens"),
                latency_p50_ms=p50,
                latency_p99_ms=p99,
                pii_flagged=_total(rows, "_pii"),
                injection_flagged=_total(rows, "_injection"),
                last_seen=s.to_time(max(entry["_last"] for entry in rows.values())),
                series=_points(rows, since_ns, bucket_ns, buckets),
            )
        )
    return Overview(
        since=s.to_time(since_ns),
        until=s.to_time(until_ns),
        bucket_seconds=bucket_ns / 1e9,
        models=models,
        llm=llm,
    )


@router.get("/series", response_model=Series, summary="A time series of one model, or of the LLM calls")
def get_series(
    *,
    principal: Reader,
    storage: StorageDep,
    source: Literal["predictions", "llm"] = "predictions",
    model: Annotated[str | None, Query(description="model name (predictions) or LLM model")] = None,
    version: str | None = None,
    since: Since = None,
    until: Until = None,
    buckets: Buckets = 60,
) -> Series:
    since_ns, until_ns, bucket_ns = _range(since, until, buckets)
    window = Window(since_ns, until_ns)
    with storage.read() as connection:
        if source == "llm":
            c = llm_calls.c
            clauses: list[Any] = [c.org_id == principal.org_id, *window.clauses(c.time_ns)]
            if model is not None:
                clauses.append(sa.or_(c.request_model == model, c.response_model == model))
            rows = _llm_series(connection, clauses, False, since_ns, bucket_ns).get("all", {})
        else:
            p = predictions.c
            clauses = [p.org_id == principal.org_id, *window.clauses(p.time_ns)]
            if model is not None:
                clauses.append(p.model_name == model)
            if version is not None:
                clauses.append(p.model_version == version)
            rows = _prediction_series(connection, clauses, [], since_ns, bucket_ns).get((), {})
            if model is not None:
                _add_quality(connection, rows, principal.org_id, model, version, window, since_ns, bucket_ns)
    return Series(
        source=source,
        since=s.to_time(since_ns),
        until=s.to_time(until_ns),
        bucket_seconds=bucket_ns / 1e9,
        points=_points(rows, since_ns, bucket_ns, buckets),
    )


def _add_quality(
    connection: Connection,
    rows: dict[int, dict[str, Any]],
    org_id: str,
    model: str,
    version: str | None,
    window: Window,
    since_ns: int,
    bucket_ns: int,
) -> None:
    """Labelled rows, right classes and mean absolute error per bucket of the prediction's time."""
    lr = label_rows.c
    clauses: list[Any] = [lr.org_id == org_id, lr.model_name == model, *window.clauses(lr.pred_time_ns)]
    if version is not None:
        clauses.append(lr.model_version == version)
    bucket = _bucket(lr.pred_time_ns, since_ns, bucket_ns)
    query = (
        sa.select(
            bucket,
            sa.func.count(),
            sa.func.sum(
                sa.case((sa.and_(lr.pred_class.is_not(None), lr.pred_class == lr.label_class), 1), else_=0)
            ),
            sa.func.avg(sa.func.abs(lr.pred_num - lr.label_num)),
        )
        .where(*clauses)
        .group_by(bucket)
    )
    for index, count, correct, abs_error in connection.execute(query):
        entry = rows.setdefault(int(index), {"count": 0, "errors": 0, "latency_ms": None})
        entry["labelled_rows"] = int(count)
        entry["correct_rows"] = int(correct or 0)
        entry["abs_error"] = float(abs_error) if abs_error is not None else None


@router.get("/latest", response_model=Latest, summary="The newest data's time: poll this, then reload")
def get_latest(*, principal: Reader, storage: StorageDep) -> Latest:
    # each is a MAX over an (org_id, time) index: one index seek, whatever the table's size
    with storage.read() as connection:
        newest = [
            connection.execute(
                sa.select(sa.func.max(column)).where(table.c.org_id == principal.org_id)
            ).scalar()
            for table, column in (
                (spans, spans.c.start_time_ns),
                (predictions, predictions.c.time_ns),
                (llm_calls, llm_calls.c.time_ns),
            )
        ]
    return Latest(
        spans_ns=newest[0],
        predictions_ns=newest[1],
        llm_calls_ns=newest[2],
        version=".".join(str(value or 0) for value in newest),
    )
