"""Model metrics over a time window, per version: volume, errors, latency, labels and quality.

- ``predictions`` (calls) and ``rows`` (output rows), ``error_rate`` (share of calls that raised);
- ``latency_ms``: p50, p90, p99 and mean of the call duration;
- ``labelled_rows`` and ``label_coverage``: the share of predicted rows that have a label;
- ``label_delay_s``: time from prediction to label, p50, p90, mean and max;
- classifiers: ``accuracy``, ``precision``, ``recall``, ``f1`` (binary for classes 0/1,
  macro-averaged otherwise) over the labelled rows whose predicted class is known;
- regressors: ``mae`` and ``rmse``.

Volume comes from the per-minute rollups (:mod:`.volume`); labelled rows, label delay and the
quality scores from the label-join rollups (:mod:`aither.server.storage.label_rollups`), both
with the partial minutes at a window's edges read from the rows, so no query scans history.
Percentiles are exact up to :data:`EXACT_PERCENTILES_UP_TO` predictions (latency) and
:data:`EXACT_DELAY_PERCENTILES_UP_TO` labelled rows (label delay) in the window, and read from
the rollups' histograms past that (within ~19 %). Exact percentiles run in SQL on PostgreSQL
(``percentile_cont``) and over the fetched column on SQLite, which has no percentile function.
The window applies to the prediction's time, for labels too: "how good were last week's
predictions", whenever their labels arrived.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..analysis.quality import classification_scores, quantile
from ..analysis.scoring import CLASSIFICATION, REGRESSION
from ..detection.rollups import histogram_quantile
from . import label_rollups
from .filters import ModelScope
from .schema import label_rows, predictions
from .volume import prediction_volume

LATENCY_QUANTILES = (0.5, 0.9, 0.99)
EXACT_PERCENTILES_UP_TO = 100_000
"""Latency percentiles are exact (sorted from the rows) up to this many predictions in the
window, and read from the rollups' histogram past it."""
DELAY_QUANTILES = (0.5, 0.9)
EXACT_DELAY_PERCENTILES_UP_TO = 10_000
"""Label-delay percentiles are exact up to this many labelled rows in the window, and read from
the label-join rollups' histogram past it (a day of a busy model's labels is already ~40,000
rows to sort; everything else about labels comes from the rollups)."""


def _quantiles_by_version(
    connection: Connection,
    version_column: Any,
    value: Any,
    clauses: list[Any],
    qs: Sequence[float],
) -> dict[str | None, list[float]]:
    if connection.dialect.name == "postgresql":
        columns = [sa.func.percentile_cont(q).within_group(value) for q in qs]
        query = sa.select(version_column, *columns).where(*clauses).group_by(version_column)
        return {row[0]: [float(v) for v in row[1:]] for row in connection.execute(query)}
    # SQLite has no percentile function; its window functions are slower than one pass of
    # fetchall and a sort here (measured on 1M rows: benchmarks/server_label_join.py).
    return quantiles_of(_driver_rows(connection, sa.select(version_column, value).where(*clauses)), qs)


def quantiles_of(
    rows: Iterable[tuple[str | None, Any]], qs: Sequence[float]
) -> dict[str | None, list[float]]:
    """Per version: the exact interpolated quantiles ``qs`` (as ``percentile_cont``) of the
    numbers of some (version, number) rows."""
    values: dict[str | None, list[float]] = defaultdict(list)
    for version, number in rows:
        values[version].append(float(number))
    out: dict[str | None, list[float]] = {}
    for version, numbers in values.items():
        numbers.sort()
        out[version] = [quantile(numbers, q) for q in qs]
    return out


def _driver_rows(connection: Connection, query: sa.Select[Any]) -> list[Any]:
    """The rows of ``query`` as the DB-API driver returns them: plain tuples.

    For the one query that reads a column of every prediction in the window: SQLAlchemy's
    Row objects cost more than the query itself there (measured on 1M rows). The parameters
    are plain strings and numbers, so skipping their type processing changes nothing.
    """
    compiled = query.compile(dialect=connection.dialect)
    params = compiled.construct_params()
    positions = compiled.positiontup
    arguments: Any = tuple(params[name] for name in positions) if positions is not None else params
    cursor = connection.connection.cursor()
    try:
        cursor.execute(str(compiled), arguments)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _seen(connection: Connection, clauses: list[Any], version: str | None) -> tuple[int, int, str | None]:
    """First and last prediction time of a version in the window, and its latest task.

    Three index seeks (``ix_predictions_metrics`` leads with org, model, version and time):
    min and max each alone, so SQLite reads one index entry for each instead of a range.
    """
    p = predictions.c
    where = [*clauses, p.model_version == version if version is not None else p.model_version.is_(None)]
    first = connection.execute(sa.select(sa.func.min(p.time_ns)).where(*where)).scalar()
    last = connection.execute(sa.select(sa.func.max(p.time_ns)).where(*where)).scalar()
    task = connection.execute(sa.select(p.task).where(*where).order_by(p.time_ns.desc()).limit(1)).scalar()
    return int(first or 0), int(last or 0), task


def _nan_to_none(values: Iterable[float]) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values]


