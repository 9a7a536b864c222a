"""Model metrics and the labelled rows of stats on ClickHouse, as the relational reads answer.

Volume, latency, labelled rows, label delay and the quality scores are sums: the whole sealed
hours of the window come from their aggregates and the rest from the rows (:mod:`.sealed`),
so they are exact for any window. Percentiles are exact (sorted from the rows) up to
:data:`~aither.server.storage.metrics.EXACT_PERCENTILES_UP_TO` predictions and
:data:`~aither.server.storage.metrics.EXACT_DELAY_PERCENTILES_UP_TO` labelled rows in the
window, and read from the summed histograms past that (within ~19 %), as the relational
store reads them from its rollups' histograms.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..analysis.quality import classification_scores
from ..analysis.scoring import CLASSIFICATION, REGRESSION
from ..detection.rollups import histogram_quantile
from ..storage.filters import ModelScope
from ..storage.metrics import (
    DELAY_QUANTILES,
    EXACT_DELAY_PERCENTILES_UP_TO,
    EXACT_PERCENTILES_UP_TO,
    LATENCY_QUANTILES,
    quantiles_of,
)
from ..storage.window import Window
from .client import Executor
from .conditions import equal_sql, window_sql
from .labels import LATEST_LABEL_ROWS
from .sealed import LABEL_ROWS, PREDICTIONS, combined

_DELAY = "(toInt64(label_time_ns) - toInt64(pred_time_ns)) / 1e9"
"""The label delay in seconds: the difference in integers first (as floats, 1.8e18 ns would
lose 256 ns steps)."""


def scope_columns(scope: ModelScope) -> dict[str, str | None]:
    """The parts of a scope, by their column in ``predictions``."""
    return {"model_name": scope.model, "model_version": scope.version, "environment": scope.environment}


def _sealed_keys(scope: ModelScope) -> dict[str, Any]:
    """The parts of a scope, by the key columns of the sealed aggregates."""
    keys: dict[str, Any] = {"model_name": scope.model}
    if scope.version is not None:
        keys.update(version=scope.version, version_null=0)
    if scope.environment is not None:
        keys.update(env=scope.environment, env_null=0)
    return keys


def _version_entry(
    version: str | None, count: int, rows: int, errors: int, latency_sum: float
) -> dict[str, Any]:
    return {
        "version": version,
        "predictions": count,
        "rows": rows,
        "errors": errors,
        "error_rate": errors / count if count else 0.0,
        "latency_ms": {"mean": latency_sum / count if count else None},
        "labelled_rows": 0,
        "label_coverage": 0.0,
        "label_delay_s": None,
        "classification": None,
        "regression": None,
    }


def _histogram(values: Sequence[Any]) -> list[float]:
    return [float(count) for count in values]


class MetricsReads:
    """``/models/{m}/metrics`` and the labelled rows of ``/stats``; mixed into the store."""

    x: Executor
    db: str

    def _label_rows(self, where: str) -> str:
        """The labelled rows now in force, as a ``FROM`` source (``where``: on their key columns)."""
        return f"({LATEST_LABEL_ROWS.format(db=self.db, where=where)}) WHERE deleted = 0"

    def scored_rows(
        self, org_id: str, since_ns: int, until_ns: int
    ) -> dict[tuple[str, str], tuple[int, int, int]]:
        """Per (model, version or ''): labelled rows, correctly classified, classified (for stats)."""
        found = combined(
            self.x, self.db, LABEL_ROWS, org_id, Window(since_ns, until_ns), ("model_name", "version")
        )
        return {(name, version): (int(sums[0]), int(sums[1]), int(sums[2])) for name, version, *sums in found}

    def model_metrics(self, org_id: str, scope: ModelScope) -> list[dict[str, Any]]:
        """Metrics of ``scope.model`` per version, as :func:`aither.server.storage.metrics.model_metrics`."""
        keys = _sealed_keys(scope)
        group = ("version", "version_null")
        names = [name for name, _, _ in PREDICTIONS.sums]
        versions: dict[str | None, dict[str, Any]] = {}
        histograms: dict[str | None, list[float]] = {}
        for version, version_null, *values in combined(
            self.x, self.db, PREDICTIONS, org_id, scope.window, group, equal=keys
        ):
            sums = dict(zip(names, values, strict=True))
            key = None if int(version_null) else version
            versions[key] = _version_entry(
                key,
                int(sums["predictions"]),
                int(sums["out_rows"]),
                int(sums["errors"]),
                float(sums["latency_sum"]),
            )
            versions[key].update(
                first_seen_ns=int(sums["first_ns"]),
                last_seen_ns=int(sums["last_ns"]),
                task=sums["last_task"][1:] if sums["last_task"] else None,
            )
            histograms[key] = _histogram(sums["latency_histogram"])
        if not versions:
            return []
        where, params = window_sql(scope.window, "time_ns", partitions=True)
        where += equal_sql(scope_columns(scope), params)
        params["org"] = org_id
        if sum(entry["predictions"] for entry in versions.values()) <= EXACT_PERCENTILES_UP_TO:
            source = f"{self.db}.predictions FINAL WHERE org_id = %(org)s{where}"
            latencies = self._exact_quantiles("latency_ms", source, params, LATENCY_QUANTILES)
        else:  # past that, sorting every latency costs seconds: the histogram (within ~19 %)
            latencies = {
                key: [histogram_quantile(histogram, q) for q in LATENCY_QUANTILES]
                for key, histogram in histograms.items()
            }
        for key, quantiles in latencies.items():
            if key in versions:
                versions[key]["latency_ms"].update(zip(("p50", "p90", "p99"), quantiles, strict=True))
        self._add_label_metrics(org_id, scope, versions)
        return sorted(versions.values(), key=lambda entry: entry["last_seen_ns"], reverse=True)

    def _add_label_metrics(
        self, org_id: str, scope: ModelScope, versions: dict[str | None, dict[str, Any]]
    ) -> None:
        """Labelled rows, coverage, label delay and the quality scores."""
        group = ("version", "version_null", "task_key", "pair", "pred_key", "label_key")
        names = [name for name, _, _ in LABEL_ROWS.sums]
        labelled: dict[str | None, dict[str, Any]] = {}
        confusion: dict[str | None, dict[tuple[str, str], int]] = defaultdict(dict)
        regression: dict[str | None, list[float]] = {}
        for version, version_null, task, pair, predicted, true, *values in combined(
            self.x, self.db, LABEL_ROWS, org_id, scope.window, group, equal=_sealed_keys(scope)
        ):
            sums = dict(zip(names, values, strict=True))
            key = None if int(version_null) else version
            buckets = _histogram(sums["delay_histogram"])
            empty = {"rows": 0, "delay_sum": 0.0, "delay_max": None, "histogram": [0.0] * len(buckets)}
            total = labelled.setdefault(key, empty)
            total["rows"] += int(sums["labelled"])
            total["delay_sum"] += float(sums["delay_sum"])
            delay_max = float(sums["delay_max"])
            total["delay_max"] = (
                delay_max if total["delay_max"] is None else max(total["delay_max"], delay_max)
            )
            total["histogram"] = [a + b for a, b in zip(total["histogram"], buckets, strict=True)]
            if task == CLASSIFICATION and int(pair):
                confusion[key][(predicted, true)] = confusion[key].get((predicted, true), 0) + int(
                    sums["labelled"]
                )
            elif task == REGRESSION:
                scored = regression.setdefault(key, [0, 0.0, 0.0])
                scored[0] += int(sums["num_rows"])
                scored[1] += float(sums["abs_err_sum"])
                scored[2] += float(sums["sq_err_sum"])
        for key, total in labelled.items():
            if key in versions:
                entry = versions[key]
                entry["labelled_rows"] = total["rows"]
                entry["label_coverage"] = min(1.0, total["rows"] / entry["rows"]) if entry["rows"] else 0.0
                entry["label_delay_s"] = {
                    "mean": total["delay_sum"] / total["rows"],
                    "max": total["delay_max"],
                }
        if sum(total["rows"] for total in labelled.values()) <= EXACT_DELAY_PERCENTILES_UP_TO:
            where, params = window_sql(scope.window, "pred_time_ns", partitions=True)
            # label rows carry their model and version; the environment is filtered after the join
            where += equal_sql({"model_name": scope.model, "model_version": scope.version}, params)
            source = self._label_rows(where) + equal_sql({"environment": scope.environment}, params)
            delays = self._exact_quantiles(_DELAY, source, {**params, "org": org_id}, DELAY_QUANTILES)
        else:  # past that, sorting every delay costs seconds: the histogram (within ~19 %)
            delays = {
                key: [histogram_quantile(total["histogram"], q) for q in DELAY_QUANTILES]
                for key, total in labelled.items()
            }
        for key, quantiles in delays.items():
            if key in versions and versions[key]["label_delay_s"] is not None:
                versions[key]["label_delay_s"].update(zip(("p50", "p90"), quantiles, strict=True))
        for key, matrix in confusion.items():
            if key in versions:
                versions[key]["classification"] = classification_scores(matrix)
        for key, (count, abs_sum, square_sum) in regression.items():
            if key in versions and count:
                versions[key]["regression"] = {
                    "mae": abs_sum / count,
                    "rmse": (square_sum / count) ** 0.5,
                    "scored_rows": int(count),
                }

    def _exact_quantiles(
        self, value: str, source: str, params: dict[str, Any], qs: Sequence[float]
    ) -> dict[str | None, list[float | None]]:
        """Per version: exact interpolated quantiles (as ``percentile_cont``) of ``value``."""
        found = quantiles_of(self.x.execute(f"SELECT model_version, {value} FROM {source}", params), qs)
        return {key: list(values) for key, values in found.items()}
