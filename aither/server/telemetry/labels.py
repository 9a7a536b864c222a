"""The label join on ClickHouse: the relational join's rules, its changes written as new versions.

The decisions are the relational store's own (:func:`~aither.server.analysis.label_join.resolve`
and the placing of :mod:`aither.server.storage.joins`): a new label is placed; a new prediction
re-places the pending, ambiguous and model- or only-placed labels of its trace. Where the
relational join updates or deletes a row, this one inserts the row again with a higher
``version`` (``deleted = 1`` for a labelled row that is withdrawn); reads keep each key's
newest version. For a row labelled twice the newer label (by span start time) wins.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..analysis.label_join import AMBIGUOUS, INVALID, PENDING, RULE_MODEL, RULE_ONLY, JoinDecision, resolve
from ..ingest.records import LabelRecord, PredictionRecord
from ..storage.joins import _label_values, _place, _Placement, _Prediction, label_fields
from .client import Executor, value_set

LABEL_COLUMNS = (
    "org_id", "trace_id", "span_id", "id", "target_span_id", "model_name", "value", "is_batch",
    "row_indices", "time_ns", "status", "join_rule", "prediction_trace_id", "prediction_span_id",
    "prediction_model", "rows", "message", "version",
)  # fmt: skip
LABEL_ROW_COLUMNS = (
    "org_id", "model_name", "pred_trace_id", "pred_span_id", "row_index", "label_trace_id",
    "label_span_id", "model_version", "environment", "task", "pred_class", "pred_num",
    "label_class", "label_num", "value", "pred_time_ns", "label_time_ns", "deleted", "version",
)  # fmt: skip
LATEST_LABELS = (
    "SELECT " + ", ".join(LABEL_COLUMNS) + " FROM {db}.labels WHERE org_id = %(org)s {where} "
    "ORDER BY version DESC LIMIT 1 BY trace_id, span_id"
)
"""Each label's newest version (``{where}``: more conditions on columns every version shares).

``LIMIT 1 BY`` rather than ``argMax(column, version) AS column``: 18.16 resolves such an alias
inside the aggregate itself, and ``LIMIT BY`` keeps the column names."""
LATEST_LABEL_ROWS = (
    "SELECT " + ", ".join(LABEL_ROW_COLUMNS) + " FROM {db}.label_rows WHERE org_id = %(org)s {where} "
    "ORDER BY version DESC LIMIT 1 BY model_name, pred_trace_id, pred_span_id, row_index"
)
"""Each labelled row's newest version, withdrawn ones included (filter ``deleted = 0``)."""


def span_number(span_id: str) -> int:
    """A span id (16 hex digits) as the 64-bit number ClickHouse rows carry as ``id``."""
    try:
        return int(span_id, 16)
    except ValueError:
        return 0


