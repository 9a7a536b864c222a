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
from dataclasses import replace

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

ModelKey = tuple[str, str, str]
_LABEL_BATCH = 5000


class LabelWindows:
    """The label cursors and labelled windows of one server (called on the writer thread)."""

    def __init__(self) -> None:
        self._labels: dict[ModelKey, Stream] = {}
        self._cursor: dict[str, int] = {}
        self._started_ns = time.time_ns()

    def step(self, connection: Connection, org_id: str, settings: DriftSettings) -> list[AnomalyNotice]:
        """Labelled rows joined since the last call: into windows; full windows judged."""
        cursor = self._cursor.get(org_id)
        if cursor is None:
            # rows labelled before this server started are history, not news
            first = connection.execute(
                sa.select(sa.func.max(label_rows.c.id)).where(
                    label_rows.c.org_id == org_id, label_rows.c.label_time_ns < self._started_ns
                )
            ).scalar()
            cursor = int(first or 0)
        query = (
            sa.select(
                label_rows.c.id,
                label_rows.c.model_name,
                label_rows.c.model_version,
                label_rows.c.task,
                label_rows.c.pred_class,
                label_rows.c.label_class,
                label_rows.c.pred_num,
                label_rows.c.label_num,
                label_rows.c.pred_time_ns,
            )
            .where(label_rows.c.org_id == org_id, label_rows.c.id > cursor)
            .order_by(label_rows.c.id)
            .limit(_LABEL_BATCH)
        )
        notices: list[AnomalyNotice] = []
        for row in connection.execute(query):
            cursor = max(cursor, int(row.id))
            value = _row_score(row.task, row.pred_class, row.label_class, row.pred_num, row.label_num)
            if value is None:
                continue
            mkey: ModelKey = (org_id, row.model_name, row.model_version or "")
            state = self._labels.setdefault(mkey, Stream(task=row.task))
            full = state.add(
                value, row.pred_time_ns, settings.label_reference_rows, settings.label_window_rows
            )
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
