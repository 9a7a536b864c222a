"""Sealed hours: exact aggregates of each past hour, so reads over weeks read hours, not rows.

The reads over long windows (models, model metrics, LLM totals, the labelled rows of stats)
aggregate raw rows with ``FINAL`` (a span stored twice by two servers racing counts once) and
the labelled rows' newest version (``LIMIT 1 BY``): seconds at 10,000,000 rows. The relational
store keeps exact rollups in the transaction that writes the rows; ClickHouse has no
transactions, so here a job computes them after the fact:

- **sealing** (:func:`seal`, run by one server: the holder of the lease): every hour that ended
  :data:`SEAL_AFTER_NS` ago is aggregated from the raw rows, with ``FINAL`` and ``LIMIT 1 BY``
  (an hour is one partition-pruned read), into ``sealed_predictions``, ``sealed_label_rows``,
  ``sealed_labels`` and ``sealed_llm_calls``, each row tagged with the computation's ``seal``
  (a number that grows); then ``sealed_hours`` records (hour, kind, seal). Reads take an hour's
  rows of its newest seal only, so a computation cut short, or an older one, is never read.
  Each kind of row (:data:`KINDS`) is sealed, marked and computed again on its own.
- **writing into a past hour** (a late span, a replay, a label for an old prediction, which
  adds, withdraws or replaces labelled rows): ingest, once the rows are stored, adds a marker
  to ``seal_dirty`` for each hour older than :data:`MARK_AFTER_NS` it wrote into (and each
  kind of row it wrote there). An hour with
  a marker not yet resolved is read from the raw rows. The job reads the markers, computes
  their hours again, records the new seal, then resolves the markers it read (a marker added
  meanwhile stays: its rows may have missed the computation). A marker's rows were stored
  before it, so a marker the job read is covered by the computation that follows.
- **reads** (:func:`plan`, :func:`combined`): the window's whole hours that are sealed and not
  marked come from the aggregates; the rest (the window's partial edges, the hours not yet
  sealed, the marked ones) from the raw rows, in the same query (``UNION ALL``), merged by
  ClickHouse. So the answer is exact whatever the job's lag: a lagging job only makes reads
  read more raw rows.

Clocks: the job seals an hour 15 minutes after its end, ingest marks the hours that ended 5
minutes before it writes, so servers' clocks may differ by up to 10 minutes (less the time
an insert takes). The aggregates are ``MergeTree`` tables, never replaced in place: an hour
computed again adds rows under a new seal, and a read in flight keeps reading the seal it
planned with; the older seals' rows stay until retention drops their day.

One job at a time: two running at once could each resolve markers the other's computation
missed, so it runs under the lease (:class:`~.seal_loop.SealLoop`).

Not sealed: the LLM totals by session (an unbounded key, read from the rows) and the stats'
per-minute rollups (their own materialized views, :mod:`.schema`).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..analysis.scoring import CLASSIFICATION
from ..storage.schema import DELAY_BUCKETS, LATENCY_BUCKETS
from ..storage.window import Window
from .client import Executor, value_set
from .conditions import partition_sql, window_sql

logger = logging.getLogger("aither.server")

HOUR_NS = 3_600_000_000_000
MINUTE_NS = 60_000_000_000
SEAL_AFTER_NS = 15 * MINUTE_NS
"""An hour is sealed this long after its end (the spans of the hour have arrived by then)."""
MARK_AFTER_NS = 5 * MINUTE_NS
"""Ingest marks the hours it writes into that ended this long before."""
_DAY_NS = 24 * HOUR_NS


def _bucket(value: str, buckets: int) -> str:
    """The one-hot histogram of ``value``: bucket ``ceil(2 log2(v))`` clamped, 0 for v <= 1
    (as :func:`aither.server.detection.rollups.latency_bucket` and the label delay's bucket)."""
    index = f"if({value} > 1, least({buckets - 1}, toUInt64(ceil(2 * log2({value})))), 0)"
    return f"arrayMap(i -> toUInt64(i = {index}), range({buckets}))"


@dataclass(frozen=True)
class Spec:
    """One aggregate: its table, its keys (column, raw expression) and its sums (column, raw
    aggregate, merging aggregate), and the raw rows it is computed from (``{where}``: the
    conditions; the source names the database as ``{db}``), and its kind (:data:`KINDS`)."""

    table: str
    kind: str
    source: str
    time_column: str
    keys: tuple[tuple[str, str], ...]
    sums: tuple[tuple[str, str, str], ...]


_VERSION_KEYS = (
    ("model_name", "model_name"),
    ("version", "ifNull(model_version, '')"),
    ("version_null", "isNull(model_version)"),
    ("env", "ifNull(environment, '')"),
    ("env_null", "isNull(environment)"),
)
_LATENCY_BUCKET = _bucket("latency_ms", LATENCY_BUCKETS)
PREDICTIONS = Spec(
    "sealed_predictions",
    "predictions",
    "{db}.predictions FINAL WHERE 1{where}",
    "time_ns",
    _VERSION_KEYS,
    (
        ("predictions", "count()", "sum(predictions)"),
        ("out_rows", "sum(ifNull(output_rows, 0))", "sum(out_rows)"),
        ("errors", "sum(is_error)", "sum(errors)"),
        ("latency_sum", "sum(latency_ms)", "sum(latency_sum)"),
        ("first_ns", "min(time_ns)", "min(first_ns)"),
        ("last_ns", "max(time_ns)", "max(last_ns)"),
        # the newest prediction's task, '=' before it, '' for none (argMax would skip a NULL)
        ("last_task", "argMax(ifNull(concat('=', task), ''), time_ns)", "argMax(last_task, last_ns)"),
        ("max_framework", "max(framework)", "max(max_framework)"),
        ("max_model_class", "max(model_class)", "max(max_model_class)"),
        ("max_task", "max(task)", "max(max_task)"),
        ("latency_histogram", f"sumForEach({_LATENCY_BUCKET})", "sumForEach(latency_histogram)"),
    ),
)  # fmt: skip

_PAIR = f"(ifNull(task, '') = '{CLASSIFICATION}' AND isNotNull(pred_class) AND isNotNull(label_class))"
_DELAY = "((toInt64(label_time_ns) - toInt64(pred_time_ns)) / 1e9)"
LABEL_ROWS = Spec(
    "sealed_label_rows",
    "labels",
    # the labelled rows in force: each row's newest version, not withdrawn
    "(SELECT org_id, model_name, model_version, environment, task, pred_class, pred_num, label_class, "
    "label_num, pred_time_ns, label_time_ns, deleted FROM {db}.label_rows WHERE 1{where} "
    "ORDER BY version DESC LIMIT 1 BY org_id, model_name, pred_trace_id, pred_span_id, row_index) "
    "WHERE deleted = 0",
    "pred_time_ns",
    (
        *_VERSION_KEYS,
        ("task_key", "ifNull(task, '')"),
        ("pair", _PAIR),
        ("pred_key", f"if({_PAIR}, ifNull(pred_class, ''), '')"),
        ("label_key", f"if({_PAIR}, ifNull(label_class, ''), '')"),
    ),
    (
        ("labelled", "count()", "sum(labelled)"),
        ("correct", "sum(ifNull(pred_class = label_class, 0))", "sum(correct)"),
        ("classified", "count(label_class)", "sum(classified)"),
        ("num_rows", "sum(isNotNull(pred_num) AND isNotNull(label_num))", "sum(num_rows)"),
        ("abs_err_sum", "sum(ifNull(abs(pred_num - label_num), 0))", "sum(abs_err_sum)"),
        ("sq_err_sum", "sum(ifNull((pred_num - label_num) * (pred_num - label_num), 0))", "sum(sq_err_sum)"),
        ("delay_sum", f"sum({_DELAY})", "sum(delay_sum)"),
        ("delay_max", f"max({_DELAY})", "max(delay_max)"),
        ("delay_histogram", f"sumForEach({_bucket(_DELAY, DELAY_BUCKETS)})", "sumForEach(delay_histogram)"),
    ),
)  # fmt: skip

LABELS = Spec(
    "sealed_labels",
    "labels",
    # each label's newest version (its model and time are every version's; its status changes)
    "(SELECT org_id, model_name, status, time_ns FROM {db}.labels WHERE 1{where} "
    "ORDER BY version DESC LIMIT 1 BY org_id, trace_id, span_id)",
    "time_ns",
    (("model_key", "ifNull(model_name, '')"), ("model_null", "isNull(model_name)"), ("status_key", "status")),
    (("labels", "count()", "sum(labels)"),),
)

LLM_DIMENSIONS = {"user": "user_id", "service": "service", "model": "request_model", "provider": "provider"}
"""The LLM totals' groups that are sealed, and their column (a session is one conversation:
an unbounded key, read from the rows)."""


def llm_spec(dimension: str) -> Spec:
    """The LLM totals of one group (:data:`LLM_DIMENSIONS`)."""
    column = LLM_DIMENSIONS[dimension]
    return Spec(
        "sealed_llm_calls",
        "llm",
        "{db}.llm_calls FINAL WHERE 1{where}",
        "time_ns",
        (("dim", f"'{dimension}'"), ("key", f"ifNull({column}, '')"), ("key_null", f"isNull({column})")),
        (
            ("calls", "count()", "sum(calls)"),
            ("errors", "sum(is_error)", "sum(errors)"),
            ("in_tokens", "sum(ifNull(input_tokens, 0))", "sum(in_tokens)"),
            ("out_tokens", "sum(ifNull(output_tokens, 0))", "sum(out_tokens)"),
            ("cost", "sum(ifNull(cost_usd, 0))", "sum(cost)"),
            ("unpriced", "sum(isNull(cost_usd))", "sum(unpriced)"),
        ),
    )


KINDS = ("predictions", "labels", "llm")
"""What a write changes, each sealed and marked on its own: predictions (their rows), labels
(label versions and labelled rows, which labels and late predictions change), LLM calls. So
labels arriving for the last hours' predictions compute those hours' label aggregates again,
not the LLM totals of every user in them."""
SPECS = (PREDICTIONS, LABEL_ROWS, LABELS, *(llm_spec(dimension) for dimension in LLM_DIMENSIONS))


# --- reads -----------------------------------------------------------------------------------

Range = tuple[int | None, int | None]


@dataclass(frozen=True)
class Plan:
    """A window as sealed hours (hour, seal) and the raw ranges around them."""

    sealed: tuple[tuple[int, int], ...]
    raw: tuple[Range, ...]


def plan(x: Executor, db: str, window: Window, kind: str) -> Plan:
    """The whole hours of ``window`` sealed for ``kind`` (:data:`KINDS`) and not marked since,
    and the rest of it as ranges."""
    since, until = window.since_ns, window.until_ns
    first = None if since is None else -(-since // HOUR_NS) * HOUR_NS
    last = None if until is None else until // HOUR_NS * HOUR_NS
    if first is not None and last is not None and first >= last:
        return Plan((), ((since, until),))
    whole = Window(first, None if last is None else last - HOUR_NS + 1)
    where, params = window_sql(whole, "hour_ns")
    where += partition_sql(whole, "hour") + " AND kind = %(kind)s"
    params["kind"] = kind
    found = x.execute(
        f"SELECT hour_ns, max(seal) FROM {db}.sealed_hours WHERE 1{where} AND hour_ns NOT IN ("
        f"SELECT hour_ns FROM {db}.seal_dirty WHERE 1{where} GROUP BY hour_ns, marker "
        "HAVING max(resolved) = 0) GROUP BY hour_ns ORDER BY hour_ns",
        params,
    )
    sealed = tuple((int(hour), int(seal)) for hour, seal in found)
    raw: list[Range] = []
    cursor = since
    for hour, _ in sealed:
        if cursor is None or cursor < hour:
            raw.append((cursor, hour))
        cursor = hour + HOUR_NS
    if cursor is None or until is None or cursor < until:
        raw.append((cursor, until))
    return Plan(sealed, tuple(raw))


def ranges_sql(ranges: Sequence[Range], column: str, params: dict[str, Any], day: str = "time") -> str:
    """`` AND (one range OR another ...)`` on a UInt64 time ``column`` and, to prune partitions,
    on its ``DateTime`` ``day`` column; the bounds go into ``params``."""
    terms = []
    for index, (low, high) in enumerate(ranges):
        sql, bounds = window_sql(Window(low, high), column)
        sql += partition_sql(Window(low, high), day)
        for name, value in bounds.items():
            sql = sql.replace(f"%({name})s", f"%(r{index}_{name})s")
            params[f"r{index}_{name}"] = value
        terms.append(f"(1{sql})")
    return f" AND ({' OR '.join(terms)})" if terms else ""


def combined(
    x: Executor,
    db: str,
    spec: Spec,
    org_id: str,
    window: Window,
    group: Sequence[str],
    *,
    equal: dict[str, Any] | None = None,
    extra: Sequence[str] = (),
    tail: str = "",
    params: dict[str, Any] | None = None,
) -> list[tuple[Any, ...]]:
    """The sums of ``spec`` over ``window`` per ``group`` (key columns): the group's values,
    then each sum, merged from the sealed hours and the raw rows around them, then ``extra``
    (more aggregates of the key columns and sums). ``equal``: key columns to match (by their
    raw expression on the rows); ``tail``: SQL after the ``GROUP BY``
    (an order, a limit), with ``params``."""
    where = plan(x, db, window, spec.kind)
    params = {**(params or {}), "org": org_id}
    conditions = ""
    raw_conditions = ""
    raw_keys = dict(spec.keys)
    for index, (column, value) in enumerate((equal or {}).items()):
        params[f"k{index}"] = value
        conditions += f" AND {column} = %(k{index})s"
        raw_conditions += f" AND {raw_keys[column]} = %(k{index})s"
    names = [name for name, _ in spec.keys] + [name for name, _, _ in spec.sums]
    branches = []
    if where.sealed:
        # the plan's (hour, seal) pairs, said without listing them (a year is 8,760, past the
        # longest query ClickHouse takes): its hours as runs, each hour's newest seal up to the
        # plan's newest (a later computation of them has a higher one; see :func:`_runs`)
        hours = [hour for hour, _ in where.sealed]
        runs = " OR ".join(f"(hour_ns >= {low} AND hour_ns <= {high})" for low, high in _runs(hours))
        params.update(kind=spec.kind, top=max(seal for _, seal in where.sealed))
        bounds, hour_params = window_sql(Window(min(hours), max(hours) + 1), "hour_ns")
        bounds += partition_sql(Window(min(hours), max(hours) + 1), "hour")
        params.update({f"h_{name}": value for name, value in hour_params.items()})
        for name in hour_params:
            bounds = bounds.replace(f"%({name})s", f"%(h_{name})s")
        branches.append(
            f"SELECT {', '.join(names)} FROM {db}.{spec.table} WHERE org_id = %(org)s{bounds} AND ({runs}) "
            f"AND (hour_ns, seal) IN (SELECT hour_ns, max(seal) FROM {db}.sealed_hours WHERE kind = %(kind)s "
            f"AND seal <= %(top)s AND ({runs}) GROUP BY hour_ns){conditions}"
        )
    if where.raw:
        raw_where = f" AND org_id = %(org)s{ranges_sql(where.raw, spec.time_column, params)}{raw_conditions}"
        branches.append(_raw_select(spec, db, raw_where))
    merged = [merge for _, _, merge in spec.sums]
    return x.execute(
        f"SELECT {', '.join([*group, *merged, *extra])} FROM ({' UNION ALL '.join(branches)}) "
        f"GROUP BY {', '.join(group)}{tail}",
        params,
    )


def _runs(hours: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted hours as runs of consecutive ones: (first, last) each.

    Why the runs and the plan's newest seal name the plan's pairs exactly: an hour of the plan
    was sealed and not marked when planned. The job computes an hour again only for a marker
    it read before computing and resolves after recording, so an hour of the plan gets no new
    computation that the plan could have seen; a later one has a seal above every seal recorded
    when it began, so above the plan's. A computation under way when planned records other
    hours too, with a seal up to the plan's newest, but those hours are not in the plan's runs.
    """
    runs: list[tuple[int, int]] = []
    for hour in hours:
        if runs and runs[-1][1] + HOUR_NS == hour:
            runs[-1] = (runs[-1][0], hour)
        else:
            runs.append((hour, hour))
    return runs


def _raw_select(spec: Spec, db: str, where: str, extra_keys: Sequence[str] = ()) -> str:
    keys = [*extra_keys, *(f"{expression} AS {name}" for name, expression in spec.keys)]
    sums = [f"{aggregate} AS {name}" for name, aggregate, _ in spec.sums]
    group = [key.rsplit(" AS ", 1)[-1] for key in keys]
    source = spec.source.format(db=db, where=where)
    return f"SELECT {', '.join([*keys, *sums])} FROM {source} GROUP BY {', '.join(group)}"


# --- writes ----------------------------------------------------------------------------------


def hours_to_mark(times_ns: Iterable[int], now_ns: int) -> set[int]:
    """The hours of ``times_ns`` that ended :data:`MARK_AFTER_NS` before ``now_ns``."""
    return {hour for t in times_ns if (hour := t // HOUR_NS * HOUR_NS) + HOUR_NS <= now_ns - MARK_AFTER_NS}


def mark(x: Executor, db: str, hours: Mapping[str, Iterable[int]]) -> None:
    """Mark the hours of each kind as written into since sealed (after the rows are stored)."""
    found = [
        (hour, kind, secrets.randbits(63), 0)
        for kind, of_kind in hours.items()
        for hour in sorted(set(of_kind))
    ]
    x.insert(f"{db}.seal_dirty", ("hour_ns", "kind", "marker", "resolved"), found)


def seal(x: Executor, db: str, now_ns: int | None = None, held: Callable[[], bool] | None = None) -> int:
    """Seal the hours that ended :data:`SEAL_AFTER_NS` before ``now_ns`` (the clock by default),
    and compute again those marked since, kind by kind; the hours computed. ``held``: whether
    this server still holds the lease, asked before each record and resolution is written (a
    holder paused past its lease stops there: the next holder computes those hours again)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    frontier = (now_ns - SEAL_AFTER_NS) // HOUR_NS * HOUR_NS  # the first hour not to seal
    markers = [
        (kind, int(hour), int(marker))
        for kind, hour, marker in x.execute(
            f"SELECT kind, hour_ns, marker FROM {db}.seal_dirty GROUP BY kind, hour_ns, marker "
            "HAVING max(resolved) = 0"
        )
    ]
    newest = {
        kind: (int(hour), int(last))
        for kind, hour, last in x.execute(
            f"SELECT kind, max(hour_ns), max(seal) FROM {db}.sealed_hours GROUP BY kind"
        )
    }
    version = max([time.time_ns(), *(last + 1 for _, last in newest.values())])
    computed: set[int] = set()
    for kind in KINDS:
        specs = [spec for spec in SPECS if spec.kind == kind]
        start = newest[kind][0] + HOUR_NS if kind in newest else 0
        hours = {hour for of_kind, hour, _ in markers if of_kind == kind and hour < frontier}
        for day in _days_with_rows(x, db, specs, start, frontier):
            hours.update(range(max(start, day * _DAY_NS), min(frontier, (day + 1) * _DAY_NS), HOUR_NS))
        by_day: dict[int, list[int]] = {}
        for hour in sorted(hours):
            by_day.setdefault(hour // _DAY_NS, []).append(hour)
        for day_hours in by_day.values():
            _compute(x, db, specs, day_hours, version)
            if held is not None and not held():
                return len(computed)
            x.insert(
                f"{db}.sealed_hours",
                ("hour_ns", "kind", "seal"),
                [(hour, kind, version) for hour in day_hours],
            )
        if held is not None and not held():
            return len(computed)
        resolved = [
            (hour, kind, marker, 1) for of_kind, hour, marker in markers if of_kind == kind and hour in hours
        ]
        x.insert(f"{db}.seal_dirty", ("hour_ns", "kind", "marker", "resolved"), resolved)
        computed |= hours
    return len(computed)


def _days_with_rows(x: Executor, db: str, specs: Sequence[Spec], start: int, end: int) -> set[int]:
    """The days (ns // day) of ``[start, end)`` that the tables ``specs`` aggregate hold rows
    of: the hours of days without any are left unsealed (a read finds no partition of them)."""
    if start >= end:
        return set()
    params: dict[str, Any] = {}
    days: set[int] = set()
    for table, column in sorted({(spec.table.removeprefix("sealed_"), spec.time_column) for spec in specs}):
        where = ranges_sql([(start, end)], column, params)
        found = x.execute(
            f"SELECT DISTINCT intDiv({column}, {_DAY_NS}) FROM {db}.{table} WHERE 1{where}", params
        )
        days.update(int(day) for (day,) in found)
    return days


def _compute(x: Executor, db: str, specs: Sequence[Spec], hours: list[int], version: int) -> None:
    """Aggregate ``hours`` (of one day) of every organisation under seal ``version``."""
    params: dict[str, Any] = {"hours": value_set(hours), "seal": version}
    for spec in specs:
        where = ranges_sql([(hours[0], hours[-1] + HOUR_NS)], spec.time_column, params)
        where += f" AND intDiv({spec.time_column}, {HOUR_NS}) * {HOUR_NS} IN %(hours)s"
        hour = f"intDiv({spec.time_column}, {HOUR_NS}) * {HOUR_NS} AS hour_ns"
        select = _raw_select(spec, db, where, ("org_id", hour, "toUInt64(%(seal)s) AS seal"))
        columns = ["org_id", "hour_ns", "seal", *(n for n, _ in spec.keys), *(n for n, _, _ in spec.sums)]
        x.execute(f"INSERT INTO {db}.{spec.table} ({', '.join(columns)}) {select}", params)
