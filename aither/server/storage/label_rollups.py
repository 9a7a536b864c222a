"""Label-join rollups: the model metrics' sums per minute of prediction time (``label_rollups``).

Every labelled row (a row of ``label_rows``) adds to one rollup row, keyed by organisation,
minute of the *prediction's* time, model, version, environment, task and, for a
classification row with both classes known, the cell (predicted, true) of its confusion
matrix. The columns are counts and sums (labelled rows, right classes, rows with a true
class, regression error sums, label-delay sum and a log-bucket histogram) and one max (the
longest delay), so merging is adding, and a ClickHouse ``SummingMergeTree`` can hold the same
rows.

They are kept in the transaction that writes ``label_rows``:

- a newly made labelled row is added with an upsert that never reads (:func:`upsert`);
- where the join removes labelled rows (a label re-placed, a newer label over an older one),
  the minutes those rows were in are computed again from ``label_rows`` (:func:`recompute`):
  a max can't be subtracted, and the minute is one indexed range of one model version;
- retention deletes whole minutes before its cutoff and computes the cutoff's minute again.

``label_rollups_hourly`` holds the same sums per hour, kept alongside (an hour is rebuilt from
its minutes where a minute is computed again), so a week's window reads 168 rows per key.

So the rollups always equal an aggregate of ``label_rows``, and a replayed label, which makes
no new labelled row, adds nothing. Reads (:func:`window_sums`) take the whole hours of a
window from the hourly rollups, the whole minutes around them from the per-minute ones and
its partial first and last minute from ``label_rows``, so the sums are exact for any window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .bulk import upsert_sql
from .rollup_time import (
    HOUR_NS,
    NS_MAX,
    bucket_spans,
    by_table,
    hour_of,
    in_ranges,
    prune_step,
)
from .rollup_time import MINUTE_NS as MINUTE_NS  # noqa: PLC0414  (re-exported: joins, detection.stats)
from .rollup_time import minute_of as minute_of  # noqa: PLC0414  (re-exported: joins, detection.stats)
from .rollup_time import split_window as split_window  # noqa: PLC0414  (re-exported: joins, detection.stats)
from .rollup_time import tiers as tiers  # noqa: PLC0414  (re-exported: joins, detection.stats)
from .schema import (
    DELAY_BUCKETS,
    DELAY_COLUMNS,
    LABEL_ROLLUP_SUMS,
    label_rollups,
    label_rollups_hourly,
    label_rows,
    predictions,
)
from .sums import Sums

CLASSIFICATION = "classification"  # as analysis.scoring names the task

KEY_COLUMNS = ("model", "version", "environment", "task", "pair", "pred_class", "label_class")
"""The key of a rollup row besides organisation and minute."""
Key = tuple[str, str, str, str, int, str, str]


def delay_bucket(delay_s: float) -> int:
    """The histogram bucket of a label delay: ``ceil(2 log2(s))``, clamped to the buckets."""
    if not delay_s > 1.0:  # also NaN, and labels stamped before their prediction
        return 0
    return min(DELAY_BUCKETS - 1, math.ceil(2 * math.log2(delay_s)))


@dataclass
class LabelRollup(Sums):
    """The sums of one key (a rollup row, or a merge of several)."""

    COUNTS = ("rows", "correct", "classified", "num_rows")
    TOTALS = ("err_sum", "abs_err_sum", "sq_err_sum", "delay_sum_s")

    rows: int = 0
    correct: int = 0
    classified: int = 0
    num_rows: int = 0
    err_sum: float = 0.0
    abs_err_sum: float = 0.0
    sq_err_sum: float = 0.0
    delay_sum_s: float = 0.0
    delay_max_s: float | None = None
    histogram: list[int] = field(default_factory=lambda: [0] * DELAY_BUCKETS)

    def add(
        self,
        pred_class: str | None,
        label_class: str | None,
        pred_num: float | None,
        label_num: float | None,
        delay_s: float,
    ) -> None:
        """Count one labelled row."""
        self.rows += 1
        self.correct += pred_class is not None and pred_class == label_class
        self.classified += label_class is not None
        if pred_num is not None and label_num is not None:
            error = pred_num - label_num
            self.num_rows += 1
            self.err_sum += error
            self.abs_err_sum += abs(error)
            self.sq_err_sum += error * error
        self.delay_sum_s += delay_s
        self.delay_max_s = delay_s if self.delay_max_s is None else max(self.delay_max_s, delay_s)
        self.histogram[delay_bucket(delay_s)] += 1

    @classmethod
    def of_sums(cls, sums: Mapping[str, Any], delay_max_s: float | None) -> LabelRollup:
        """A rollup from summed columns (:data:`LABEL_ROLLUP_SUMS`; the histogram stays zero)."""
        rollup = cls(delay_max_s=delay_max_s)
        rollup.set_sums(sums)
        return rollup

    def merge(self, other: LabelRollup) -> None:
        self.add_sums(other)
        if other.delay_max_s is not None:
            self.delay_max_s = (
                other.delay_max_s if self.delay_max_s is None else max(self.delay_max_s, other.delay_max_s)
            )

    def to_row(self) -> dict[str, Any]:
        row = self.sums()
        row["delay_max_s"] = self.delay_max_s if self.delay_max_s is not None else 0.0
        row.update(zip(DELAY_COLUMNS, self.histogram, strict=True))
        return row


def key_of(
    model: str,
    version: str | None,
    environment: str | None,
    task: str | None,
    pred_class: str | None,
    label_class: str | None,
) -> Key:
    """The rollup key (besides organisation and minute) of a labelled row."""
    pair = task == CLASSIFICATION and pred_class is not None and label_class is not None
    return (
        model,
        version or "",
        environment or "",
        task or "",
        int(pair),
        (pred_class or "") if pair else "",
        (label_class or "") if pair else "",
    )


Fact = tuple[
    str, str | None, str | None, str | None, str | None, float | None, str | None, float | None, int, int
]
"""A labelled row as the rollups see it: model, version, environment, task, predicted class,
predicted number, true class, true number, prediction time and label time (ns)."""


def collect(facts: Iterable[Fact]) -> dict[tuple[int, Key], LabelRollup]:
    """The rollups of some labelled rows, per (minute, key)."""
    out: dict[tuple[int, Key], LabelRollup] = {}
    for (
        model,
        version,
        environment,
        task,
        pred_class,
        pred_num,
        label_class,
        label_num,
        pred_ns,
        label_ns,
    ) in facts:
        key = (minute_of(pred_ns), key_of(model, version, environment, task, pred_class, label_class))
        rollup = out.get(key)
        if rollup is None:
            rollup = out[key] = LabelRollup()
        rollup.add(pred_class, label_class, pred_num, label_num, (label_ns - pred_ns) / 1e9)
    return out


def upsert(connection: Connection, org_id: str, batch: Mapping[tuple[int, Key], LabelRollup]) -> None:
    """Add per-minute rollups to both tables: one ``INSERT ... ON CONFLICT DO UPDATE`` per key."""
    _upsert(connection, label_rollups, org_id, batch)
    hours: dict[tuple[int, Key], LabelRollup] = {}
    for (minute, key), rollup in batch.items():
        merged = hours.get((hour_of(minute), key))
        if merged is None:
            merged = hours[(hour_of(minute), key)] = LabelRollup()
        merged.merge(rollup)
    _upsert(connection, label_rollups_hourly, org_id, hours)


def _upsert(
    connection: Connection, table: sa.Table, org_id: str, batch: Mapping[tuple[int, Key], LabelRollup]
) -> None:
    if not batch:
        return
    values = [
        {"org_id": org_id, "minute_ns": minute, **dict(zip(KEY_COLUMNS, key, strict=True)), **rollup.to_row()}
        for (minute, key), rollup in batch.items()
    ]
    sql = upsert_sql(
        connection.dialect.name,
        table.name,
        ("org_id", "minute_ns", *KEY_COLUMNS),
        LABEL_ROLLUP_SUMS,
        ("delay_max_s",),
    )
    connection.exec_driver_sql(sql, values)  # type: ignore[arg-type]


def _fact_columns() -> list[Any]:
    lr = label_rows.c
    return [
        lr.model_name,
        lr.model_version,
        predictions.c.environment,
        lr.task,
        lr.pred_class,
        lr.pred_num,
        lr.label_class,
        lr.label_num,
        lr.pred_time_ns,
        lr.label_time_ns,
    ]


def _facts_query(*clauses: Any) -> sa.Select[Any]:
    # the environment is the prediction's: one primary-key lookup per labelled row
    return (
        sa.select(*_fact_columns())
        .select_from(label_rows.join(predictions, predictions.c.id == label_rows.c.prediction_id))
        .where(*clauses)
    )


def _version_is(column: Any, version: str) -> Any:
    return column.is_(None) if version == "" else column == version


def recompute(connection: Connection, org_id: str, minutes: Iterable[tuple[int, str, str]]) -> None:
    """Compute the rollups of some (minute, model, version) again from ``label_rows``, and
    their hours from the minutes."""
    wanted = set(minutes)
    _recompute_minutes(connection, org_id, wanted)
    for hour, model, version in sorted(
        {(hour_of(minute), model, version) for minute, model, version in wanted}
    ):
        _rebuild_hour(connection, org_id, hour, model, version)


def _recompute_minutes(connection: Connection, org_id: str, minutes: set[tuple[int, str, str]]) -> None:
    lr = label_rows.c
    r = label_rollups.c
    for minute, model, version in sorted(minutes):
        connection.execute(
            label_rollups.delete().where(
                r.org_id == org_id, r.minute_ns == minute, r.model == model, r.version == version
            )
        )
        query = _facts_query(
            lr.org_id == org_id,
            lr.model_name == model,
            _version_is(lr.model_version, version),
            lr.pred_time_ns >= minute,
            lr.pred_time_ns < min(minute + MINUTE_NS, NS_MAX),
        )
        _upsert(connection, label_rollups, org_id, collect(connection.execute(query)))


def _rebuild_hour(connection: Connection, org_id: str, hour: int, model: str, version: str) -> None:
    """An hour's rows of one model version, as the sums of its minutes (one INSERT ... SELECT)."""
    h = label_rollups_hourly.c
    connection.execute(
        label_rollups_hourly.delete().where(
            h.org_id == org_id, h.minute_ns == hour, h.model == model, h.version == version
        )
    )
    r = label_rollups.c
    keys = [r[name] for name in KEY_COLUMNS]
    query = (
        sa.select(
            sa.literal(org_id, sa.String),
            sa.literal(hour, sa.BigInteger),
            *keys,
            *(sa.func.sum(r[name]) for name in LABEL_ROLLUP_SUMS),
            sa.func.max(r.delay_max_s),
        )
        .where(
            r.org_id == org_id,
            r.model == model,
            r.version == version,
            r.minute_ns >= hour,
            r.minute_ns < min(hour + HOUR_NS, NS_MAX),
        )
        .group_by(*keys)
    )
    names = ["org_id", "minute_ns", *KEY_COLUMNS, *LABEL_ROLLUP_SUMS, "delay_max_s"]
    connection.execute(label_rollups_hourly.insert().from_select(names, query))


