"""The dashboard's reads: the per-minute rollups that ingest keeps (table ``rollups``), each
series' newest row, the quality series from the label rows, and the newest time per table.

A range of 7 days over a million rows is ~10,000 minutes per model: the summaries and series
read those (one ``GROUP BY`` over the ``(org_id, minute_ns)`` index) instead of the raw rows,
so a page answers in the same time whatever the table's size; the hours that fall whole in one
bucket come from the hourly rollups (168 rows a week per model instead of 10,080). Rollups hold
whole minutes: a range's first and last minute count entirely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..detection.rollups import histogram_quantile
from ..storage import label_rollups
from ..storage.rollup_time import (
    MINUTE_NS,
    Range,
    Split,
    bucket_spans,
    by_table,
    ceil_to,
    in_ranges,
    minute_of,
    tiers,
)
from ..storage.schema import (
    LATENCY_BUCKETS,
    LATENCY_COLUMNS,
    llm_calls,
    predictions,
    rollups,
    rollups_hourly,
    spans,
)
from ..storage.sums import Sums
from ..storage.window import Window


@dataclass
class Bucket(Sums):
    """The sums of one group in one time bucket."""

    COUNTS = ("count", "errors", "input_tokens", "output_tokens", "pii_calls", "injection_calls")
    TOTALS = ("latency_sum_ms", "cost_usd")

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
        self.add_sums(other)
        self.environment = max(self.environment, other.environment)

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


@dataclass(frozen=True)
class BucketQuery:
    """What a series of the dashboard asks of the rollups: one kind's sums per bucket of
    ``bucket_ns`` from ``since <= minute < until``, grouped per model (and version) or not, of
    every model or of one (and one version)."""

    org_id: str
    kind: str
    since_ns: int
    until_ns: int
    bucket_ns: int
    by_model: bool
    by_version: bool
    model: str | None = None
    version: str | None = None

    @property
    def group(self) -> tuple[str, ...]:
        """The columns the sums are grouped by, of ``model`` and ``version``."""
        return tuple(
            name for name, wanted in (("model", self.by_model), ("version", self.by_version)) if wanted
        )

    @property
    def only(self) -> dict[str, str]:
        """The key columns held to one value: ``model`` and ``version``, where given."""
        return {
            name: value
            for name, value in (("model", self.model), ("version", self.version))
            if value is not None
        }


def grouped_buckets(
    connection: Connection, query: BucketQuery, *, hourly: bool = True, histogram: bool = False
) -> dict[tuple[str, ...], dict[int, Bucket]]:
    """Per (model[, version]) and bucket index: the rollups' sums of ``since <= minute < until``.

    Reads the hourly rollups for the hours that fall whole in one bucket (:func:`bucket_spans`;
    ``hourly=False``: minutes only) and the per-minute ones for the rest: the same sums.
    ``histogram``: the latency histogram per bucket too (:func:`window_histograms` reads a
    window's whole, cheaper).
    """
    q = query
    spans = (
        bucket_spans(q.since_ns, q.until_ns, q.bucket_ns)
        if hourly
        else [(False, minute_of(q.since_ns), q.until_ns)]
    )
    out: dict[tuple[str, ...], dict[int, Bucket]] = {}
    for from_hours, ranges in by_table(spans):
        _sum_buckets(connection, rollups_hourly if from_hours else rollups, q, ranges, histogram, out)
    return out


def _sum_buckets(
    connection: Connection,
    table: sa.Table,
    asked: BucketQuery,
    ranges: list[Range],
    histogram: bool,
    out: dict[tuple[str, ...], dict[int, Bucket]],
) -> None:
    r = table.c
    since_ns = asked.since_ns
    # a first minute that starts before `since` falls in bucket 0
    index = sa.case(
        (r.minute_ns < since_ns, 0),
        else_=(r.minute_ns - since_ns) // sa.literal(asked.bucket_ns, sa.BigInteger),
    ).label("bucket")
    group: list[Any] = [r[name] for name in asked.group]
    clauses: list[Any] = [in_ranges(r, asked.org_id, ranges), r.kind == asked.kind]
    clauses += [r[name] == value for name, value in asked.only.items()]
    names = (*Bucket.COUNTS, *Bucket.TOTALS)
    sums = [sa.func.sum(r[name]) for name in names]
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
            environment=values[len(sums)] or "",
            histogram=[int(value or 0) for value in values[len(sums) + 1 :]]
            if histogram
            else [0] * LATENCY_BUCKETS,
        )
        found.set_sums(dict(zip(names, values, strict=False)))
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
    first, end = minute_of(since_ns), ceil_to(until_ns, MINUTE_NS)
    out: dict[tuple[str, ...], list[int]] = {}
    for hourly, low, high in tiers(Split(first, end, True, ())):
        r = (rollups_hourly if hourly else rollups).c
        group = [r.model, r.version] if by_version else [r.model]
        query = sa.select(*group, *(sa.func.sum(r[name]) for name in LATENCY_COLUMNS)).where(
            in_ranges(r, org_id, [(low, high)]), r.kind == kind
        )
        for row in connection.execute(query.group_by(*group)):
            merged = out.setdefault(tuple(row[: len(group)]), [0] * LATENCY_BUCKETS)
            for position, count in enumerate(row[len(group) :]):
                merged[position] += int(count or 0)
    return out


def percentiles(histogram: list[int], quantiles: tuple[float, ...]) -> list[float | None]:
    """Quantiles of a latency histogram (within ~19 %, the histogram's resolution)."""
    return [histogram_quantile(histogram, q) if histogram else None for q in quantiles]


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


@dataclass(frozen=True)
class Quality:
    """The labelled rows of one bucket: how many, how many of right class, absolute errors."""

    rows: int = 0
    correct: int = 0
    abs_err_sum: float = 0.0
    num_rows: int = 0


def quality(
    connection: Connection,
    org_id: str,
    model: str,
    version: str | None,
    window: Window,
    since_ns: int,
    bucket_ns: int,
) -> dict[int, Quality]:
    """Labelled rows, right classes and absolute errors per bucket of the prediction's time.

    From the label-join rollups: a whole minute counts in the bucket it starts in, a row of the
    window's partial first or last minute in that of its prediction time.
    """
    sums = label_rollups.window_sums(
        connection,
        org_id,
        window.since_ns,
        window.until_ns,
        (),
        model=model,
        version=version,
        buckets=(since_ns, bucket_ns),
    )
    return {
        int(index): Quality(rollup.rows, rollup.correct, rollup.abs_err_sum, rollup.num_rows)
        for (index,), rollup in sums.items()
    }


def add_quality(rows: dict[int, dict[str, Any]], found: dict[int, Quality]) -> None:
    """The quality of each bucket into its point (a bucket without calls gets one)."""
    for index, sums in found.items():
        entry = rows.setdefault(index, {"count": 0, "errors": 0, "latency_ms": None})
        entry["labelled_rows"] = sums.rows
        entry["correct_rows"] = sums.correct
        entry["abs_error"] = sums.abs_err_sum / sums.num_rows if sums.num_rows else None


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


class Source(Protocol):
    """Where the dashboard reads: the relational rollups (:class:`RelationalSource`), or the
    telemetry store (``--telemetry-db``; :mod:`aither.server.telemetry.dashboard`)."""

    def dashboard_buckets(self, query: BucketQuery) -> dict[tuple[str, ...], dict[int, Bucket]]: ...

    def dashboard_histograms(
        self, org_id: str, kind: str, since_ns: int, until_ns: int, *, by_version: bool
    ) -> dict[tuple[str, ...], list[int]]: ...

    def newest_prediction(
        self, org_id: str, name: str, version: str, window: Window
    ) -> tuple[int | None, str | None]: ...

    def newest_call(self, org_id: str, model: str, window: Window) -> tuple[int | None, Any]: ...

    def quality(
        self, org_id: str, model: str, version: str | None, window: Window, since_ns: int, bucket_ns: int
    ) -> dict[int, Quality]: ...

    def newest_times(self, org_id: str) -> list[int | None]: ...


class RelationalSource:
    """The dashboard's reads on one relational connection (the functions above)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def dashboard_buckets(self, query: BucketQuery) -> dict[tuple[str, ...], dict[int, Bucket]]:
        return grouped_buckets(self.connection, query)

    def dashboard_histograms(
        self, org_id: str, kind: str, since_ns: int, until_ns: int, *, by_version: bool
    ) -> dict[tuple[str, ...], list[int]]:
        return window_histograms(self.connection, org_id, kind, since_ns, until_ns, by_version=by_version)

    def newest_prediction(
        self, org_id: str, name: str, version: str, window: Window
    ) -> tuple[int | None, str | None]:
        return newest_prediction(self.connection, org_id, name, version, window)

    def newest_call(self, org_id: str, model: str, window: Window) -> tuple[int | None, Any]:
        return newest_call(self.connection, org_id, model, window)

    def quality(
        self, org_id: str, model: str, version: str | None, window: Window, since_ns: int, bucket_ns: int
    ) -> dict[int, Quality]:
        return quality(self.connection, org_id, model, version, window, since_ns, bucket_ns)

    def newest_times(self, org_id: str) -> list[int | None]:
        return newest_times(self.connection, org_id)
