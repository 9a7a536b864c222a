"""The dashboard's reads of the per-minute rollups that ingest keeps (table ``rollups``).

A range of 7 days over a million rows is ~10,000 minutes per model: the summaries and series
read those (one ``GROUP BY`` over the ``(org_id, minute_ns)`` index) instead of the raw rows,
so a page answers in the same time whatever the table's size; the hours that fall whole in one
bucket come from the hourly rollups (168 rows a week per model instead of 10,080). Rollups hold
whole minutes: a range's first and last minute count entirely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..detection.rollups import HOUR_NS, MINUTE_NS, histogram_quantile
from ..storage.schema import LATENCY_BUCKETS, LATENCY_COLUMNS, rollups, rollups_hourly


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

    def add(self, other: Bucket) -> None:
        """Add another bucket's sums (the environment: the larger, as ``max()`` gives)."""
        self.count += other.count
        self.errors += other.errors
        self.latency_sum_ms += other.latency_sum_ms
        self.cost_usd += other.cost_usd
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.pii_calls += other.pii_calls
        self.injection_calls += other.injection_calls
        self.environment = max(self.environment, other.environment)
        self.histogram = [a + b for a, b in zip(self.histogram, other.histogram, strict=True)]

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


def bucket_spans(since_ns: int, until_ns: int, bucket_ns: int) -> list[tuple[bool, int, int]]:
    """The window's minutes ``[floor(since), until)`` as (from the hourly table?, from, to) spans.

    An hour comes from the hourly rollups when all its minutes are in the window and in one
    bucket; the rest (the hours at the window's ends and those a bucket boundary cuts) from the
    per-minute ones, so every minute counts in the same bucket either way.
    """

    def bucket(minute: int) -> int:
        return 0 if minute < since_ns else (minute - since_ns) // bucket_ns

    first, end = _floor_minute(since_ns), -(-until_ns // MINUTE_NS) * MINUTE_NS
    hour = -(-first // HOUR_NS) * HOUR_NS
    spans: list[tuple[bool, int, int]] = []

    def add(hourly: bool, low: int, high: int) -> None:
        if low >= high:
            return
        if spans and spans[-1][0] == hourly and spans[-1][2] == low:
            spans[-1] = (hourly, spans[-1][1], high)
        else:
            spans.append((hourly, low, high))

    add(False, first, min(hour, end))
    while hour + HOUR_NS <= end:
        add(bucket(hour) == bucket(hour + HOUR_NS - MINUTE_NS), hour, hour + HOUR_NS)
        hour += HOUR_NS
    add(False, max(hour, first), end)
    return spans


def _floor_minute(ns: int) -> int:
    return max(ns - ns % MINUTE_NS, -(2**63))


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
    hourly: bool = True,
) -> dict[tuple[str, ...], dict[int, Bucket]]:
    """Per (model[, version]) and bucket index: the rollups' sums of ``since <= minute < until``.

    Reads the hourly rollups for the hours that fall whole in one bucket (:func:`bucket_spans`;
    ``hourly=False``: minutes only) and the per-minute ones for the rest: the same sums.
    """
    spans = (
        bucket_spans(since_ns, until_ns, bucket_ns)
        if hourly
        else [(False, _floor_minute(since_ns), until_ns)]
    )
    out: dict[tuple[str, ...], dict[int, Bucket]] = {}
    for table in (rollups_hourly, rollups):
        ranges = [(low, high) for from_hours, low, high in spans if from_hours == (table is rollups_hourly)]
        if ranges:
            _sum_buckets(
                connection,
                table,
                org_id,
                kind,
                since_ns,
                bucket_ns,
                ranges,
                by_model,
                by_version,
                model,
                version,
                out,
            )
    return out


def _sum_buckets(
    connection: Connection,
    table: sa.Table,
    org_id: str,
    kind: str,
    since_ns: int,
    bucket_ns: int,
    ranges: list[tuple[int, int]],
    by_model: bool,
    by_version: bool,
    model: str | None,
    version: str | None,
    out: dict[tuple[str, ...], dict[int, Bucket]],
) -> None:
    r = table.c
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
    # each range a whole index condition, so the database seeks each on (org_id, minute_ns)
    clauses: list[Any] = [
        sa.or_(
            *(sa.and_(r.org_id == org_id, r.minute_ns >= low, r.minute_ns < high) for low, high in ranges)
        ),
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
    width = len(group)
    for row in connection.execute(query):
        values = row[width + 1 :]
        found = Bucket(
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
        buckets = out.setdefault(tuple(row[:width]), {})
        if int(row[width]) in buckets:
            buckets[int(row[width])].add(found)
        else:
            buckets[int(row[width])] = found


def percentiles(buckets: dict[int, Bucket], quantiles: tuple[float, ...]) -> list[float | None]:
    """Quantiles of the merged latency histograms (within ~19 %, the histogram's resolution)."""
    merged = [0] * LATENCY_BUCKETS
    for bucket in buckets.values():
        for position, count in enumerate(bucket.histogram):
            merged[position] += count
    return [histogram_quantile(merged, q) for q in quantiles]
