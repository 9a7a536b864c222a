"""Reads behind the query API: models, predictions, labels, traces, LLM calls.

Each function takes a connection and the caller's ``org_id`` and returns plain dicts; the
routes shape them. Lists are newest first and paged with an opaque cursor (``time.id``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...schema import semconv as sc
from . import label_rollups, llm_rollups
from .filters import LabelFilter, LlmCallFilter, ModelScope, Paging, PredictionFilter
from .schema import label_rows, labels, llm_calls, operations, predictions, spans
from .volume import model_volumes
from .window import Window

Rows = tuple[list[dict[str, Any]], str | None]
"""A page of a list: its rows, and the cursor of the next page (None at the end)."""


class CursorError(ValueError):
    """A pagination cursor that this server did not hand out."""


def encode_cursor(time_ns: int, row_id: int) -> str:
    return f"{time_ns}.{row_id}"


def decode_cursor(cursor: str) -> tuple[int, int]:
    time_text, _, id_text = cursor.partition(".")
    try:
        return int(time_text), int(id_text)
    except ValueError:
        raise CursorError(f"invalid cursor {cursor!r}; pass the next_cursor of a previous page") from None


def cut_page(rows: list[dict[str, Any]], limit: int) -> Rows:
    """The first ``limit`` of rows fetched newest first with ``LIMIT limit + 1``, and the cursor
    of the next page (None when the extra row did not come, i.e. this is the last page)."""
    if len(rows) > limit:
        return rows[:limit], encode_cursor(rows[limit - 1]["time_ns"], rows[limit - 1]["id"])
    return rows, None


def parse_json(text: str | None) -> Any:
    """A JSON column's value; text that is not JSON comes back as it is, None as None."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def list_models(connection: Connection, org_id: str, window: Window | None = None) -> list[dict[str, Any]]:
    """One row per model and version: counts, errors, label coverage, first and last seen.

    Counts come from the per-minute rollups and the label-join rollups (the partial minutes at
    the window's edges from the rows); first and last seen, framework, class and task from a
    few index seeks per version, so the cost follows the number of minutes and versions.
    ``environment`` is the largest seen; framework, class and task those of the newest of the
    last :data:`_NEWEST_CALLS` calls that has them.
    """
    window = window or Window()
    volumes, environments = model_volumes(connection, org_id, ModelScope(window=window))
    labelled = label_rollups.window_sums(
        connection, org_id, window.since_ns, window.until_ns, ("model", "version")
    )
    models = []
    for (name, version), rollup in sorted(volumes.items(), key=lambda item: _version_order(*item[0])):
        seen = _seen(connection, org_id, name, version, window)
        models.append(
            {
                "model_name": name,
                "model_version": version,
                "predictions": round(rollup.count),
                "rows": round(rollup.rows),
                "errors": round(rollup.errors),
                "environment": environments.get((name, version)),
                "labelled_rows": labelled[(name, version or "")].rows
                if (name, version or "") in labelled
                else 0,
                **seen,
            }
        )
    return models


_NEWEST_CALLS = 100


def _version_order(name: str, version: str | None) -> tuple[str, bool, str]:
    return name, version is not None, version or ""  # no version first, as SQLite sorts NULL


def _seen(
    connection: Connection, org_id: str, name: str, version: str | None, window: Window
) -> dict[str, Any]:
    """First and last call of a version in the window, and its newest call's framework, class and task.

    Index seeks on ``ix_predictions_metrics`` (org, model, version, time): min and max each
    alone, so SQLite reads one index entry for each instead of a range.
    """
    p = predictions.c
    where = [
        p.org_id == org_id,
        p.model_name == name,
        p.model_version == version if version is not None else p.model_version.is_(None),
        *window.clauses(p.time_ns),
    ]
    first = connection.execute(sa.select(sa.func.min(p.time_ns)).where(*where)).scalar()
    newest = list(
        connection.execute(
            sa.select(p.time_ns, p.framework, p.model_class, p.task)
            .where(*where)
            .order_by(p.time_ns.desc())
            .limit(_NEWEST_CALLS)
        )
    )
    out: dict[str, Any] = {
        "first_seen_ns": int(first or 0),
        "last_seen_ns": int(newest[0][0]) if newest else 0,
    }
    for position, column in enumerate(("framework", "model_class", "task"), start=1):
        # a call that raised has no task: the newest call that says
        out[column] = next((row[position] for row in newest if row[position] is not None), None)
    return out


