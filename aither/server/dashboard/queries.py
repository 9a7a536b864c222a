"""The dashboard's reads of the per-minute rollups that ingest keeps (table ``rollups``).

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
from ..storage.schema import LATENCY_BUCKETS, LATENCY_COLUMNS, rollups


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
