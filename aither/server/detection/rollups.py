"""Per-minute rollups, kept by ingest in the same transaction as the rows.

One row per organisation, minute, kind (``llm`` or ``prediction``), service, model, version
and environment holds additive sums (count, errors, latency, cost, tokens, PII and injection
counts) and a fixed log-bucket latency histogram, so merging two rollups is adding columns:
an upsert (``INSERT ... ON CONFLICT DO UPDATE``, SQLite and PostgreSQL alike) never reads.
Window rules, ``stats`` and the volume figures read these, never the raw rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from ..ingest.records import LlmCallRecord, PredictionRecord
from ..storage.schema import LATENCY_BUCKETS, LATENCY_COLUMNS, ROLLUP_SUMS, rollups

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
    model = call.response_model or call.request_model or ""
    return (_minute(call.time_ns), "llm", service, model, "", "")


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


def upsert(connection: Connection, org_id: str, batch: Mapping[RollupKey, Rollup]) -> None:
    """Add a batch's rollups to the table: one ``INSERT ... ON CONFLICT DO UPDATE`` per key."""
    if not batch:
        return
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    values = [
        {
            "org_id": org_id,
            "minute_ns": key[0],
            "kind": key[1],
            "service": key[2],
            "model": key[3],
            "version": key[4],
            "environment": key[5],
            **rollup.to_row(),
        }
        for key, rollup in batch.items()
    ]
    statement = insert(rollups)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["org_id", "minute_ns", "kind", "service", "model", "version", "environment"],
        set_={
            **{name: rollups.c[name] + excluded[name] for name in ROLLUP_SUMS},
            "latency_max_ms": sa.func.max(rollups.c.latency_max_ms, excluded.latency_max_ms)
            if connection.dialect.name == "sqlite"
            else sa.func.greatest(rollups.c.latency_max_ms, excluded.latency_max_ms),
        },
    )
    connection.execute(statement, values)


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
