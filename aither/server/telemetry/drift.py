"""What drift reads from the ClickHouse store: labelled rows since a cursor, and stats samples.

Drift's state (references, window scores, anomalies) stays relational; with telemetry in
ClickHouse, the labelled rows that concept drift follows and the prediction spans a reference
is built from live here. The relational reads follow ``label_rows`` by its id; here a labelled
row's ``version`` (the label join's write that made it, increasing) is the cursor, and the rows
of one write come in the order the relational join inserts them: by label time and label, then
row index.
"""

from __future__ import annotations

from typing import Any

from ...schema import semconv as sc
from .client import Executor

LabelledRow = tuple[int, str, str | None, str | None, str | None, str | None, float | None, float | None, int]
"""(cursor, model, version, task, pred_class, label_class, pred_num, label_num, pred_time_ns):
the columns of ``label_rows`` that concept drift reads, the cursor first."""

_NANOS = 1_000_000_000


class DriftReads:
    """Drift's reads; mixed into the store, which sets ``x`` and ``db``."""

    x: Executor
    db: str

    def label_cursor(self, org_id: str, before_ns: int) -> int:
        """The cursor past the labelled rows of labels older than ``before_ns`` (history, not
        news, to a server that starts); 0 when there are none."""
        found = self.x.execute(
            f"SELECT max(version), count() FROM {self.db}.label_rows "
            "WHERE org_id = %(org)s AND label_time_ns < %(before)s",
            {"org": org_id, "before": max(before_ns, 0)},
        )
        return int(found[0][0] or 0) if found and int(found[0][1]) else 0

    def labelled_rows_after(self, org_id: str, cursor: int, limit: int) -> list[LabelledRow]:
        """The labelled rows (not withdrawn) written after ``cursor``, oldest write first: whole
        writes, about ``limit`` rows (the first write whole, however large). One query, but
        when a write is cut at the limit."""
        params: dict[str, Any] = {"org": org_id, "cursor": cursor, "limit": limit}
        select = (
            "SELECT version, model_name, model_version, task, pred_class, label_class, pred_num, "
            f"label_num, pred_time_ns FROM {self.db}.label_rows WHERE org_id = %(org)s "
            "AND version > %(cursor)s AND deleted = 0 {more}"
            "ORDER BY version, label_time_ns, label_trace_id, label_span_id, row_index"
        )
        rows = self.x.execute(select.format(more="") + " LIMIT %(limit)s", params)
        if len(rows) >= limit:  # the last write may go on past the limit
            last = rows[-1][0]
            rows = [row for row in rows if row[0] != last]
            if not rows:  # one write larger than the limit: all of it
                rows = self.x.execute(select.format(more="AND version = %(last)s "), {**params, "last": last})
        return [(int(row[0]), *row[1:-1], int(row[-1])) for row in rows]  # type: ignore[misc]

    def prediction_samples(
        self, org_id: str, model: str, start_ns: int, end_ns: int, limit: int
    ) -> list[str]:
        """The attributes (JSON) of the model's prediction spans that started in ``[start, end)``,
        oldest first, at most ``limit`` (as :func:`aither.server.drift.store.window_tables` reads)."""
        if end_ns <= start_ns:
            return []
        start, end = max(start_ns, 0), min(max(end_ns, 0), 2**64 - 1)
        rows = self.x.execute(
            f"SELECT attributes FROM {self.db}.spans FINAL WHERE org_id = %(org)s "
            "AND time >= toDateTime(%(first_s)s) AND time <= toDateTime(%(last_s)s) "
            "AND aither_kind = %(kind)s AND name = %(name)s "
            "AND start_time_ns >= %(start)s AND start_time_ns < %(end)s "
            "ORDER BY start_time_ns, trace_id, span_id LIMIT %(limit)s",
            {
                "org": org_id,
                "first_s": min(start // _NANOS, 2**32 - 1),
                "last_s": min(end // _NANOS, 2**32 - 1),
                "kind": sc.SPAN_KIND_PREDICTION,
                "name": f"predict {model}",
                "start": start,
                "end": end,
                "limit": limit,
            },
        )
        return [attributes for (attributes,) in rows]
