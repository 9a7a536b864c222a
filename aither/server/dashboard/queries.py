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

from ..detection.rollups import MINUTE_NS, histogram_quantile
from ..storage.label_rollups import Split, bucket_spans, tiers
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
    histogram: bool = False,
) -> dict[tuple[str, ...], dict[int, Bucket]]:
    """Per (model[, version]) and bucket index: the rollups' sums of ``since <= minute < until``.

    Reads the hourly rollups for the hours that fall whole in one bucket (:func:`bucket_spans`;
    ``hourly=False``: minutes only) and the per-minute ones for the rest: the same sums.
    ``histogram``: the latency histogram per bucket too (:func:`window_histograms` reads a
    window's whole, cheaper).
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
                (by_model, by_version, histogram),
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
    options: tuple[bool, bool, bool],
    model: str | None,
    version: str | None,
    out: dict[tuple[str, ...], dict[int, Bucket]],
) -> None:
    by_model, by_version, histogram = options
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
    histograms = [sa.func.sum(r[name]) for name in LATENCY_COLUMNS] if histogram else []
    query = (
        sa.select(*group, index, *sums, sa.func.max(r.environment), *histograms)
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
            histogram=[int(value or 0) for value in values[9:]] if histogram else [0] * LATENCY_BUCKETS,
        )
        buckets = out.setdefault(tuple(row[:width]), {})
        if int(row[width]) in buckets:
            buckets[int(row[width])].add(found)
        else:
            buckets[int(row[width])] = found


def window_histograms(
    connection: Connection, org_id: str, kind: str, since_ns: int, until_ns: int, *, by_version: bool
) -> dict[tuple[str, ...], list[int]]:
    """Per model (and version): the latency histogram of ``since <= minute < until``, whole hours
    from the hourly rollups (the buckets don't matter here) and the minutes around them."""
    first, end = _floor_minute(since_ns), -(-until_ns // MINUTE_NS) * MINUTE_NS
    out: dict[tuple[str, ...], list[int]] = {}
    for hourly, low, high in tiers(Split(first, end, True, ())):
        r = (rollups_hourly if hourly else rollups).c
        group = [r.model, r.version] if by_version else [r.model]
        clauses = [r.org_id == org_id, r.kind == kind]
        if low is not None:
            clauses.append(r.minute_ns >= low)
        if high is not None:
            clauses.append(r.minute_ns < high)
        query = sa.select(*group, *(sa.func.sum(r[name]) for name in LATENCY_COLUMNS)).where(*clauses)
        for row in connection.execute(query.group_by(*group)):
            merged = out.setdefault(tuple(row[: len(group)]), [0] * LATENCY_BUCKETS)
            for position, count in enumerate(row[len(group) :]):
                merged[position] += int(count or 0)
    return out


def percentiles(histogram: list[int], quantiles: tuple[float, ...]) -> list[float | None]:
    """Quantiles of a latency histogram (within ~19 %, the histogram's resolution)."""
    return [histogram_quantile(histogram, q) if histogram else None for q in quantiles]
