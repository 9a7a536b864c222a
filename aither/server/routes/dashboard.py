"""Read endpoints the dashboard needs beyond the query API: summaries and time series.

=================================  =============================================================
route                              returns
=================================  =============================================================
``GET /dashboard/overview``        every model version and LLM model: volume, errors, latency
                                   p50/p99, cost, and a series per bucket for the sparklines
``GET /dashboard/series``          one model's (or the LLM calls') series per time bucket:
                                   volume, errors, latency, cost, tokens, labelled rows, accuracy
``GET /dashboard/latest``          the newest data's time per table: a cheap "anything new?";
                                   and the server's retention setting
=================================  =============================================================

The summaries and series read the per-minute rollups that ingest keeps (``rollups``, one
``GROUP BY`` over its ``(org_id, minute_ns)`` index; see :mod:`aither.server.dashboard.queries`),
so their cost follows the number of minutes and models in the window, not of rows; latency
percentiles come from the rollups' histograms (within ~19 %). The accuracy series reads the
label-join rollups (:mod:`aither.server.storage.label_rollups`) the same way. The window
defaults to the last 24 hours and is cut into ``buckets`` buckets; rollups hold whole minutes.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from ..dashboard import queries as q
from ..storage import Storage
from ..storage.window import Window
from . import schemas as s
from .deps import Reader, StorageDep
from .params import IsoTime
from .responses import QUERY

router = APIRouter(prefix="/api/v1/dashboard", tags=["dashboard"], responses=QUERY)

DEFAULT_RANGE_NS = 24 * 3600 * 1_000_000_000
_PERCENTILES = (0.5, 0.99)
Since = Annotated[IsoTime, Query(description="ISO 8601; default: 24 hours before until")]
Until = Annotated[IsoTime, Query(description="ISO 8601; default: now")]
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
    retention_s: float | None = Field(
        None, description="the server's retention (--retention) in seconds; None: data is kept"
    )


@contextmanager
def _source(storage: Storage) -> Iterator[q.Source]:
    """The dashboard's reads: from the telemetry store when telemetry lives there
    (``--telemetry-db``, its rollups and rows), else on a relational connection."""
    if storage.telemetry is not None:
        yield storage.telemetry
    else:
        with storage.read() as connection:
            yield q.RelationalSource(connection)


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


def _points_of(rows: dict[int, q.Bucket], llm: bool) -> dict[int, dict[str, Any]]:
    return {index: bucket.point(llm) for index, bucket in rows.items()}


def _last_seen(
    newest_ns: int | None, rows: dict[int, q.Bucket], since_ns: int, bucket_ns: int
) -> dt.datetime:
    # without a raw row in the window (its first minute began before since), the bucket's start
    return s.to_time(newest_ns if newest_ns is not None else since_ns + max(rows) * bucket_ns)


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
    org = principal.org_id
    models = []
    llm = []
    # the rollups answer the sums, series and percentiles; a seek per model adds its newest row
    with _source(storage) as reads:
        if only != "llm":
            series = reads.dashboard_buckets(
                q.BucketQuery(
                    org, "prediction", since_ns, until_ns, bucket_ns, by_model=True, by_version=True
                )
            )
            histograms = reads.dashboard_histograms(org, "prediction", since_ns, until_ns, by_version=True)
            for (name, version), rows in sorted(series.items()):
                count = sum(b.count for b in rows.values())
                errors = sum(b.errors for b in rows.values())
                p50, p99 = q.percentiles(histograms.get((name, version), []), _PERCENTILES)
                newest, task = reads.newest_prediction(org, name, version, window)
                environment = next(
                    (rows[i].environment for i in sorted(rows, reverse=True) if rows[i].environment), None
                )
                models.append(
                    ModelSummary(
                        name=name,
                        version=version or None,
                        environment=environment,
                        task=task,
                        predictions=count,
                        errors=errors,
                        error_rate=errors / count if count else 0.0,
                        latency_p50_ms=p50,
                        latency_p99_ms=p99,
                        last_seen=_last_seen(newest, rows, since_ns, bucket_ns),
                        series=_points(_points_of(rows, False), since_ns, bucket_ns, buckets),
                    )
                )
        if only != "models":
            llm_series = reads.dashboard_buckets(
                q.BucketQuery(org, "llm", since_ns, until_ns, bucket_ns, by_model=True, by_version=False)
            )
            llm_histograms = reads.dashboard_histograms(org, "llm", since_ns, until_ns, by_version=False)
            for (name,), rows in sorted(llm_series.items()):
                model = name or "(unknown)"
                count = sum(b.count for b in rows.values())
                errors = sum(b.errors for b in rows.values())
                p50, p99 = q.percentiles(llm_histograms.get((name,), []), _PERCENTILES)
                newest, provider = reads.newest_call(org, model, window)
                llm.append(
                    LlmSummary(
                        model=model,
                        provider=provider,
                        calls=count,
                        errors=errors,
                        error_rate=errors / count if count else 0.0,
                        cost_usd=sum(b.cost_usd for b in rows.values()),
                        input_tokens=sum(b.input_tokens for b in rows.values()),
                        output_tokens=sum(b.output_tokens for b in rows.values()),
                        latency_p50_ms=p50,
                        latency_p99_ms=p99,
                        pii_flagged=sum(b.pii_calls for b in rows.values()),
                        injection_flagged=sum(b.injection_calls for b in rows.values()),
                        last_seen=_last_seen(newest, rows, since_ns, bucket_ns),
                        series=_points(_points_of(rows, True), since_ns, bucket_ns, buckets),
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
    llm = source == "llm"
    with _source(storage) as reads:
        grouped = reads.dashboard_buckets(
            q.BucketQuery(
                principal.org_id,
                "llm" if llm else "prediction",
                since_ns,
                until_ns,
                bucket_ns,
                by_model=False,
                by_version=False,
                model=model,
                version=None if llm else version,
            )
        )
        rows = _points_of(grouped.get((), {}), llm)
        if not llm and model is not None:
            found = reads.quality(principal.org_id, model, version, window, since_ns, bucket_ns)
            q.add_quality(rows, found)
    return Series(
        source=source,
        since=s.to_time(since_ns),
        until=s.to_time(until_ns),
        bucket_seconds=bucket_ns / 1e9,
        points=_points(rows, since_ns, bucket_ns, buckets),
    )


@router.get("/latest", response_model=Latest, summary="The newest data's time: poll this, then reload")
def get_latest(*, principal: Reader, storage: StorageDep, request: Request) -> Latest:
    with _source(storage) as reads:
        newest = reads.newest_times(principal.org_id)
    return Latest(
        spans_ns=newest[0],
        predictions_ns=newest[1],
        llm_calls_ns=newest[2],
        version=".".join(str(value or 0) for value in newest),
        retention_s=request.app.state.settings.retention_s,
    )
