"""The dashboard's reads on the ClickHouse store, as :mod:`aither.server.dashboard.queries`
answers them from the relational rollups.

Sums per bucket and latency histograms come from the ``rollups`` (the AggregatingMergeTree the
ingest's rollup rows fold into: one row per key and minute once merged, ``sumMerge`` meanwhile);
every minute counts in the bucket it starts in, as the relational minute and hourly rollups
count it. The quality series reads the labelled rows now in force (``label_rows``, newest
version): a row of a whole minute in the bucket of its minute, a row of the window's partial
first or last minute in that of its prediction time, as the relational label-join rollups and
their edge rows give. The newest rows are one ``ORDER BY time_ns DESC LIMIT 1`` each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..dashboard.queries import Bucket, BucketQuery, Quality
from ..storage.rollup_time import MINUTE_NS, ceil_to, minute_of
from ..storage.schema import LATENCY_BUCKETS
from ..storage.window import Window
from .client import Executor
from .conditions import window_sql
from .labels import LATEST_LABEL_ROWS


def _bucket_sql(time: str, since_ns: int, bucket_ns: int) -> tuple[str, Callable[[int], int]]:
    """The SQL of a bucket index of ``time`` (never before ``since``), and what turns its value
    into the index: before 1970 (a negative ``since``), the time itself, divided here."""
    if since_ns >= 0:
        return f"intDiv({time} - %(since)s, %(width)s)", int
    return time, lambda value: (int(value) - since_ns) // bucket_ns


class DashboardReads:
    """The dashboard's reads; mixed into the store, which sets ``x`` and ``db``."""

    x: Executor
    db: str

    def dashboard_buckets(self, query: BucketQuery) -> dict[tuple[str, ...], dict[int, Bucket]]:
        """Per (model[, version]) and bucket index: the sums of ``since <= minute < until``
        (the minute ``since`` falls in counts in bucket 0)."""
        q = query
        group = list(q.group)
        index, to_index = _bucket_sql("greatest(minute_ns, %(since)s)", q.since_ns, q.bucket_ns)
        params: dict[str, Any] = {
            "org": q.org_id,
            "kind": q.kind,
            "first": max(minute_of(q.since_ns), 0),
            "until": max(q.until_ns, 0),
            "since": max(q.since_ns, 0),
            "width": q.bucket_ns,
        }
        where = "org_id = %(org)s AND kind = %(kind)s AND minute_ns >= %(first)s AND minute_ns < %(until)s"
        for column, value in q.only.items():
            where += f" AND {column} = %({column})s"
            params[column] = value
        names = (*Bucket.COUNTS, *Bucket.TOTALS)
        sums = ", ".join(f"sumMerge({name})" for name in names)
        keys = ", ".join([*group, "bucket"])
        inner = ", ".join([*group, f"{index} AS bucket", "environment", *names])
        found = self.x.execute(
            f"SELECT {keys}, {sums}, max(environment) FROM (SELECT {inner} FROM {self.db}.rollups "
            f"WHERE {where}) GROUP BY {keys}",
            params,
        )
        out: dict[tuple[str, ...], dict[int, Bucket]] = {}
        width = len(group)
        for row in found:
            values = row[width + 1 :]
            bucket = Bucket(environment=values[-1] or "")
            bucket.set_sums(dict(zip(names, values, strict=False)))
            buckets = out.setdefault(tuple(row[:width]), {})
            position = to_index(row[width])
            if position in buckets:
                buckets[position].add(bucket)
            else:
                buckets[position] = bucket
        return out

    def dashboard_histograms(
        self, org_id: str, kind: str, since_ns: int, until_ns: int, *, by_version: bool
    ) -> dict[tuple[str, ...], list[int]]:
        """Per model (and version): the latency histogram of ``since <= minute < until``."""
        group = "model, version" if by_version else "model"
        found = self.x.execute(
            f"SELECT {group}, sumForEachMerge(latency_histogram) FROM {self.db}.rollups "
            "WHERE org_id = %(org)s AND kind = %(kind)s AND minute_ns >= %(first)s AND minute_ns < %(end)s "
            f"GROUP BY {group}",
            {
                "org": org_id,
                "kind": kind,
                "first": max(minute_of(since_ns), 0),
                "end": max(ceil_to(until_ns, MINUTE_NS), 0),
            },
        )
        out: dict[tuple[str, ...], list[int]] = {}
        for row in found:
            counts = [int(count) for count in row[-1]]
            out[tuple(row[:-1])] = (counts + [0] * LATENCY_BUCKETS)[:LATENCY_BUCKETS]
        return out

    def newest_prediction(
        self, org_id: str, name: str, version: str, window: Window
    ) -> tuple[int | None, str | None]:
        """Time and task of a model version's newest prediction in the window ('' for no version)."""
        where, params = window_sql(window, "time_ns")
        where += " AND model_version = %(version)s" if version else " AND isNull(model_version)"
        found = self.x.execute(
            f"SELECT time_ns, task FROM {self.db}.predictions WHERE org_id = %(org)s "
            f"AND model_name = %(name)s{where} ORDER BY time_ns DESC LIMIT 1",
            {**params, "org": org_id, "name": name, "version": version},
        )
        return (int(found[0][0]), found[0][1]) if found else (None, None)

    def newest_call(self, org_id: str, model: str, window: Window) -> tuple[int | None, Any]:
        """Time and provider of an LLM model's newest call in the window (the model: the response
        model, else the request model, else ``(unknown)``)."""
        where, params = window_sql(window, "time_ns")
        found = self.x.execute(
            f"SELECT time_ns, provider FROM {self.db}.llm_calls WHERE org_id = %(org)s "
            f"AND ifNull(response_model, ifNull(request_model, '(unknown)')) = %(model)s{where} "
            "ORDER BY time_ns DESC LIMIT 1",
            {**params, "org": org_id, "model": model},
        )
        return (int(found[0][0]), found[0][1]) if found else (None, None)

    def quality(
        self, org_id: str, model: str, version: str | None, window: Window, since_ns: int, bucket_ns: int
    ) -> dict[int, Quality]:
        """Per bucket of the prediction's time: labelled rows, right classes, and the sum and
        count of absolute errors, of the window's labelled rows of ``model`` (and ``version``)."""
        where, params = window_sql(window, "pred_time_ns")
        where += " AND model_name = %(model)s"
        if version is not None:
            where += " AND model_version = %(version)s" if version else " AND isNull(model_version)"
        since = window.since_ns if window.since_ns is not None else 0
        until = window.until_ns if window.until_ns is not None else 2**63 - 1
        full_from, full_to = max(ceil_to(since, MINUTE_NS), 0), max(minute_of(until), 0)
        # a whole minute's rows count at its start, an edge row at its own time
        at = (
            "if(pred_time_ns >= %(full_from)s AND pred_time_ns < %(full_to)s, "
            f"intDiv(pred_time_ns, {MINUTE_NS}) * {MINUTE_NS}, pred_time_ns)"
        )
        index, to_index = _bucket_sql(at, since_ns, bucket_ns)
        latest = LATEST_LABEL_ROWS.format(db=self.db, where=where)
        found = self.x.execute(
            f"SELECT {index} AS bucket, count(), sum(ifNull(pred_class = label_class, 0)), "
            f"sum(abs(pred_num - label_num)), count(pred_num - label_num) FROM ({latest}) "
            "WHERE deleted = 0 GROUP BY bucket",
            {
                **params,
                "org": org_id,
                "model": model,
                "version": version,
                "full_from": full_from,
                "full_to": full_to,
                "since": max(since_ns, 0),
                "width": bucket_ns,
            },
        )
        out: dict[int, Quality] = {}
        for position, rows, correct, abs_sum, num_rows in found:
            before = out.get(to_index(position), Quality())
            out[to_index(position)] = Quality(
                before.rows + int(rows),
                before.correct + int(correct or 0),
                before.abs_err_sum + float(abs_sum or 0.0),
                before.num_rows + int(num_rows),
            )
        return out

    def newest_times(self, org_id: str) -> list[int | None]:
        """The newest span, prediction and LLM call time of the organisation (None where empty)."""
        out: list[int | None] = []
        for table, column in (
            ("spans", "start_time_ns"),
            ("predictions", "time_ns"),
            ("llm_calls", "time_ns"),
        ):
            ((newest, count),) = self.x.execute(
                f"SELECT max({column}), count() FROM {self.db}.{table} WHERE org_id = %(org)s",
                {"org": org_id},
            )
            out.append(int(newest) if int(count) else None)  # max() of no rows is 0 here, not NULL
        return out
