"""Drift under ``/api/v1``: a model's drift scores per window, and its references.

Reading needs ``read``; setting a reference needs ``write`` (the SDK's key: ``aither.set_reference``)
or ``admin``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import defaultdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field, model_validator
from starlette.concurrency import run_in_threadpool

from ..auth import SCOPE_ADMIN, SCOPE_WRITE, Principal
from ..drift import monitor_for
from ..drift import store as drift_store
from ..drift.reference import build, input_table, output_table
from . import schemas as s
from .deps import Reader, StorageDep, caller
from .responses import AUTHENTICATED, QUERY, WITH_BODY, creates

# drift's state is relational wherever telemetry lives; a reference from a time window reads
# the stored samples from the telemetry store when telemetry lives there (--telemetry-db)
router = APIRouter(prefix="/api/v1", tags=["drift"], responses=AUTHENTICATED)
Writer = Annotated[Principal, Depends(caller(SCOPE_WRITE, SCOPE_ADMIN))]
ModelName = Annotated[str, Path(max_length=200, description="the model's name, as wrapped")]
MAX_REFERENCE_ROWS = 100_000


class FeatureScore(BaseModel):
    """One column in one window."""

    feature: str
    side: Literal["input", "output", "performance", "outliers", "embedding"]
    kind: str
    score: float | None = Field(
        description="PSI for a column; the metric for performance; the rate for outliers"
    )
    drifted: bool
    rows: int
    details: dict[str, Any] = Field(
        description="every method's score (psi, kl, js, wasserstein, ks, chi2) and more"
    )


class DriftWindow(BaseModel):
    version: str
    environment: str
    start: dt.datetime
    end: dt.datetime
    drifted: list[str] = Field(description="the columns that drifted, largest PSI first")
    features: list[FeatureScore]


class ReferenceInfo(BaseModel):
    version: str = Field(description="'' for every version of the model")
    source: Literal["first_rows", "dataset", "window"]
    rows: int
    created: dt.datetime


class ModelDrift(BaseModel):
    """A model's drift: its references, and the scores of its latest windows, newest first."""

    model: str
    references: list[ReferenceInfo]
    windows: list[DriftWindow]


class ReferenceIn(BaseModel):
    """A reference: rows of a data set (``columns`` + ``rows``, optional ``outputs``), or a time
    window of the model's own stored samples (``start`` + ``end``)."""

    version: str | None = Field(None, max_length=100, description="None: every version")
    columns: list[str] | None = Field(None, max_length=1000)
    rows: list[list[Any]] | None = Field(None, max_length=MAX_REFERENCE_ROWS)
    outputs: list[Any] | None = Field(None, max_length=MAX_REFERENCE_ROWS)
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ReferenceIn:
        data = self.rows is not None
        window = self.start is not None or self.end is not None
        if data == window:
            raise ValueError("send either columns and rows (a data set) or start and end (a time window)")
        if data and not self.columns:
            raise ValueError("rows need their columns")
        if window and (self.start is None or self.end is None or self.end <= self.start):
            raise ValueError("a time window needs start < end")
        if data and self.outputs is not None and len(self.outputs) != len(self.rows or []):
            raise ValueError("outputs must have one value per row")
        return self


class ReferenceOut(BaseModel):
    model: str
    version: str
    source: str
    rows: int
    columns: list[str]


def _ns(value: dt.datetime) -> int:
    ns = s.to_ns(value)  # clamped to what the 64-bit time columns hold
    assert ns is not None
    return ns


