"""Concept drift: labelled rows in windows, accuracy or MAE against the first labelled rows.

Labelled rows are read from ``label_rows`` by id (a cursor per organisation, so history is never
rescanned): per model version, the first ``label_reference_rows`` are the reference and each
``label_window_rows`` that follow are a window. A window's accuracy is tested against the
reference's with a one-sided two-proportion z-test (its MAE with a one-sided Welch t-test), so a
small window's noise is not an alarm: CONCEPT_DRIFT opens when the drop is significant and large
enough, and resolves on a window that is not. A window that passes joins the reference until it
holds ``label_reference_max`` rows, so the reference's own luck fades.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...schema.vocabulary import DetectionMethod
from ..alerts.notice import AnomalyNotice
from ..detection.anomalies import Target
from ..storage.schema import label_rows
from . import outcomes, store
from .config import DriftSettings
from .rules import CONCEPT_DRIFT
from .statistics import mean_rise_pvalue, proportion_drop_pvalue
from .windows import Stream

if TYPE_CHECKING:  # the telemetry package imports drift
    from ..telemetry import TelemetryStore

ModelKey = tuple[str, str, str]
_LABEL_BATCH = 5000


class LabelWindows:
    """The label cursors and labelled windows of one server (called on the writer thread)."""

    def __init__(self) -> None:
        self._labels: dict[ModelKey, Stream] = {}
        self._cursor: dict[str, int] = {}
        self._started_ns = time.time_ns()

    def step(
        self,
        connection: Connection,
        org_id: str,
        settings: DriftSettings,
        telemetry: TelemetryStore | None = None,
    ) -> list[AnomalyNotice]:
        """Labelled rows joined since the last call: into windows; full windows judged. The rows
        come from ``telemetry`` when telemetry lives there (``--telemetry-db``)."""
        cursor = self._cursor.get(org_id)
        if cursor is None:
            # rows labelled before this server started are history, not news
            cursor = (
                telemetry.label_cursor(org_id, self._started_ns)
                if telemetry is not None
                else _first_cursor(connection, org_id, self._started_ns)
            )
        if telemetry is not None:
            found: Sequence[Sequence[Any]] = telemetry.labelled_rows_after(org_id, cursor, _LABEL_BATCH)
        else:
            found = _rows_after(connection, org_id, cursor)
        notices: list[AnomalyNotice] = []
        for row_id, model, version, task, pred_class, label_class, pred_num, label_num, pred_time in found:
            cursor = max(cursor, int(row_id))
            value = _row_score(task, pred_class, label_class, pred_num, label_num)
            if value is None:
                continue
            mkey: ModelKey = (org_id, model, version or "")
            state = self._labels.setdefault(mkey, Stream(task=task))
            full = state.add(value, pred_time, settings.label_reference_rows, settings.label_window_rows)
            if full:
                notice = self._judge(connection, mkey, state, settings)
                state.window = []
                if notice is not None:
                    notices.append(notice)
        self._cursor[org_id] = cursor
        return notices

    def _judge(
        self, connection: Connection, mkey: ModelKey, state: Stream, settings: DriftSettings
    ) -> AnomalyNotice | None:
        org_id, model, version = mkey
        ref, win = np.array(state.reference), np.array(state.window)
        if state.task == "regression":
            metric, ref_value, win_value = "mae", float(ref.mean()), float(win.mean())
            p_value = mean_rise_pvalue(ref, win)
            worse = p_value < settings.performance_alpha and win_value >= settings.min_mae_ratio * max(
                ref_value, 1e-12
            )
        else:
            metric, ref_value, win_value = "accuracy", float(ref.mean()), float(win.mean())
            p_value = proportion_drop_pvalue(int(ref.sum()), ref.size, int(win.sum()), win.size)
            worse = (
                p_value < settings.performance_alpha and ref_value - win_value >= settings.min_accuracy_drop
            )
        details = {
            "metric": metric,
            "reference": ref_value,
            "window": win_value,
            "p_value": p_value,
            "test": "welch_t" if metric == "mae" else "two_proportion_z",
            "reference_rows": int(ref.size),
            "window_rows": int(win.size),
            "estimated": False,
        }
        store.save_scores(
            connection,
            org_id,
            [
                {
                    "model_name": model,
                    "model_version": version,
                    "environment": "",
                    "window_start_ns": state.start_ns,
                    "window_end_ns": state.end_ns,
                    "side": "performance",
                    "feature": metric,
                    "kind": "labelled",
                    "score": win_value,
                    "drifted": worse,
                    "rows": int(win.size),
                    "details": json.dumps(details),
                }
            ],
        )
        target = Target("prediction", "", model, version, "")
        if not worse:
            # a window that passed joins the reference (up to a cap): a reference of 200 rows that
            # happened to be lucky would make every ordinary window after it look worse
            if len(state.reference) < settings.label_reference_max:
                state.reference.extend(state.window)
            return outcomes.resolve(connection, org_id, CONCEPT_DRIFT, target)
        rule = CONCEPT_DRIFT
        if metric == "mae":
            rule = replace(rule, method=DetectionMethod.T_TEST)
        message = (
            f"{metric} {win_value:.4g} on {win.size} labelled rows vs {ref_value:.4g} "
            f"in the reference (p={p_value:.2g})"
        )
        return outcomes.hit(connection, org_id, rule, target, state.end_ns, message, details)


def _row_score(
    task: str | None,
    pred_class: str | None,
    label_class: str | None,
    pred_num: float | None,
    label_num: float | None,
) -> float | None:
    """1.0/0.0 for a correct/wrong class, the absolute error for a number; None if unscored."""
    if task == "regression":
        if pred_num is None or label_num is None:
            return None
        return abs(pred_num - label_num)
    if pred_class is None or label_class is None:
        return None
    return 1.0 if pred_class == label_class else 0.0


def _first_cursor(connection: Connection, org_id: str, started_ns: int) -> int:
    first = connection.execute(
        sa.select(sa.func.max(label_rows.c.id)).where(
            label_rows.c.org_id == org_id, label_rows.c.label_time_ns < started_ns
        )
    ).scalar()
    return int(first or 0)


def _rows_after(connection: Connection, org_id: str, cursor: int) -> list[Any]:
    lr = label_rows.c
    columns = (lr.id, lr.model_name, lr.model_version, lr.task, lr.pred_class, lr.label_class)
    query = (
        sa.select(*columns, lr.pred_num, lr.label_num, lr.pred_time_ns)
        .where(lr.org_id == org_id, lr.id > cursor)
        .order_by(lr.id)
        .limit(_LABEL_BATCH)
    )
    return list(connection.execute(query))