def model_metrics(connection: Connection, org_id: str, scope: ModelScope) -> list[dict[str, Any]]:
    """Metrics of ``scope.model``, one dict per version (newest activity first); [] when it has none."""
    p = predictions.c
    clauses: list[Any] = [
        p.org_id == org_id,
        *scope.clauses(p.model_name, p.model_version, p.environment, p.time_ns),
    ]
    volume = prediction_volume(connection, org_id, scope)
    versions: dict[str | None, dict[str, Any]] = {}
    for key, rollup in volume.items():
        count = round(rollup.count)
        errors = round(rollup.errors)
        first, last, task = _seen(connection, clauses, key)
        versions[key] = {
            "version": key,
            "predictions": count,
            "rows": round(rollup.rows),
            "errors": errors,
            "error_rate": errors / count if count else 0.0,
            "latency_ms": {"mean": rollup.latency_sum_ms / count if count else None},
            "first_seen_ns": first,
            "last_seen_ns": last,
            "task": task,
            "labelled_rows": 0,
            "label_coverage": 0.0,
            "label_delay_s": None,
            "classification": None,
            "regression": None,
        }
    if not versions:
        return []
    if sum(entry["predictions"] for entry in versions.values()) <= EXACT_PERCENTILES_UP_TO:
        latencies = _quantiles_by_version(
            connection, p.model_version, p.latency_ms, clauses, LATENCY_QUANTILES
        )
    else:  # past that, sorting every latency costs seconds: the rollups' histogram (within ~19 %)
        latencies = {
            key: [histogram_quantile(rollup.histogram, q) or math.nan for q in LATENCY_QUANTILES]
            for key, rollup in volume.items()
        }
    for key, values in latencies.items():
        if key in versions:
            p50, p90, p99 = _nan_to_none(values)
            versions[key]["latency_ms"].update({"p50": p50, "p90": p90, "p99": p99})

    _add_label_metrics(connection, org_id, scope, clauses, versions)
    return sorted(versions.values(), key=lambda entry: entry["last_seen_ns"], reverse=True)


def _add_label_metrics(
    connection: Connection,
    org_id: str,
    scope: ModelScope,
    clauses: list[Any],
    versions: dict[str | None, dict[str, Any]],
) -> None:
    """Labelled rows, coverage, label delay and the quality scores, from the label-join rollups."""
    sums = label_rollups.window_sums(
        connection,
        org_id,
        scope.window.since_ns,
        scope.window.until_ns,
        ("version", "task", "pair", "pred_class", "label_class"),
        model=scope.model,
        version=scope.version,
        environment=scope.environment,
        histogram=True,
    )
    labelled: dict[str | None, label_rollups.LabelRollup] = {}
    confusion: dict[str | None, dict[tuple[str, str], int]] = defaultdict(dict)
    regression: dict[str | None, label_rollups.LabelRollup] = {}
    for (key, task, pair, predicted, true), rollup in sums.items():
        key = key or None
        labelled.setdefault(key, label_rollups.LabelRollup()).merge(rollup)
        if task == CLASSIFICATION and pair:
            confusion[key][(predicted, true)] = confusion[key].get((predicted, true), 0) + rollup.rows
        elif task == REGRESSION:
            regression.setdefault(key, label_rollups.LabelRollup()).merge(rollup)
    for key, rollup in labelled.items():
        if key not in versions:
            continue
        entry = versions[key]
        entry["labelled_rows"] = rollup.rows
        entry["label_coverage"] = min(1.0, rollup.rows / entry["rows"]) if entry["rows"] else 0.0
        entry["label_delay_s"] = {"mean": rollup.delay_sum_s / rollup.rows, "max": rollup.delay_max_s}
    if sum(rollup.rows for rollup in labelled.values()) <= EXACT_DELAY_PERCENTILES_UP_TO:
        delays = _quantiles_by_version(
            connection,
            label_rows.c.model_version,
            *_delay_query(org_id, scope, clauses),
        )
    else:  # past that, sorting every delay costs seconds: the rollups' histogram (within ~19 %)
        delays = {
            key: [histogram_quantile(rollup.histogram, q) or math.nan for q in DELAY_QUANTILES]
            for key, rollup in labelled.items()
        }
    for key, values in delays.items():
        if key in versions and versions[key]["label_delay_s"] is not None:
            p50, p90 = _nan_to_none(values)
            versions[key]["label_delay_s"].update({"p50": p50, "p90": p90})
    for key, matrix in confusion.items():
        if key in versions:
            versions[key]["classification"] = classification_scores(matrix)
    for key, rollup in regression.items():
        if key in versions and rollup.num_rows:
            versions[key]["regression"] = {
                "mae": rollup.abs_err_sum / rollup.num_rows,
                "rmse": math.sqrt(rollup.sq_err_sum / rollup.num_rows),
                "scored_rows": rollup.num_rows,
            }


def _delay_query(
    org_id: str, scope: ModelScope, clauses: list[Any]
) -> tuple[Any, list[Any], Sequence[float]]:
    """The label delay in seconds and the clauses of the labelled rows, for exact percentiles."""
    lr = label_rows.c
    # label rows don't copy the environment: it is matched through the prediction below
    own = replace(scope, environment=None)
    label_clauses = [
        lr.org_id == org_id,
        *own.clauses(lr.model_name, lr.model_version, None, lr.pred_time_ns),
    ]
    if scope.environment is not None:
        label_clauses.append(lr.prediction_id.in_(sa.select(predictions.c.id).where(*clauses)))
    return (lr.label_time_ns - lr.pred_time_ns) / 1e9, label_clauses, DELAY_QUANTILES