def backfill(connection: Connection, chunk: int = 100_000) -> int:
    """Build every organisation's rollups from ``label_rows`` (an upgraded database); rows read.

    Reads ``label_rows`` in id order a chunk at a time, so memory follows the number of keys.
    """
    lr = label_rows.c
    by_org: dict[str, dict[tuple[int, Key], LabelRollup]] = {}
    last_id, total = 0, 0
    while True:
        query = _facts_query(lr.id > last_id).add_columns(lr.org_id, lr.id).order_by(lr.id).limit(chunk)
        found = list(connection.execute(query))
        if not found:
            break
        for row in found:
            batch = by_org.setdefault(row[10], {})
            for key, rollup in collect([tuple(row[:10])]).items():  # type: ignore[list-item]
                if key in batch:
                    batch[key].merge(rollup)
                else:
                    batch[key] = rollup
        last_id = found[-1][11]
        total += len(found)
    for org_id, batch in by_org.items():
        items = list(batch.items())
        for start in range(0, len(items), 5_000):
            upsert(connection, org_id, dict(items[start : start + 5_000]))
    return total


def prune(connection: Connection, cutoff_ns: int, org_id: str | None) -> int:
    """One retention step: delete up to an hour of whole minutes (a day of whole hours) before
    the cutoff; rows deleted.

    Once none is left, the cutoff's own minute and hour (partly pruned) are computed again from
    the ``label_rows`` that remain, and 0 is returned.
    """
    first_minute, first_hour = minute_of(cutoff_ns), hour_of(cutoff_ns)
    deleted = prune_step(connection, label_rollups, label_rollups_hourly, cutoff_ns, org_id)
    if deleted is not None:
        return deleted
    if first_minute < cutoff_ns:
        for found_org, keys in _keys_at(connection, label_rollups, first_minute, org_id).items():
            _recompute_minutes(
                connection, found_org, {(first_minute, model, version) for model, version in keys}
            )
    if first_hour < cutoff_ns:
        for found_org, keys in _keys_at(connection, label_rollups_hourly, first_hour, org_id).items():
            for model, version in keys:
                _rebuild_hour(connection, found_org, first_hour, model, version)
    return 0