@router.get(
    "/models/{name}/drift",
    response_model=ModelDrift,
    summary="A model's drift scores per window",
    responses=QUERY,
)
def model_drift(
    *,
    name: ModelName,
    principal: Reader,
    storage: StorageDep,
    version: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[s.IsoTime, Query(description="windows that ended at or after this")] = None,
    windows: Annotated[int, Query(ge=1, le=500)] = 20,
) -> ModelDrift:
    with storage.read() as connection:
        rows = drift_store.read_scores(
            connection, principal.org_id, name, version=version, since_ns=_ns(since) if since else None
        )
        references = drift_store.reference_rows(connection, principal.org_id, name)
    grouped: dict[tuple[int, str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        labelled = "labels" if row["side"] == "performance" and row["kind"] == "labelled" else "rows"
        key = (row["judged_at_ns"], labelled, row["model_version"], row["environment"])
        grouped[key].append(row)
    out: list[DriftWindow] = []
    for (_, _, ver, env), members in sorted(grouped.items(), key=lambda item: -item[0][0])[:windows]:
        start, end = members[0]["window_start_ns"], members[0]["window_end_ns"]
        features = [
            FeatureScore(
                feature=r["feature"],
                side=r["side"],
                kind=r["kind"],
                score=r["score"],
                drifted=bool(r["drifted"]),
                rows=r["rows"],
                details=json.loads(r["details"]),
            )
            for r in sorted(
                members, key=lambda r: -(r["score"] or 0.0) if r["side"] in ("input", "output") else 0.0
            )
        ]
        drifted = [f.feature for f in features if f.drifted and f.side in ("input", "output")]
        out.append(
            DriftWindow(
                version=ver,
                environment=env,
                start=s.to_time(start),
                end=s.to_time(end),
                drifted=drifted,
                features=features,
            )
        )
    return ModelDrift(
        model=name,
        references=[
            ReferenceInfo(
                version=r["model_version"],
                source=r["source"],
                rows=r["rows"],
                created=s.to_time(r["created_at_ns"]),
            )
            for r in references
        ],
        windows=out,
    )


@creates(
    router,
    "/models/{name}/reference",
    ReferenceOut,
    "Set a model's drift reference (a data set's rows, or a time window)",
    {**WITH_BODY, **QUERY},
)
async def set_reference(
    *, name: ModelName, body: ReferenceIn, principal: Writer, storage: StorageDep
) -> ReferenceOut:
    """Builds the reference's summaries and bounded sample; the rows themselves are not kept.

    The model's open windows start again against the new reference.
    """
    monitor = monitor_for(storage.engine)
    settings = monitor.settings
    version = body.version or ""

    def make() -> ReferenceOut:
        if body.rows is not None:
            inputs = input_table(body.columns or [], body.rows)
            outputs = output_table(body.outputs) if body.outputs is not None else {}
            source = "dataset"
        else:
            assert body.start is not None and body.end is not None  # the validator checked
            with storage.read() as connection:
                inputs, outputs = drift_store.window_tables(
                    connection, principal.org_id, name, _ns(body.start), _ns(body.end), storage.telemetry
                )
            source = "window"
        if not any(inputs.values()):
            raise HTTPException(  # FastAPI's 422 shape, as the OpenAPI document declares
                422,
                [
                    {
                        "loc": ["body"],
                        "msg": "no rows to build a reference from (for a window: no stats samples in it)",
                        "type": "value_error",
                    }
                ],
            )
        reference = build(
            inputs, outputs, source=source, bins=settings.bins, reservoir_rows=settings.reservoir_rows
        )
        storage.writer.run(
            lambda connection: drift_store.save_reference(
                connection, principal.org_id, name, version, reference
            )
        )
        return ReferenceOut(
            model=name, version=version, source=source, rows=reference.rows, columns=list(reference.inputs)
        )

    result: ReferenceOut = await run_in_threadpool(make)
    monitor.forget_reference(principal.org_id, name)
    return result


class JudgeStatus(BaseModel):
    """The judge model's work since the server started (its own cost included)."""

    configured: bool
    model: str | None = None
    offered: int = 0
    dropped: int = Field(default=0, description="offers refused because the queue was full")
    judged: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = Field(default=0.0, description="the judge's own cost, at the configured prices")
    recent_errors: list[str] = Field(default_factory=list)


@router.get("/drift/judge", response_model=JudgeStatus, summary="The judge model's counts and cost")
def judge_status(*, principal: Reader, storage: StorageDep) -> JudgeStatus:
    judge = monitor_for(storage.engine).judge()
    if judge is None:
        return JudgeStatus(configured=False)
    counts = dataclasses.asdict(judge.counts)  # JudgeStatus's fields, but errors: recent_errors
    return JudgeStatus(configured=True, model=judge.model, recent_errors=counts.pop("errors"), **counts)