def list_predictions(connection: Connection, org_id: str, where: PredictionFilter, page: Paging) -> Rows:
    """A page of predictions, newest first, and the cursor of the next page (None at the end)."""
    p = predictions
    c = p.c
    clauses: list[Any] = [
        c.org_id == org_id,
        *where.clauses(c.model_name, c.model_version, c.environment, c.time_ns),
    ]
    if where.error is not None:
        clauses.append(c.is_error.is_(where.error))
    has_labels = sa.exists().where(label_rows.c.prediction_id == c.id)
    if where.labelled is True:
        clauses.append(has_labels)
    elif where.labelled is False:
        clauses.append(~has_labels)
    rows, next_cursor = _read_page(connection, sa.select(p, _labelled_count()).where(*clauses), p, page)
    _attach_labels(connection, rows)
    return rows, next_cursor


def _labelled_count() -> Any:
    """A prediction's labelled rows, as a column of a select from ``predictions``."""
    return (
        sa.select(sa.func.count())
        .where(label_rows.c.prediction_id == predictions.c.id)
        .scalar_subquery()
        .label("labelled_rows")
    )


def _read_page(connection: Connection, query: sa.Select[Any], table: sa.Table, page: Paging) -> Rows:
    """The page of ``query``'s rows of ``table`` (newest first: by time, then id), and the
    cursor of the next page."""
    t = table.c
    if page.cursor is not None:
        time_ns, row_id = decode_cursor(page.cursor)
        query = query.where(sa.or_(t.time_ns < time_ns, sa.and_(t.time_ns == time_ns, t.id < row_id)))
    query = query.order_by(t.time_ns.desc(), t.id.desc()).limit(page.limit + 1)
    rows = [dict(row) for row in connection.execute(query).mappings()]
    return cut_page(rows, page.limit)