class ClickHouseLabelJoin:
    """Joins one batch's labels and predictions against what the store holds."""

    def __init__(self, executor: Executor, org_id: str, version: int) -> None:
        self.x = executor
        self.db = executor.database
        self.org_id = org_id
        self.version = version
        self.environments: dict[int, str | None] = {}
        self.times_ns: set[int] = set()
        """The times of the label versions and labelled rows written (the labels' times, the
        predictions' times): the hours whose aggregates they change."""

    def _query(self, template: str, where: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        return self.x.execute(template.format(db=self.db, where=where), {"org": self.org_id, **params})

    def _load_predictions(
        self, traces: list[str], parsed: dict[tuple[str, str], Any]
    ) -> dict[str, list[_Prediction]]:
        """The predictions of ``traces``, their samples parsed: found by trace in
        ``prediction_traces``, then their payloads by the predictions' own key (model, time),
        but for those of ``parsed`` (this batch's, their samples parsed at decoding)."""
        rows = self.x.execute(
            "SELECT trace_id, span_id, model_name, model_version, output_rows, task, method, time_ns, "
            f"environment FROM {self.db}.prediction_traces FINAL "
            "WHERE org_id = %(org)s AND trace_id IN %(traces)s",
            {"org": self.org_id, "traces": value_set(traces)},
        )
        by_trace: dict[str, list[_Prediction]] = defaultdict(list)
        by_key: dict[tuple[str, str], _Prediction] = {}
        for trace_id, span_id, model, version, output_rows, task, method, time_ns, env in rows:
            prediction = _Prediction(
                span_number(span_id),
                trace_id,
                span_id,
                model,
                version,
                output_rows,
                task,
                method,
                time_ns,
                env,
            )
            prediction.loaded = True
            if (trace_id, span_id) in parsed:
                prediction.sample = parsed[(trace_id, span_id)]
            self.environments[prediction.id] = env
            by_trace[trace_id].append(prediction)
            by_key[(trace_id, span_id)] = prediction
        unparsed = [p for key, p in by_key.items() if key not in parsed]
        if unparsed:
            keys = value_set([(p.model_name, p.time_ns, p.trace_id, p.span_id) for p in unparsed])
            for trace_id, span_id, text in self.x.execute(
                f"SELECT trace_id, span_id, prediction FROM {self.db}.predictions "
                "WHERE org_id = %(org)s AND (model_name, time_ns, trace_id, span_id) IN %(keys)s",
                {"org": self.org_id, "keys": keys},
            ):
                by_key[(trace_id, span_id)].sample = _sample(text)
        return by_trace

    def join(self, new_predictions: Sequence[PredictionRecord], new_labels: Sequence[LabelRecord]) -> None:
        """Place ``new_labels`` and re-place the labels ``new_predictions`` affect (both are stored
        by the time this runs: predictions first, so the join sees them)."""
        # the labels a new prediction could move, first: a batch of predictions alone (the
        # common case) then costs one lookup on the labels' (org, trace) key, and no read of
        # the predictions, which are ordered by model and time, not by trace
        revisit = self._labels_to_revisit(sorted({p.trace_id for p in new_predictions}))
        traces = sorted({label.trace_id for label in new_labels} | {row[0] for row in revisit})
        if not traces:
            return
        by_trace = self._load_predictions(traces, {p.key: p.sample for p in new_predictions})
        by_id = {p.id: p for group in by_trace.values() for p in group}
        label_out: list[tuple[Any, ...]] = []
        writes: list[tuple[_Placement, tuple[str, str]]] = []
        withdrawn: list[tuple[str, str]] = []
        for label in new_labels:
            if label.error:
                decision = JoinDecision(INVALID, message=label.error)
            else:
                candidates = [p.candidate for p in by_trace.get(label.trace_id, [])]
                decision = resolve(label.target_span_id, label.model_name, candidates)
            target = by_id[decision.target.prediction_id] if decision.target else None
            status, message, rows = _place(decision, label.values, label.indices, label.is_batch, target)
            label_out.append(
                self._label_row(label_fields(label), status, decision.rule, target, rows, message)
            )
            if target is not None and rows:
                writes.append((_Placement(0, label.time_ns, target, rows), (label.trace_id, label.span_id)))
        for row in revisit:
            fields = dict(zip(("trace_id", "span_id", *_REVISIT), row, strict=True))
            decision = resolve(
                fields["target_span_id"],
                fields["model_name"],
                [p.candidate for p in by_trace.get(fields["trace_id"], [])],
            )
            previous = fields["prediction_span_id"]
            new_target = by_id[decision.target.prediction_id] if decision.target else None
            if (
                decision.status == fields["status"]
                and (new_target.span_id if new_target else None) == previous
            ):
                continue
            values, indices = _label_values(fields["value"], bool(fields["is_batch"]), fields["row_indices"])
            status, message, rows = _place(decision, values, indices, bool(fields["is_batch"]), new_target)
            if previous is not None:
                withdrawn.append((fields["trace_id"], fields["span_id"]))
            label_out.append(self._label_row(fields, status, decision.rule, new_target, rows, message))
            if new_target is not None and rows:
                key = (fields["trace_id"], fields["span_id"])
                writes.append((_Placement(0, fields["time_ns"], new_target, rows), key))
        self.x.insert(f"{self.db}.labels", LABEL_COLUMNS, label_out)
        self.times_ns.update(row[LABEL_COLUMNS.index("time_ns")] for row in label_out)
        self._withdraw(withdrawn)
        self._write_rows(writes)

    def _label_row(
        self,
        fields: dict[str, Any],
        status: str,
        rule: str | None,
        target: _Prediction | None,
        rows: list[Any],
        message: str | None,
    ) -> tuple[Any, ...]:
        return (
            self.org_id, fields["trace_id"], fields["span_id"], span_number(fields["span_id"]),
            fields["target_span_id"], fields["model_name"], fields["value"], int(bool(fields["is_batch"])),
            fields["row_indices"], fields["time_ns"], status, rule,
            target.trace_id if target else None, target.span_id if target else None,
            target.model_name if target else None, len(rows), message, self.version,
        )  # fmt: skip

    def _labels_to_revisit(self, traces: list[str]) -> list[tuple[Any, ...]]:
        if not traces:
            return []
        latest = LATEST_LABELS.format(db=self.db, where="AND trace_id IN %(traces)s")
        return self.x.execute(
            f"SELECT trace_id, span_id, {', '.join(_REVISIT)} FROM ({latest}) "
            "WHERE status IN %(movable)s OR (join_rule IN %(rules)s AND prediction_span_id IS NOT NULL) "
            "ORDER BY time_ns, span_id",
            {
                "org": self.org_id,
                "traces": value_set(traces),
                "movable": (PENDING, AMBIGUOUS),
                "rules": (RULE_MODEL, RULE_ONLY),
            },
        )

    def _withdraw(self, labels: list[tuple[str, str]]) -> None:
        """Mark the labelled rows of labels that moved as deleted (one version below the new rows)."""
        if not labels:
            return
        latest = LATEST_LABEL_ROWS.format(
            db=self.db, where="AND (label_trace_id, label_span_id) IN %(labels)s"
        )
        found = self.x.execute(
            f"SELECT {', '.join(LABEL_ROW_COLUMNS)} FROM ({latest}) WHERE deleted = 0",
            {"org": self.org_id, "labels": value_set(labels)},
        )
        index = LABEL_ROW_COLUMNS.index
        self.times_ns.update(int(row[index("pred_time_ns")]) for row in found)
        self.x.insert(
            f"{self.db}.label_rows",
            LABEL_ROW_COLUMNS,
            [(*row[: index("deleted")], 1, self.version) for row in found],
        )

    def _write_rows(self, writes: list[tuple[_Placement, tuple[str, str]]]) -> None:
        """Insert labelled rows; for a row labelled twice, the newer label (by time) wins."""
        if not writes:
            return
        wanted: dict[tuple[str, str, int], tuple[_Placement, tuple[str, str], Any]] = {}
        for placement, label_key in sorted(writes, key=lambda item: (item[0].label_time_ns, item[1])):
            for row in placement.rows:
                prediction = placement.prediction
                wanted[(prediction.trace_id, prediction.span_id, row.row_index)] = (placement, label_key, row)
        predictions = sorted({(key[0], key[1]) for key in wanted})
        latest = LATEST_LABEL_ROWS.format(
            db=self.db, where="AND (pred_trace_id, pred_span_id) IN %(predictions)s"
        )
        for trace_id, span_id, row_index, label_time in self.x.execute(
            f"SELECT pred_trace_id, pred_span_id, row_index, label_time_ns FROM ({latest}) WHERE deleted = 0",
            {"org": self.org_id, "predictions": value_set(predictions)},
        ):
            key = (trace_id, span_id, row_index)
            if key in wanted and label_time > wanted[key][0].label_time_ns:
                del wanted[key]  # a newer label already holds the row
        out = []
        for (_, _, row_index), (placement, (label_trace, label_span), row) in wanted.items():
            p = placement.prediction
            self.times_ns.add(p.time_ns)
            out.append(
                (
                    self.org_id, p.model_name, p.trace_id, p.span_id, row_index, label_trace, label_span,
                    p.model_version, self.environments.get(p.id), p.task, row.predicted.klass,
                    row.predicted.num, row.label.klass, row.label.num, row.value, p.time_ns,
                    placement.label_time_ns, 0, self.version + 1,
                )
            )  # fmt: skip
        self.x.insert(f"{self.db}.label_rows", LABEL_ROW_COLUMNS, out)


_REVISIT = (
    "target_span_id", "model_name", "status", "prediction_span_id", "value", "is_batch",
    "row_indices", "time_ns", "join_rule",
)  # fmt: skip


def _sample(text: str | None) -> Any:
    import json

    from ...schema.envelope import split_envelope

    if text is None:
        return None
    try:
        sample, _ = split_envelope(json.loads(text))
    except ValueError:
        return None
    return sample
