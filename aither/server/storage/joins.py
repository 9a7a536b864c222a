"""The label join in the database: runs inside the ingest transaction, on the writer thread.

New labels are placed by :func:`~aither.server.analysis.label_join.resolve`; then every label
that a new prediction could change is placed again: pending ones (their prediction may have
just arrived), ambiguous ones, and those placed by model name or as the trace's only
prediction (a second prediction in the trace makes them ambiguous). Labels placed by span id
never move.

Per-row results go to ``label_rows`` with the prediction's identity and the scored values
copied in, so metrics read one table. When two labels cover the same row, the newer label
(by span start time) wins. The label-join rollups (:mod:`.label_rollups`) follow every change
to ``label_rows`` in the same transaction: new rows are added, and the minutes that lost rows
are computed again.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...schema.envelope import split_envelope
from ..analysis.label_join import (
    AMBIGUOUS,
    INVALID,
    JOINED,
    PENDING,
    RULE_MODEL,
    RULE_ONLY,
    Candidate,
    JoinDecision,
    LabelledRow,
    pair_rows,
    resolve,
)
from ..ingest.records import LabelRecord, PredictionRecord
from . import label_rollups
from .bulk import bulk_insert
from .schema import label_rows, labels, predictions

_CHUNK = 500


@dataclass(slots=True)
class _Prediction:
    id: int
    trace_id: str
    span_id: str
    model_name: str
    model_version: str | None
    output_rows: int | None
    task: str | None
    method: str | None
    time_ns: int
    environment: str | None
    sample: Any = None
    loaded: bool = False
    _candidate: Candidate | None = None

    @property
    def candidate(self) -> Candidate:
        if self._candidate is None:
            self._candidate = Candidate(self.id, self.span_id, self.model_name)
        return self._candidate


@dataclass(slots=True)
class _Placement:
    label_id: int
    label_time_ns: int
    prediction: _Prediction
    rows: list[LabelledRow] = field(default_factory=list)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _load_predictions(connection: Connection, org_id: str, traces: set[str]) -> dict[str, list[_Prediction]]:
    columns = (
        predictions.c.id,
        predictions.c.trace_id,
        predictions.c.span_id,
        predictions.c.model_name,
        predictions.c.model_version,
        predictions.c.output_rows,
        predictions.c.task,
        predictions.c.method,
        predictions.c.time_ns,
        predictions.c.environment,
    )
    by_trace: dict[str, list[_Prediction]] = defaultdict(list)
    for chunk in _chunks(sorted(traces)):
        query = sa.select(*columns).where(predictions.c.org_id == org_id, predictions.c.trace_id.in_(chunk))
        for row in connection.execute(query):
            by_trace[row.trace_id].append(_Prediction(*row))
    return by_trace


def _load_samples(connection: Connection, wanted: list[_Prediction]) -> None:
    missing = [prediction for prediction in wanted if not prediction.loaded]
    by_id = {prediction.id: prediction for prediction in missing}
    for chunk in _chunks(list(by_id)):
        query = sa.select(predictions.c.id, predictions.c.prediction).where(predictions.c.id.in_(chunk))
        for prediction_id, text in connection.execute(query):
            sample = None
            if text is not None:
                try:
                    sample, _ = split_envelope(json.loads(text))
                except ValueError:
                    sample = None
            by_id[prediction_id].sample = sample
    for prediction in missing:
        prediction.loaded = True


def _label_values(value_text: str | None, is_batch: bool, indices_text: str | None) -> tuple[list[Any], Any]:
    value = json.loads(value_text) if value_text is not None else None
    if not is_batch:
        return [value], None
    indices = json.loads(indices_text) if indices_text is not None else None
    return (value if isinstance(value, list) else []), indices


def _place(
    decision: JoinDecision,
    values: list[Any],
    indices: list[int] | None,
    is_batch: bool,
    prediction: _Prediction | None,
) -> tuple[str, str | None, list[LabelledRow]]:
    """(status, message, rows) of a label once its prediction's sample is loaded."""
    if decision.status != JOINED or prediction is None:
        return decision.status, decision.message, []
    rows, message = pair_rows(
        values,
        indices,
        is_batch,
        output_rows=prediction.output_rows,
        sample=prediction.sample,
        task=prediction.task,
        method=prediction.method,
    )
    if not rows and message:
        return INVALID, message, []
    return JOINED, message, rows