def _attach_labels(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Give each prediction its true values: ``label`` for one row, ``labels`` {row: value} for more."""
    ids = [row["id"] for row in rows if row["labelled_rows"]]
    values: dict[int, dict[int, Any]] = {}
    if ids:
        query = sa.select(label_rows.c.prediction_id, label_rows.c.row_index, label_rows.c.value).where(
            label_rows.c.prediction_id.in_(ids), label_rows.c.row_index < 1000
        )
        for prediction_id, row_index, value in connection.execute(query):
            values.setdefault(prediction_id, {})[row_index] = parse_json(value)
    for row in rows:
        give_labels(row, values.get(row["id"], {}))


def give_labels(row: dict[str, Any], found: Mapping[int, Any]) -> None:
    """Parse a prediction row's JSON and give it its true values ``found`` {row: value}:
    ``labels`` (by row index) and, for a prediction of one row, ``label``."""
    row["features"] = parse_json(row["features"])
    row["prediction"] = parse_json(row["prediction"])
    row["labels"] = dict(sorted(found.items()))
    row["label"] = row["labels"].get(0) if (row["output_rows"] or 0) <= 1 else None


def list_labels(connection: Connection, org_id: str, where: LabelFilter, page: Paging) -> Rows:
    """A page of labels, newest first, with where the join put them."""
    c = labels.c
    wanted = ((c.status, where.status), (c.model_name, where.model), (c.trace_id, where.trace_id))
    target = predictions.alias("target")
    query = (
        sa.select(
            labels,
            target.c.span_id.label("prediction_span_id"),
            target.c.model_name.label("prediction_model"),
        )
        .select_from(labels.outerjoin(target, target.c.id == c.prediction_id))
        .where(c.org_id == org_id, *(column == value for column, value in wanted if value is not None))
    )
    rows, next_cursor = _read_page(connection, query, labels, page)
    for row in rows:
        row["value"] = parse_json(row["value"])
        row["row_indices"] = parse_json(row["row_indices"])
    return rows, next_cursor


def label_status_counts(connection: Connection, org_id: str, model: str | None) -> dict[str, int]:
    """Labels by join status: those naming ``model``, or those naming no model when it is None."""
    column = labels.c.model_name
    query = (
        sa.select(labels.c.status, sa.func.count())
        .where(labels.c.org_id == org_id, column.is_(None) if model is None else column == model)
        .group_by(labels.c.status)
    )
    return {status: int(count) for status, count in connection.execute(query)}


def get_trace(connection: Connection, org_id: str, trace_id: str) -> dict[str, Any] | None:
    """Every span of a trace with its typed rows, or None when the organisation has none."""
    # A trace's rows are few: they are sorted here, not with ORDER BY. Given ORDER BY time,
    # SQLite (no ANALYZE statistics) walks the (org_id, time) index over the whole
    # organisation instead of seeking the trace: 3.8 s for one trace among 1M predictions.
    span_rows = sorted(
        (
            dict(row)
            for row in connection.execute(
                sa.select(spans).where(spans.c.org_id == org_id, spans.c.trace_id == trace_id)
            ).mappings()
        ),
        key=itemgetter("start_time_ns", "id"),
    )
    if not span_rows:
        return None
    prediction_rows, _ = list_predictions_in_trace(connection, org_id, trace_id)
    parse_spans(
        span_rows, {row["span_id"]: (row["features_text"], row["prediction_text"]) for row in prediction_rows}
    )
    label_page, _ = list_labels(connection, org_id, LabelFilter(trace_id=trace_id), Paging(limit=10_000))
    return {
        "trace_id": trace_id,
        "spans": span_rows,
        "predictions": prediction_rows,
        "labels": label_page,
        "llm_calls": _rows_in_trace(connection, llm_calls, org_id, trace_id),
        "operations": _rows_in_trace(connection, operations, org_id, trace_id),
    }


def parse_spans(span_rows: list[dict[str, Any]], texts: Mapping[str, tuple[str | None, str | None]]) -> None:
    """Parse the spans' JSON columns, and give each prediction span back the features and
    prediction text its prediction row keeps (``texts``, by span id)."""
    for row in span_rows:
        for key in ("attributes", "events", "links", "resource"):
            row[key] = parse_json(row[key])
        if row["span_id"] in texts and isinstance(row["attributes"], dict):
            features, prediction = texts[row["span_id"]]
            if features is not None:
                row["attributes"][sc.ML_FEATURES] = features
            if prediction is not None:
                row["attributes"][sc.ML_PREDICTION] = prediction


def list_predictions_in_trace(
    connection: Connection, org_id: str, trace_id: str
) -> tuple[list[dict[str, Any]], None]:
    p = predictions
    query = sa.select(p, _labelled_count()).where(p.c.org_id == org_id, p.c.trace_id == trace_id)
    rows = sorted(
        (dict(row) for row in connection.execute(query).mappings()), key=itemgetter("time_ns", "id")
    )
    for row in rows:
        row["features_text"] = row["features"]
        row["prediction_text"] = row["prediction"]
    _attach_labels(connection, rows)
    return rows, None


_JSON_COLUMNS = ("input", "output", "metadata", "finish_reasons", "pii_counts", "injection_rules")


def _rows_in_trace(
    connection: Connection, table: sa.Table, org_id: str, trace_id: str
) -> list[dict[str, Any]]:
    query = sa.select(table).where(table.c.org_id == org_id, table.c.trace_id == trace_id)
    rows = sorted(
        (dict(row) for row in connection.execute(query).mappings()), key=itemgetter("time_ns", "id")
    )
    for row in rows:
        for key in _JSON_COLUMNS:
            if key in row:
                row[key] = parse_json(row[key])
    return rows


def list_llm_calls(connection: Connection, org_id: str, where: LlmCallFilter, page: Paging) -> Rows:
    """A page of LLM calls, newest first, and the cursor of the next page (None at the end)."""
    c = llm_calls.c
    clauses: list[Any] = [c.org_id == org_id, *where.window.clauses(c.time_ns)]
    if where.trace_id is not None:
        clauses.append(c.trace_id == where.trace_id)
    if where.model is not None:
        clauses.append(sa.or_(c.request_model == where.model, c.response_model == where.model))
    clauses += [c[column] == value for column, value in where.equal_columns().items()]
    for column, wanted in where.flags().items():  # "not flagged" includes calls that were never scanned
        clauses.append(c[column].is_(True) if wanted else sa.or_(c[column].is_(None), c[column].is_(False)))
    if where.error is not None:
        clauses.append(c.is_error.is_(where.error))
    risk_levels = where.risk_levels()
    if risk_levels is not None:
        clauses.append(c.risk_level.in_(risk_levels))
    rows, next_cursor = _read_page(connection, sa.select(llm_calls).where(*clauses), llm_calls, page)
    for row in rows:
        for key in ("finish_reasons", "pii_counts", "injection_rules"):
            row[key] = parse_json(row[key])
    return rows, next_cursor


LLM_TOTALS_GROUPS = ("user", "session", "service", "model", "provider")
COST_ORDER_DIGITS = 9
"""Totals order by cost to this many decimals (a billionth of a dollar), then calls and key: the
engines sum floats in different orders, so costs equal but for the last bits tie everywhere."""
"""What :func:`llm_call_totals` groups by (``user`` is ``enduser.id``, ``model`` the request model)."""


def llm_call_totals(
    connection: Connection, org_id: str, group_by: str, *, window: Window | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """LLM calls, errors, tokens and cost per user, session, service, model or provider, costliest
    first. ``key`` is None for calls that did not say (no user, say). ``unpriced`` counts calls
    without a cost (an unknown model), which the cost total leaves out.

    Every group but ``session`` (one per conversation, an unbounded key) reads the LLM
    rollups (:func:`.llm_rollups.totals`, exact for any window); ``session`` groups the
    indexed rows."""
    window = window or Window()
    if group_by in llm_rollups.GROUPS:
        found = llm_rollups.totals(connection, org_id, group_by, window.since_ns, window.until_ns)
        rows: list[dict[str, Any]] = [
            {
                "key": key,
                "calls": int(sums[0]),
                "errors": int(sums[1]),
                "input_tokens": int(sums[2]),
                "output_tokens": int(sums[3]),
                "cost_usd": float(sums[4]),
                "unpriced": int(sums[5]),
            }
            for key, sums in found.items()
            if sums[0]
        ]
        # as the query below orders: costliest, then most calls, then the key with None last
        rows.sort(
            key=lambda row: (
                -round(row["cost_usd"], COST_ORDER_DIGITS),
                -row["calls"],
                row["key"] is None,
                row["key"] or "",
            )
        )
        return rows[:limit]
    c = llm_calls.c
    column = {
        "user": c.user_id,
        "session": c.session_id,
        "service": c.service,
        "model": c.request_model,
        "provider": c.provider,
    }[group_by]
    cost = sa.func.coalesce(sa.func.sum(c.cost_usd), 0.0)
    query = (
        sa.select(
            column.label("key"),
            sa.func.count().label("calls"),
            sa.func.sum(sa.case((c.is_error.is_(True), 1), else_=0)).label("errors"),
            sa.func.coalesce(sa.func.sum(c.input_tokens), 0).label("input_tokens"),
            sa.func.coalesce(sa.func.sum(c.output_tokens), 0).label("output_tokens"),
            cost.label("cost_usd"),
            sa.func.sum(sa.case((c.cost_usd.is_(None), 1), else_=0)).label("unpriced"),
        )
        .where(c.org_id == org_id, *window.clauses(c.time_ns))
        .group_by(column)
        .order_by(
            sa.func.round(sa.cast(cost, sa.Numeric), COST_ORDER_DIGITS).desc(),
            sa.func.count().desc(),
            column.asc().nulls_last(),
        )  # as PostgreSQL and ClickHouse
        .limit(limit)
    )
    return [
        {
            **row,
            "calls": int(row["calls"]),
            "errors": int(row["errors"] or 0),
            "unpriced": int(row["unpriced"] or 0),
            "input_tokens": int(row["input_tokens"]),
            "output_tokens": int(row["output_tokens"]),
            "cost_usd": float(row["cost_usd"]),
        }
        for row in connection.execute(query).mappings()
    ]