def _keys_at(
    connection: Connection, table: sa.Table, start_ns: int, org_id: str | None
) -> dict[str, set[tuple[str, str]]]:
    """The (model, version) with rows at ``start_ns``, per organisation."""
    t = table.c
    query = sa.select(t.org_id, t.model, t.version).where(
        t.minute_ns == start_ns, *([t.org_id == org_id] if org_id is not None else [])
    )
    out: dict[str, set[tuple[str, str]]] = {}
    for found_org, model, version in connection.execute(query.distinct()):
        out.setdefault(found_org, set()).add((model, version))
    return out


def _add(out: dict[tuple[Any, ...], LabelRollup], key: tuple[Any, ...], rollup: LabelRollup) -> None:
    if key in out:
        out[key].merge(rollup)
    else:
        out[key] = rollup


def window_sums(
    connection: Connection,
    org_id: str,
    since: int | None,
    until: int | None,
    group: Sequence[str],
    *,
    model: str | None = None,
    version: str | None = None,
    environment: str | None = None,
    buckets: tuple[int, int] | None = None,
    histogram: bool = False,
) -> dict[tuple[Any, ...], LabelRollup]:
    """The sums of the labelled rows whose prediction time is in ``[since, until)``, per group.

    Whole hours come from the hourly table, the whole minutes around them from the per-minute
    one and the partial minutes at the window's edges from ``label_rows``. ``group`` names key
    columns (:data:`KEY_COLUMNS`); ``buckets`` (start ns, width ns) adds a bucket index last
    (hours are read from the hourly table only where one bucket holds the whole hour): a whole
    minute falls in the bucket of its start (the first one, if it starts before ``start``), an
    edge row in that of its prediction time. ``version`` and
    ``environment`` compare with the stored '' for None. ``histogram=False`` leaves the delay
    histogram zero.
    """
    split = split_window(since, until)
    out: dict[tuple[Any, ...], LabelRollup] = {}
    names = [name for name in LABEL_ROLLUP_SUMS if histogram or name not in DELAY_COLUMNS]
    spans: list[tuple[bool, int | None, int | None]] = tiers(split)
    if buckets is not None:
        spans = [(False, low, high) for _, low, high in tiers(split, hourly=False)]
        if split.full_from is not None and split.full_to is not None and split.use_rollups:
            # hours whole in one bucket from the hourly table, the other minutes per minute
            full = (split.full_from, split.full_to)
            spans = list(bucket_spans(buckets[0], split.full_to, buckets[1], minutes=full))
    for hourly, ranges in by_table(spans):
        r = (label_rollups_hourly if hourly else label_rollups).c
        clauses: list[Any] = [in_ranges(r, org_id, ranges)]
        for column, value in ((r.model, model), (r.version, version), (r.environment, environment)):
            if value is not None:
                clauses.append(column == value)
        keys: list[Any] = [r[name] for name in group]
        if buckets is not None:
            start, width = buckets
            keys.append(
                sa.case(
                    (r.minute_ns < start, 0), else_=(r.minute_ns - start) // sa.literal(width, sa.BigInteger)
                )
            )
        query = sa.select(*keys, *(sa.func.sum(r[name]) for name in names), sa.func.max(r.delay_max_s))
        query = query.where(*clauses)
        if keys:
            query = query.group_by(*keys)
        for row in connection.execute(query):
            values = dict(zip(names, row[len(keys) : len(keys) + len(names)], strict=True))
            if not values["rows"]:
                continue  # no rollup row in the span: the aggregate's single NULL row
            rollup = LabelRollup.of_sums(values, float(row[-1]))
            if histogram:
                rollup.histogram = [int(values[name]) for name in DELAY_COLUMNS]
            _add(out, tuple(row[: len(keys)]), rollup)
    lr = label_rows.c
    p = predictions.c
    for start_ns, end_ns in split.edges:
        clauses = [lr.org_id == org_id]
        if start_ns is not None:
            clauses.append(lr.pred_time_ns >= start_ns)
        if end_ns is not None:
            clauses.append(lr.pred_time_ns < end_ns)
        if model is not None:
            clauses.append(lr.model_name == model)
        if version is not None:
            clauses.append(_version_is(lr.model_version, version))
        if environment is not None:
            clauses.append(p.environment.is_(None) if environment == "" else p.environment == environment)
        for fact in connection.execute(_facts_query(*clauses)):
            key = key_of(fact[0], fact[1], fact[2], fact[3], fact[4], fact[6])
            named = dict(zip(KEY_COLUMNS, key, strict=True))
            group_key: tuple[Any, ...] = tuple(named[name] for name in group)
            if buckets is not None:
                group_key += (max(0, (fact[8] - buckets[0]) // buckets[1]),)
            rollup = LabelRollup()
            rollup.add(fact[4], fact[6], fact[5], fact[7], (fact[9] - fact[8]) / 1e9)
            _add(out, group_key, rollup)
    return out