def label_fields(label: LabelRecord) -> dict[str, Any]:
    """The columns of the ``labels`` row that come from the label span itself (both stores write them)."""
    return {
        "trace_id": label.trace_id,
        "span_id": label.span_id,
        "target_span_id": label.target_span_id,
        "model_name": label.model_name,
        "value": label.value,
        "is_batch": label.is_batch,
        "row_indices": label.row_indices,
        "time_ns": label.time_ns,
    }


def join_labels(
    connection: Connection,
    org_id: str,
    new_predictions: Sequence[tuple[int, PredictionRecord]],
    new_labels: Sequence[LabelRecord],
) -> list[int]:
    """Insert ``new_labels`` joined, and re-place the labels the new predictions affect.

    Returns the ids of the inserted labels, in order.
    """
    traces = {record.trace_id for _, record in new_predictions} | {label.trace_id for label in new_labels}
    if not traces:
        return []
    by_trace = _load_predictions(connection, org_id, traces)
    by_id = {p.id: p for group in by_trace.values() for p in group}
    for prediction_id, record in new_predictions:  # in-batch samples are parsed already
        if prediction_id in by_id:
            by_id[prediction_id].sample = record.sample
            by_id[prediction_id].loaded = True

    decisions: list[JoinDecision] = []
    for label in new_labels:
        if label.error:
            decisions.append(JoinDecision(INVALID, message=label.error))
        else:
            candidates = [p.candidate for p in by_trace.get(label.trace_id, [])]
            decisions.append(resolve(label.target_span_id, label.model_name, candidates))
    revisit = _labels_to_revisit(connection, org_id, {record.trace_id for _, record in new_predictions})
    revisit_decisions = [
        resolve(row.target_span_id, row.model_name, [p.candidate for p in by_trace.get(row.trace_id, [])])
        for row in revisit
    ]
    changed: set[tuple[int, str, str]] = set()  # (minute, model, version) that lost labelled rows
    joined = [by_id[d.target.prediction_id] for d in (*decisions, *revisit_decisions) if d.target is not None]
    _load_samples(connection, joined)

    placements: list[_Placement | None] = []
    label_rows_out: list[dict[str, Any]] = []
    for label, decision in zip(new_labels, decisions, strict=True):
        target = by_id[decision.target.prediction_id] if decision.target else None
        status, message, rows = _place(decision, label.values, label.indices, label.is_batch, target)
        label_rows_out.append(
            {
                "org_id": org_id,
                **label_fields(label),
                "status": status,
                "join_rule": decision.rule,
                "prediction_id": target.id if target else None,
                "rows": len(rows),
                "message": message,
            }
        )
        placements.append(_Placement(0, label.time_ns, target, rows) if target else None)
    label_ids = insert_returning_ids(connection, labels, org_id, label_rows_out)
    writes: list[_Placement] = []
    for label_id, placement in zip(label_ids, placements, strict=True):
        if placement is not None and placement.rows:
            placement.label_id = label_id
            writes.append(placement)

    for row, decision in zip(revisit, revisit_decisions, strict=True):
        previous_target = row.prediction_id
        new_target = decision.target.prediction_id if decision.target else None
        if decision.status == row.status and new_target == previous_target:
            continue
        values, indices = _label_values(row.value, row.is_batch, row.row_indices)
        target = by_id[new_target] if new_target is not None else None
        status, message, rows = _place(decision, values, indices, row.is_batch, target)
        if previous_target is not None:
            changed.update(_minutes_of(connection, label_rows.c.label_id == row.id))
            connection.execute(label_rows.delete().where(label_rows.c.label_id == row.id))
        connection.execute(
            labels.update()
            .where(labels.c.id == row.id)
            .values(
                status=status,
                join_rule=decision.rule,
                prediction_id=new_target,
                rows=len(rows),
                message=message,
            )
        )
        if target is not None and rows:
            writes.append(_Placement(row.id, row.time_ns, target, rows))
    _write_label_rows(connection, org_id, writes, changed)
    label_rollups.recompute(connection, org_id, changed)
    return label_ids


def _minutes_of(connection: Connection, where: Any) -> set[tuple[int, str, str]]:
    """The rollup minutes (minute, model, version) of the labelled rows that ``where`` picks."""
    lr = label_rows.c
    query = sa.select(lr.pred_time_ns, lr.model_name, lr.model_version).where(where)
    return {
        (label_rollups.minute_of(time_ns), model, version or "")
        for time_ns, model, version in connection.execute(query)
    }


