"""The drift tables: references per model version, and the scores of closed windows; and the
stats samples of a window's stored prediction spans, for a drift check on demand."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...schema import semconv as sc
from ..storage.schema import drift_references, drift_scores, spans
from .reference import Reference, Table, sample_tables

if TYPE_CHECKING:  # the telemetry package imports drift
    from ..telemetry import TelemetryStore

MAX_WINDOW_SPANS = 20_000


def load_reference(connection: Connection, org_id: str, model: str, version: str) -> Reference | None:
    """The model version's reference, or the model's reference for every version, or None."""
    query = sa.select(drift_references.c.model_version, drift_references.c.body).where(
        drift_references.c.org_id == org_id,
        drift_references.c.model_name == model,
        drift_references.c.model_version.in_([version, ""]),
    )
    found = {row.model_version: row.body for row in connection.execute(query)}
    body = found.get(version) or found.get("")
    return Reference.from_json(json.loads(body)) if body is not None else None


def save_reference(
    connection: Connection, org_id: str, model: str, version: str, reference: Reference
) -> None:
    """Store (replace) the reference of ``model`` at ``version`` ('' for every version)."""
    connection.execute(
        drift_references.delete().where(
            drift_references.c.org_id == org_id,
            drift_references.c.model_name == model,
            drift_references.c.model_version == version,
        )
    )
    connection.execute(
        drift_references.insert().values(
            org_id=org_id,
            model_name=model,
            model_version=version,
            source=reference.source,
            rows=reference.rows,
            body=json.dumps(reference.to_json()),
            created_at_ns=time.time_ns(),
        )
    )


def reference_rows(connection: Connection, org_id: str, model: str) -> list[dict[str, Any]]:
    query = sa.select(
        drift_references.c.model_version,
        drift_references.c.source,
        drift_references.c.rows,
        drift_references.c.created_at_ns,
    ).where(drift_references.c.org_id == org_id, drift_references.c.model_name == model)
    return [dict(row._mapping) for row in connection.execute(query)]


def save_scores(connection: Connection, org_id: str, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        judged = time.time_ns()
        connection.execute(
            drift_scores.insert(), [{"org_id": org_id, "judged_at_ns": judged, **row} for row in rows]
        )


def read_scores(
    connection: Connection,
    org_id: str,
    model: str,
    *,
    version: str | None = None,
    since_ns: int | None = None,
    limit: int = 2000,
) -> list[dict[str, Any]]:
    """The model's window scores, newest window first."""
    query = sa.select(drift_scores).where(drift_scores.c.org_id == org_id, drift_scores.c.model_name == model)
    if version is not None:
        query = query.where(drift_scores.c.model_version == version)
    if since_ns is not None:
        query = query.where(drift_scores.c.window_end_ns >= since_ns)
    query = query.order_by(drift_scores.c.judged_at_ns.desc(), drift_scores.c.id).limit(limit)
    return [dict(row._mapping) for row in connection.execute(query)]


def window_tables(
    connection: Connection,
    org_id: str,
    model: str,
    start_ns: int,
    end_ns: int,
    telemetry: TelemetryStore | None = None,
) -> tuple[Table, Table]:
    """The stats samples of the model's stored prediction spans in ``[start, end)`` (bounded);
    read from ``telemetry`` when telemetry lives there (``--telemetry-db``)."""
    if telemetry is not None:
        found = telemetry.prediction_samples(org_id, model, start_ns, end_ns, MAX_WINDOW_SPANS)
    else:
        query = (
            sa.select(spans.c.attributes)
            .where(
                spans.c.org_id == org_id,
                spans.c.aither_kind == sc.SPAN_KIND_PREDICTION,
                spans.c.name == f"predict {model}",
                spans.c.start_time_ns >= start_ns,
                spans.c.start_time_ns < end_ns,
            )
            .order_by(spans.c.start_time_ns)
            .limit(MAX_WINDOW_SPANS)
        )
        found = [attributes for (attributes,) in connection.execute(query)]
    inputs: Table = {}
    outputs: Table = {}
    for attributes in found:
        tables = sample_tables(attributes) if sc.ML_FEATURES_STATS_SAMPLE in attributes else None
        if tables is None:
            continue
        for target, table in zip((inputs, outputs), tables, strict=True):
            for column, values in table.items():
                target.setdefault(column, []).extend(values)
    return inputs, outputs
