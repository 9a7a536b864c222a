"""Detection under ``/api/v1``: anomalies (list, get, acknowledge, resolve), rules, stats, prune.

Reading needs ``read``; acknowledging and resolving need ``read`` or ``admin`` (whoever can see
an anomaly can take it); changing rules and pruning need ``admin``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, HTTPException, Path, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ...exceptions import ConfigError
from ...schema.detection_results import Anomaly, AnomalyStatus, LlmSummary, ModelSummary, PruneResult, Summary
from ...schema.results import field_names
from ...schema.vocabulary import AnomalyType, DetectionMethod, Severity
from ..detection import anomalies as store
from ..detection.retention import prune
from ..detection.rules import parse_duration
from ..detection.stats import summary
from ..storage import Storage
from . import schemas as s
from .deps import Admin, Reader, ReaderOrAdmin, StorageDep
from .query import Since, Until
from .responses import AUTHENTICATED, NOT_FOUND, QUERY, WITH_BODY

router = APIRouter(prefix="/api/v1", tags=["detection"], responses=AUTHENTICATED)
_F = TypeVar("_F", bound=Callable[..., Any])
AnomalyId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the anomaly's id")]


class RulesOut(BaseModel):
    """The rules in force for the organisation, with the five classic knobs."""

    cost_threshold_usd: float | None
    latency_threshold_ms: float | None
    error_rate_threshold: float | None
    token_threshold: float | None
    spike_multiplier: float | None
    quiet_period_seconds: float
    rules: list[dict[str, Any]]


class PruneRequest(BaseModel):
    older_than: str = Field(description="delete telemetry older than this: 7d, 12h, 30d", examples=["7d"])


def anomaly_out(row: dict[str, Any]) -> Anomaly:
    read = {"anomaly_type", "severity", "detection_method", "evidence"}
    return Anomaly(
        **{key: row[key] for key in field_names(Anomaly) if key in row and key not in read},
        anomaly_type=AnomalyType(row["anomaly_type"]),
        severity=Severity(row["severity"]),
        detection_method=DetectionMethod(row["detection_method"]),
        first_seen=s.to_time(row["first_seen_ns"]),
        last_seen=s.to_time(row["last_seen_ns"]),
        updated_at=s.to_time(row["updated_at_ns"]),
        acknowledged_at=s.to_time(row["acknowledged_at_ns"]),
        resolved_at=s.to_time(row["resolved_at_ns"]),
        evidence=json.loads(row["evidence"]),
    )


def _found(row: dict[str, Any] | None, anomaly_id: int) -> Anomaly:
    """The anomaly of ``row``; 404 when there is none (another organisation's is none too)."""
    if row is None:
        raise HTTPException(404, f"no anomaly {anomaly_id}")
    return anomaly_out(row)


@router.get("/anomalies", response_model=list[Anomaly], summary="Anomalies, newest first", responses=QUERY)
def list_anomalies(
    *,
    principal: Reader,
    storage: StorageDep,
    since: Since = None,
    severity: Annotated[Severity | None, Query(description="this severity and above")] = None,
    status: AnomalyStatus | None = None,
    rule: str | None = None,
    updated_since: Annotated[
        s.IsoTime, Query(description="only anomalies changed after this time, oldest change first")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[Anomaly]:
    with storage.read() as connection:
        rows = store.list_rows(
            connection,
            principal.org_id,
            since_ns=s.to_ns(since),
            updated_since_ns=s.to_ns(updated_since),
            severity=severity,
            status=status,
            rule=rule,
            limit=limit,
        )
    if updated_since is not None:
        rows.reverse()
    return [anomaly_out(row) for row in rows]


def _anomaly_action(verb: str, summary: str) -> Callable[[_F], _F]:
    """The route of ``POST /anomalies/{anomaly_id}/<verb>``: a change that answers the anomaly."""
    return router.post(
        f"/anomalies/{{anomaly_id}}/{verb}", response_model=Anomaly, summary=summary, responses=NOT_FOUND
    )


@router.get("/anomalies/{anomaly_id}", response_model=Anomaly, summary="One anomaly", responses=NOT_FOUND)
def get_anomaly(*, anomaly_id: AnomalyId, principal: Reader, storage: StorageDep) -> Anomaly:
    with storage.read() as connection:
        row = store.get(connection, principal.org_id, anomaly_id)
    return _found(row, anomaly_id)


@_anomaly_action("acknowledge", "Acknowledge an anomaly")
async def acknowledge_anomaly(
    *, anomaly_id: AnomalyId, principal: ReaderOrAdmin, storage: StorageDep
) -> Anomaly:
    """It stays open and keeps counting, marked as seen; a resolved one is returned as it is."""
    now = time.time_ns()
    row = await run_in_threadpool(
        storage.writer.run, lambda c: store.acknowledge(c, principal.org_id, anomaly_id, now)
    )
    return _found(row, anomaly_id)


@_anomaly_action("resolve", "Resolve an anomaly")
async def resolve_anomaly(*, anomaly_id: AnomalyId, principal: ReaderOrAdmin, storage: StorageDep) -> Anomaly:
    """Closes it now; if the condition persists, the next hit opens a new anomaly."""
    now = time.time_ns()

    def resolve(connection: Any) -> tuple[dict[str, Any] | None, Any]:
        row = store.get(connection, principal.org_id, anomaly_id)
        if row is None or row["status"] == "resolved":
            return row, None
        notice = store.resolve(connection, row, now)
        return store.get(connection, principal.org_id, anomaly_id), notice

    row, notice = await run_in_threadpool(storage.writer.run, resolve)
    anomaly = _found(row, anomaly_id)
    storage.detection.submit(notice)
    return anomaly


@router.get("/rules", response_model=RulesOut, summary="The detection rules in force")
def get_rules(*, principal: Reader, storage: StorageDep) -> RulesOut:
    return RulesOut(**storage.detection.rules_for(principal.org_id).to_json())


@router.put("/rules", response_model=RulesOut, summary="Change detection rules (admin)", responses=WITH_BODY)
def put_rules(
    *,
    principal: Admin,
    storage: StorageDep,
    settings: Annotated[
        dict[str, Any],
        Body(
            description="the rules file's shape as JSON: the five knobs, quiet_period, and "
            '"rules": {"high_latency": {"threshold": 2000, "window": "5m", "enabled": true, '
            '"severity": "high", "service": "...", "model": "...", "environment": "..."}}; '
            "applied on top of the rules in force and stored, so they outlast a restart (the rules "
            "file stays the base)",
            examples=[{"latency_threshold_ms": 2000, "rules": {"high_request_rate": {"enabled": False}}}],
        ),
    ],
) -> RulesOut:
    current = storage.detection.rules_for(principal.org_id)
    try:
        updated = current.updated(settings, where="rules")
    except ConfigError as exc:
        raise HTTPException(400, str(exc)) from None
    storage.writer.run(lambda connection: storage.detection.set_rules(principal.org_id, updated, connection))
    return RulesOut(**updated.to_json())


@router.get(
    "/stats",
    response_model=Summary,
    summary="LLM calls and models over a window, from rollups",
    responses=QUERY,
)
def get_stats(*, principal: Reader, storage: StorageDep, since: Since = None, until: Until = None) -> Summary:
    asked_until, asked_since = s.to_ns(until), s.to_ns(since)
    until_ns = asked_until if asked_until is not None else time.time_ns()
    since_ns = asked_since if asked_since is not None else max(until_ns - 24 * 3600 * 1_000_000_000, -(2**63))
    if since_ns >= until_ns:
        raise HTTPException(400, "since must be before until")
    with storage.read() as connection:
        result = summary(connection, principal.org_id, since_ns, until_ns, storage.telemetry)
    return Summary(
        since=s.to_time(since_ns),
        until=s.to_time(until_ns),
        llm=LlmSummary(**result["llm"]),
        anomalies=result["anomalies"],
        open_anomalies=result["open_anomalies"],
        models=tuple(ModelSummary(**entry) for entry in result["models"]),
    )


@router.post(
    "/prune",
    response_model=PruneResult,
    summary="Delete telemetry older than a duration (admin)",
    responses=WITH_BODY,
)
async def post_prune(*, body: PruneRequest, principal: Admin, storage: StorageDep) -> PruneResult:
    """Deletes the organisation's rows in batches through the writer; ingest goes on meanwhile."""
    try:
        seconds = parse_duration(body.older_than, "older_than")
    except ConfigError as exc:
        raise HTTPException(400, str(exc)) from None
    cutoff = time.time_ns() - int(seconds * 1e9)
    result = await run_in_threadpool(_prune, storage, cutoff, principal.org_id)
    return PruneResult(cutoff=s.to_time(cutoff), deleted=result)


def _prune(storage: Storage, cutoff: int, org_id: str) -> dict[str, int]:
    return prune(storage, cutoff, org_id=org_id).deleted
