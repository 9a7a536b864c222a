"""The models and labels reads of the ClickHouse store, as the relational reads answer them."""

from __future__ import annotations

from typing import Any

from ..storage.filters import LabelFilter, Paging
from ..storage.queries import Rows, parse_json
from ..storage.window import Window
from .client import Executor
from .conditions import equal_sql, partition_sql, read_page, window_sql
from .labels import LABEL_COLUMNS, LATEST_LABEL_ROWS, LATEST_LABELS


class CatalogReads:
    """``/models`` and ``/labels``; mixed into the store, which sets ``x`` and ``db``."""

    x: Executor
    db: str

    def list_models(self, org_id: str, window: Window | None = None) -> list[dict[str, Any]]:
        """One row per model and version (as :func:`aither.server.storage.queries.list_models`)."""
        window = window or Window()
        where, params = window_sql(window, "time_ns", partitions=True)
        names = (
            "model_name", "model_version", "predictions", "rows", "errors", "first_seen_ns",
            "last_seen_ns", "framework", "model_class", "environment", "task",
        )  # fmt: skip
        found = self.x.execute(
            "SELECT model_name, model_version, count(), sum(ifNull(output_rows, 0)), sum(is_error), "
            "min(time_ns), max(time_ns), max(framework), max(model_class), max(environment), max(task) "
            f"FROM {self.db}.predictions FINAL WHERE org_id = %(org)s{where} "
            "GROUP BY model_name, model_version ORDER BY model_name, model_version",
            {**params, "org": org_id},
        )
        models = [dict(zip(names, row, strict=True)) for row in found]
        label_where, label_params = window_sql(window, "pred_time_ns", partitions=True)
        latest = LATEST_LABEL_ROWS.format(db=self.db, where=label_where)
        labelled = {
            (name, version): int(count)
            for name, version, count in self.x.execute(
                f"SELECT model_name, model_version, count() FROM ({latest}) WHERE deleted = 0 "
                "GROUP BY model_name, model_version",
                {**label_params, "org": org_id},
            )
        }
        for model in models:
            for key in ("predictions", "rows", "errors", "first_seen_ns", "last_seen_ns"):
                model[key] = int(model[key])
            model["labelled_rows"] = labelled.get((model["model_name"], model["model_version"]), 0)
        return models

    def list_labels(
        self, org_id: str, where: LabelFilter, page: Paging, *, window: Window | None = None
    ) -> Rows:
        """A page of labels, newest first, with where the join put them (as the relational read);
        ``window``: only labels of that time (the trace read knows its spans' times)."""
        params: dict[str, Any] = {"org": org_id}
        # a trace and a model are every version's: filter before picking the newest; the
        # status changes between versions: filter the newest only
        inner = equal_sql({"trace_id": where.trace_id, "model_name": where.model}, params)
        outer = equal_sql({"status": where.status}, params)
        # the time is every version's too: the page's lower bound goes inside
        if window is not None:
            bounds, window_params = window_sql(window, "time_ns")
            inner += bounds + partition_sql(window)
            params.update(window_params)
        latest = LATEST_LABELS.format(db=self.db, where=inner + "{bound}")
        rows, next_cursor = read_page(
            self.x, f"({latest})", LABEL_COLUMNS, f"1{outer}", params, page, widen=window is None
        )
        for row in rows:
            row["is_batch"] = bool(row["is_batch"])
            row["value"] = parse_json(row["value"])
            row["row_indices"] = parse_json(row["row_indices"])
        return rows, next_cursor