def insert_returning_ids(
    connection: Connection, table: sa.Table, org_id: str, rows: list[dict[str, Any]]
) -> list[int]:
    """Insert rows keyed by (trace id, span id); their ids, in order.

    One executemany and one indexed lookup: SQLite's RETURNING would insert row by row to
    keep the order.
    """
    if not rows:
        return []
    bulk_insert(connection, table, rows)
    ids: dict[tuple[str, str], int] = {}
    span_ids = [row["span_id"] for row in rows]
    for chunk in _chunks(span_ids):
        query = sa.select(table.c.id, table.c.trace_id, table.c.span_id).where(
            table.c.org_id == org_id, table.c.span_id.in_(chunk)
        )
        ids.update({(trace_id, span_id): row_id for row_id, trace_id, span_id in connection.execute(query)})
    return [ids[(row["trace_id"], row["span_id"])] for row in rows]


def _labels_to_revisit(connection: Connection, org_id: str, traces: set[str]) -> list[Any]:
    if not traces:
        return []
    movable = sa.or_(
        labels.c.status.in_((PENDING, AMBIGUOUS)),
        sa.and_(labels.c.join_rule.in_((RULE_MODEL, RULE_ONLY)), labels.c.prediction_id.is_not(None)),
    )
    found: list[Any] = []
    for chunk in _chunks(sorted(traces)):
        query = (
            sa.select(
                labels.c.id,
                labels.c.trace_id,
                labels.c.target_span_id,
                labels.c.model_name,
                labels.c.status,
                labels.c.prediction_id,
                labels.c.value,
                labels.c.is_batch,
                labels.c.row_indices,
                labels.c.time_ns,
            )
            .where(labels.c.org_id == org_id, labels.c.trace_id.in_(chunk), movable)
            .order_by(labels.c.id)
        )
        found.extend(connection.execute(query))
    return found


def _write_label_rows(
    connection: Connection, org_id: str, writes: list[_Placement], changed: set[tuple[int, str, str]]
) -> None:
    """Insert labelled rows; for a row labelled twice, the newer label wins.

    Adds the new rows to the rollups, except in the minutes of ``changed`` (which it extends
    with those of the rows it replaces): the caller computes those again.
    """
    if not writes:
        return
    wanted: dict[tuple[int, int], tuple[int, int, _Placement, LabelledRow]] = {}
    for placement in sorted(writes, key=lambda p: (p.label_time_ns, p.label_id)):
        for row in placement.rows:
            wanted[(placement.prediction.id, row.row_index)] = (
                placement.label_time_ns,
                placement.label_id,
                placement,
                row,
            )
    prediction_ids = sorted({key[0] for key in wanted})
    stale: list[int] = []
    for chunk in _chunks(prediction_ids):
        query = sa.select(
            label_rows.c.id,
            label_rows.c.prediction_id,
            label_rows.c.row_index,
            label_rows.c.label_time_ns,
            label_rows.c.pred_time_ns,
        ).where(label_rows.c.prediction_id.in_(chunk))
        for existing_id, prediction_id, row_index, existing_time, pred_time in connection.execute(query):
            key = (prediction_id, row_index)
            if key not in wanted:
                continue
            if existing_time > wanted[key][0]:
                del wanted[key]  # a newer label already holds the row
            else:
                stale.append(existing_id)
                prediction = wanted[key][2].prediction
                changed.add(
                    (
                        label_rollups.minute_of(pred_time),
                        prediction.model_name,
                        prediction.model_version or "",
                    )
                )
    for chunk in _chunks(stale):
        connection.execute(label_rows.delete().where(label_rows.c.id.in_(chunk)))
    rows = []
    facts: list[label_rollups.Fact] = []
    for (_, row_index), (label_time, label_id, placement, row) in wanted.items():
        prediction = placement.prediction
        if (
            label_rollups.minute_of(prediction.time_ns),
            prediction.model_name,
            prediction.model_version or "",
        ) not in changed:
            facts.append(
                (
                    prediction.model_name,
                    prediction.model_version,
                    prediction.environment,
                    prediction.task,
                    row.predicted.klass,
                    row.predicted.num,
                    row.label.klass,
                    row.label.num,
                    prediction.time_ns,
                    label_time,
                )
            )
        rows.append(
            {
                "org_id": org_id,
                "prediction_id": prediction.id,
                "label_id": label_id,
                "row_index": row_index,
                "model_name": prediction.model_name,
                "model_version": prediction.model_version,
                "task": prediction.task,
                "pred_class": row.predicted.klass,
                "pred_num": row.predicted.num,
                "label_class": row.label.klass,
                "label_num": row.label.num,
                "value": row.value,
                "pred_time_ns": prediction.time_ns,
                "label_time_ns": label_time,
            }
        )
    if rows:
        bulk_insert(connection, label_rows, rows)
    label_rollups.upsert(connection, org_id, label_rollups.collect(facts))
