"""Per-minute rollups, kept by ingest in the same transaction as the rows.

One row per organisation, minute, kind (``llm`` or ``prediction``), service, model, version
and environment holds additive sums (count, errors, latency, cost, tokens, PII and injection
counts) and a fixed log-bucket latency histogram, so merging two rollups is adding columns:
an upsert (``INSERT ... ON CONFLICT DO UPDATE``, SQLite and PostgreSQL alike) never reads.
Window rules, ``stats`` and the volume figures read these, never the raw rows. The same sums
per hour go to ``rollups_hourly`` in the same upsert, for the dashboard's long ranges.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..ingest.records import LlmCallRecord, PredictionRecord
from ..storage.bulk import upsert_sql
from ..storage.schema import LATENCY_BUCKETS, LATENCY_COLUMNS, ROLLUP_SUMS, rollups, rollups_hourly

MINUTE_NS = 60_000_000_000
RollupKey = tuple[int, str, str, str, str, str]
"""(minute_ns, kind, service, model, version, environment)."""


def latency_bucket(latency_ms: float) -> int:
    """The histogram bucket of a latency: ``ceil(2 log2(ms))``, clamped to the buckets."""
    if not latency_ms > 1.0:  # also NaN
        return 0
    return min(LATENCY_BUCKETS - 1, math.ceil(2 * math.log2(latency_ms)))


def bucket_upper_ms(index: int) -> float:
    """The upper edge of bucket ``index`` in ms."""
    return float(2 ** (index / 2))


def histogram_quantile(histogram: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of a latency histogram (geometric middle of its bucket); None if empty."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    seen = 0.0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= rank and count:
            return bucket_upper_ms(index) / (2**0.25) if index else 0.5
    return bucket_upper_ms(len(histogram) - 1)  # pragma: no cover - rank <= total


@dataclass
class Rollup:
    """The sums of one key (a row of :data:`rollups`, or a merge of several).

    Floats, because a sliding window adds the minute at its edge prorated.
    """

    count: float = 0
    errors: float = 0
    latency_sum_ms: float = 0.0
    latency_max_ms: float = 0.0
    cost_usd: float = 0.0
    cost_calls: float = 0
    input_tokens: float = 0
    output_tokens: float = 0
    pii_calls: float = 0
    injection_calls: float = 0
    rows: float = 0
    histogram: list[float] = field(default_factory=lambda: [0.0] * LATENCY_BUCKETS)

    def add_call(self, latency_ms: float, is_error: bool) -> None:
        self.count += 1
        self.errors += bool(is_error)
        self.latency_sum_ms += latency_ms
        self.latency_max_ms = max(self.latency_max_ms, latency_ms)
        self.histogram[latency_bucket(latency_ms)] += 1

    def merge(self, other: Rollup, weight: float = 1.0, *, histogram: bool = True) -> None:
        """Add ``other`` (times ``weight``, for the prorated edge of a sliding window).

        ``histogram=False`` leaves the latency histogram out (the window rules don't read it).
        """
        self.count += other.count * weight
        self.errors += other.errors * weight
        self.latency_sum_ms += other.latency_sum_ms * weight
        self.latency_max_ms = max(self.latency_max_ms, other.latency_max_ms)
        self.cost_usd += other.cost_usd * weight
        self.cost_calls += other.cost_calls * weight
        self.input_tokens += other.input_tokens * weight
        self.output_tokens += other.output_tokens * weight
        self.pii_calls += other.pii_calls * weight
        self.injection_calls += other.injection_calls * weight
        self.rows += other.rows * weight
        if histogram:
            for index, count in enumerate(other.histogram):
                self.histogram[index] += count * weight

    @property
    def tokens(self) -> float:
        return float(self.input_tokens + self.output_tokens)

    def mean_latency(self) -> float:
        return self.latency_sum_ms / self.count if self.count else 0.0

    def to_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            name: _stored(name, getattr(self, name)) for name in ROLLUP_SUMS if not name.startswith("lat_")
        }
        row.update(zip(LATENCY_COLUMNS, (round(count) for count in self.histogram), strict=True))
        row["latency_max_ms"] = self.latency_max_ms
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Rollup:
        histogram = [float(row[name]) for name in LATENCY_COLUMNS] if LATENCY_COLUMNS[0] in row else None
        rollup = cls(**{name: row[name] for name in _SCALARS})
        if histogram is not None:
            rollup.histogram = histogram
        return rollup


_SCALARS = tuple(name for name in (*ROLLUP_SUMS, "latency_max_ms") if name not in LATENCY_COLUMNS)


def _stored(name: str, value: float) -> float | int:
    return value if name in ("latency_sum_ms", "cost_usd") else round(value)


def _minute(time_ns: int) -> int:
    # a bound clamped to the 64-bit columns' low end (year 1677) must stay bindable
    return max(time_ns - time_ns % MINUTE_NS, -(2**63))


def key_of_call(call: LlmCallRecord, services: Mapping[tuple[str, str], str]) -> RollupKey:
    """The rollup key of an LLM call; ``services`` maps (trace id, span id) to the span's service."""
    service = services.get((call.trace_id, call.span_id)) or ""
    return (_minute(call.time_ns), "llm", service, call.model, "", "")


def key_of_prediction(prediction: PredictionRecord, services: Mapping[tuple[str, str], str]) -> RollupKey:
    service = services.get((prediction.trace_id, prediction.span_id)) or ""
    return (
        _minute(prediction.time_ns),
        "prediction",
        service,
        prediction.model_name,
        prediction.model_version or "",
        prediction.environment or "",
    )


def collect(
    llm_calls: Iterable[LlmCallRecord],
    predictions: Iterable[PredictionRecord],
    services: Mapping[tuple[str, str], str],
) -> dict[RollupKey, Rollup]:
    """The rollups of one batch; ``services`` maps (trace id, span id) to the span's service."""
    out: dict[RollupKey, Rollup] = {}
    for call in llm_calls:
        rollup = out.setdefault(key_of_call(call, services), Rollup())
        rollup.add_call(call.latency_ms, call.is_error)
        if call.cost_usd is not None:
            rollup.cost_usd += call.cost_usd
            rollup.cost_calls += 1
        rollup.input_tokens += call.input_tokens or 0
        rollup.output_tokens += call.output_tokens or 0
        rollup.pii_calls += bool(call.pii_detected)
        rollup.injection_calls += bool(call.injection_detected)
    for prediction in predictions:
        rollup = out.setdefault(key_of_prediction(prediction, services), Rollup())
        rollup.add_call(prediction.latency_ms, prediction.is_error)
        rollup.rows += prediction.output_rows or 0  # the metrics' "rows": output rows
    return out


_KEYS = ("org_id", "minute_ns", "kind", "service", "model", "version", "environment")
HOUR_NS = 60 * MINUTE_NS


def upsert(connection: Connection, org_id: str, batch: Mapping[RollupKey, Rollup]) -> None:
    """Add a batch's rollups to the per-minute table and to the hourly one (one
    ``INSERT ... ON CONFLICT DO UPDATE`` per key in each)."""
    if not batch:
        return
    hours: dict[RollupKey, Rollup] = {}
    for key, rollup in batch.items():
        hour_key = (key[0] - key[0] % HOUR_NS, *key[1:])
        hours.setdefault(hour_key, Rollup()).merge(rollup)  # type: ignore[arg-type]
    for table, rows in ((rollups, batch), (rollups_hourly, hours)):
        sql = upsert_sql(connection.dialect.name, table.name, _KEYS, ROLLUP_SUMS, ("latency_max_ms",))
        values = [
            {"org_id": org_id, **dict(zip(_KEYS[1:], key, strict=True)), **r.to_row()}
            for key, r in rows.items()
        ]
        connection.exec_driver_sql(sql, values)  # type: ignore[arg-type]


def rebuild_hour(connection: Connection, hour_ns: int, org_id: str | None) -> None:
    """An hour's hourly rows (of one organisation, or all) as the sums of its minutes."""
    h, r = rollups_hourly.c, rollups.c
    org = [h.org_id == org_id] if org_id is not None else []
    connection.execute(rollups_hourly.delete().where(h.minute_ns == hour_ns, *org))
    keys = [r.org_id, r.kind, r.service, r.model, r.version, r.environment]
    query = (
        sa.select(
            r.org_id,
            sa.literal(hour_ns, sa.BigInteger),
            *keys[1:],
            *(sa.func.sum(r[name]) for name in ROLLUP_SUMS),
            sa.func.max(r.latency_max_ms),
        )
        .where(
            r.minute_ns >= hour_ns,
            r.minute_ns < hour_ns + HOUR_NS,
            *([r.org_id == org_id] if org_id is not None else []),
        )
        .group_by(*keys)
    )
    names = [*_KEYS, *ROLLUP_SUMS, "latency_max_ms"]
    connection.execute(rollups_hourly.insert().from_select(names, query))


def prune_hourly(connection: Connection, cutoff_ns: int, org_id: str | None) -> int:
    """One retention step of the hourly rollups: up to a day of whole hours before the cutoff's
    hour; rows deleted. Once none is left, the cutoff's hour is rebuilt from the minutes left
    (the per-minute step runs first), and 0 is returned."""
    h = rollups_hourly.c
    first_hour = cutoff_ns - cutoff_ns % HOUR_NS
    where = [h.minute_ns < first_hour, *([h.org_id == org_id] if org_id is not None else [])]
    oldest = connection.execute(sa.select(sa.func.min(h.minute_ns)).where(*where)).scalar()
    if oldest is not None:
        end = min(first_hour, oldest + 24 * HOUR_NS)
        return int(connection.execute(rollups_hourly.delete().where(*where, h.minute_ns < end)).rowcount)
    if first_hour < cutoff_ns:
        rebuild_hour(connection, first_hour, org_id)
    return 0


def read(
    connection: Connection,
    org_id: str,
    since_ns: int | None,
    until_ns: int | None,
    kind: str | None = None,
    *,
    histogram: bool = True,
) -> list[tuple[RollupKey, Rollup]]:
    """The stored rollups of an organisation with ``since <= minute < until``.

    ``histogram=False`` leaves the 34 latency-bucket columns unread (zeros in the result).
    """
    columns = [c for c in rollups.columns if histogram or c.name not in LATENCY_COLUMNS]
    query = sa.select(*columns).where(rollups.c.org_id == org_id)
    if since_ns is not None:
        query = query.where(rollups.c.minute_ns >= _minute(since_ns))
    if until_ns is not None:
        query = query.where(rollups.c.minute_ns < until_ns)
    if kind is not None:
        query = query.where(rollups.c.kind == kind)
    out = []
    for row in connection.execute(query).mappings():
        key = (
            row["minute_ns"],
            row["kind"],
            row["service"],
            row["model"],
            row["version"],
            row["environment"],
        )
        out.append((key, Rollup.from_row(dict(row))))
    return out
