"""The models and labels reads of the ClickHouse store, as the relational reads answer them."""

from __future__ import annotations

from typing import Any

from ..storage.filters import LabelFilter, Paging
from ..storage.queries import Rows, parse_json
from ..storage.window import Window
from .client import Executor
from .conditions import equal_sql, partition_sql, read_page, window_sql
from .labels import LABEL_COLUMNS, LATEST_LABELS
from .sealed import LABEL_ROWS, PREDICTIONS, combined


class CatalogReads:
    """``/models`` and ``/labels``; mixed into the store, which sets ``x`` and ``db``."""

    x: Executor
    db: str

    def list_models(self, org_id: str, window: Window | None = None) -> list[dict[str, Any]]:
        """One row per model and version (as :func:`aither.server.storage.queries.list_models`)."""
        window = window or Window()
        names = (
            "model_name", "model_version", "predictions", "rows", "errors", "first_seen_ns",
            "last_seen_ns", "framework", "model_class", "task", "environment",
        )  # fmt: skip
        # whole sealed hours from their aggregates, the rest from the rows (exact either way)
        found = combined(
            self.x, self.db, PREDICTIONS, org_id, window, ("model_name", "version", "version_null"),
            extra=("max(if(env_null = 1, NULL, env))",),
            tail=" ORDER BY model_name, version_null, version",
        )  # fmt: skip
        models = []
        for row in found:
            sums = dict(zip((name for name, _, _ in PREDICTIONS.sums), row[3:-1], strict=True))
            values = (
                row[0], None if int(row[2]) else row[1], sums["predictions"], sums["out_rows"],
                sums["errors"], sums["first_ns"], sums["last_ns"], sums["max_framework"],
                sums["max_model_class"], sums["max_task"], row[-1],
            )  # fmt: skip
            models.append(dict(zip(names, values, strict=True)))
        labelled: dict[tuple[str, str | None], int] = {}
        for name, version, version_null, count, *_ in combined(
            self.x, self.db, LABEL_ROWS, org_id, window, ("model_name", "version", "version_null")
        ):
            labelled[(name, None if int(version_null) else version)] = int(count)
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
