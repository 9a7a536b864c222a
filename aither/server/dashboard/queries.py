"""The dashboard's reads: the per-minute rollups that ingest keeps (table ``rollups``), each
series' newest row, the quality series from the label rows, and the newest time per table.

A range of 7 days over a million rows is ~10,000 minutes per model: the summaries and series
read those (one ``GROUP BY`` over the ``(org_id, minute_ns)`` index) instead of the raw rows,
so a page answers in the same time whatever the table's size. Rollups hold whole minutes: a
range's first and last minute count entirely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..detection.rollups import MINUTE_NS, histogram_quantile
from ..storage.queries import Window
from ..storage.schema import (
    LATENCY_BUCKETS,
    LATENCY_COLUMNS,
    label_rows,
    llm_calls,
    predictions,
    rollups,
    spans,
)


@dataclass
class Bucket:
    """The sums of one group in one time bucket."""

    count: int = 0
    errors: int = 0
    latency_sum_ms: float = 0.0
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    pii_calls: int = 0
    injection_calls: int = 0
    environment: str = ""
    histogram: list[int] = field(default_factory=lambda: [0] * LATENCY_BUCKETS)

    def point(self, llm: bool) -> dict[str, Any]:
        """The fields of a dashboard ``Point`` (mean latency; cost and tokens for LLM calls)."""
        out: dict[str, Any] = {
            "count": self.count,
            "errors": self.errors,
            "latency_ms": self.latency_sum_ms / self.count if self.count else None,
        }
        if llm:
            out.update(
                cost_usd=self.cost_usd, input_tokens=self.input_tokens, output_tokens=self.output_tokens
            )
        return out


def grouped_buckets(
    connection: Connection,
    org_id: str,
    kind: str,
    since_ns: int,
    until_ns: int,
    bucket_ns: int,
    *,
    by_model: bool,
    by_version: bool,
    model: str | None = None,
    version: str | None = None,
) -> dict[tuple[str, ...], dict[int, Bucket]]:
    """Per (model[, version]) and bucket index: the rollups' sums of ``since <= minute < until``."""
    r = rollups.c
    first_minute = max(since_ns - since_ns % MINUTE_NS, -(2**63))
    # a first minute that starts before `since` falls in bucket 0
    index = sa.case(
        (r.minute_ns < since_ns, 0),
        else_=(r.minute_ns - since_ns) // sa.literal(bucket_ns, sa.BigInteger),
    ).label("bucket")
    group: list[Any] = []
    if by_model:
        group.append(r.model)
    if by_version:
        group.append(r.version)
    clauses: list[Any] = [
        r.org_id == org_id,
        r.minute_ns >= first_minute,
        r.minute_ns < until_ns,
        r.kind == kind,
    ]
    if model is not None:
        clauses.append(r.model == model)
    if version is not None:
        clauses.append(r.version == version)
    sums = [
        sa.func.sum(column)
        for column in (
            r["count"],
            r.errors,
            r.latency_sum_ms,
            r.cost_usd,
            r.input_tokens,
            r.output_tokens,
            r.pii_calls,
            r.injection_calls,
        )
    ]
    histogram = [sa.func.sum(r[name]) for name in LATENCY_COLUMNS]
    query = (
        sa.select(*group, index, *sums, sa.func.max(r.environment), *histogram)
        .where(*clauses)
        .group_by(*group, index)
    )
    out: dict[tuple[str, ...], dict[int, Bucket]] = {}
    width = len(group)
    for row in connection.execute(query):
        values = row[width + 1 :]
        out.setdefault(tuple(row[:width]), {})[int(row[width])] = Bucket(
            count=int(values[0] or 0),
            errors=int(values[1] or 0),
            latency_sum_ms=float(values[2] or 0.0),
            cost_usd=float(values[3] or 0.0),
            input_tokens=int(values[4] or 0),
            output_tokens=int(values[5] or 0),
            pii_calls=int(values[6] or 0),
            injection_calls=int(values[7] or 0),
            environment=values[8] or "",
            histogram=[int(value or 0) for value in values[9:]],
        )
    return out


def percentiles(buckets: dict[int, Bucket], quantiles: tuple[float, ...]) -> list[float | None]:
    """Quantiles of the merged latency histograms (within ~19 %, the histogram's resolution)."""
    merged = [0] * LATENCY_BUCKETS
    for bucket in buckets.values():
        for position, count in enumerate(bucket.histogram):
            merged[position] += count
    return [histogram_quantile(merged, q) for q in quantiles]


def _bucket(column: Any, since_ns: int, bucket_ns: int) -> Any:
    # integer division on both SQLite and PostgreSQL: the bucket's index in the window
    return ((column - since_ns) // sa.literal(bucket_ns, sa.BigInteger)).label("bucket")


def newest_prediction(
    connection: Connection, org_id: str, name: str, version: str, window: Window
) -> tuple[int | None, str | None]:
    """Time and task of a model version's newest prediction in the window: one index seek."""
    p = predictions.c
    clauses: list[Any] = [p.org_id == org_id, p.model_name == name, *window.clauses(p.time_ns)]
    clauses.append(p.model_version == version if version else p.model_version.is_(None))
    row = connection.execute(
        sa.select(p.time_ns, p.task).where(*clauses).order_by(p.time_ns.desc()).limit(1)
    ).first()
    return (int(row[0]), row[1]) if row else (None, None)


def newest_call(connection: Connection, org_id: str, model: str, window: Window) -> tuple[int | None, Any]:
    """Time and provider of an LLM model's newest call in the window (newest first on the index)."""
    c = llm_calls.c
    row = connection.execute(
        sa.select(c.time_ns, c.provider)
        .where(c.org_id == org_id, _llm_model() == model, *window.clauses(c.time_ns))
        .order_by(c.time_ns.desc())
        .limit(1)
    ).first()
    return (int(row[0]), row[1]) if row else (None, None)


def _llm_model() -> Any:
    c = llm_calls.c
    return sa.func.coalesce(c.response_model, c.request_model, "(unknown)")


def add_quality(
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


def newest_times(connection: Connection, org_id: str) -> list[int | None]:
    """The newest span, prediction and LLM call time of the organisation (None where empty)."""
    # each is a MAX over an (org_id, time) index: one index seek, whatever the table's size
    return [
        connection.execute(sa.select(sa.func.max(column)).where(table.c.org_id == org_id)).scalar()
        for table, column in (
            (spans, spans.c.start_time_ns),
            (predictions, predictions.c.time_ns),
            (llm_calls, llm_calls.c.time_ns),
        )
    ]
