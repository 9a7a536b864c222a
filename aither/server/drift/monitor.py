"""Drift as spans are stored: row samples gather into windows; a closed window is compared.

:class:`DriftMonitor` belongs to one database engine (like detection's
:class:`~aither.server.detection.Detection`). The ingest job calls :meth:`DriftMonitor.observe`
inside its transaction, on the writer thread, with the batch's new spans and predictions:

1. each prediction span's ``ml.features.stats_sample`` / ``ml.prediction.stats_sample`` (random
   rows, chosen by the SDK) joins the model version's open window; the first
   ``reference_rows`` sampled rows of a version become its reference when no reference was set;
2. a window that holds ``window_rows`` rows (or is ``window_max_s`` old with ``min_rows``) is
   compared with the reference column by column; the scores are stored, and INPUT_DRIFT,
   OUTPUT_DRIFT and QUALITY_DEGRADATION (estimated) anomalies open, bump or resolve;
3. labelled rows joined since the last batch (``label_rows``, read by id, never rescanned)
   gather into labelled windows: accuracy (or MAE) against the first labelled rows, with a
   one-sided test, opens or resolves CONCEPT_DRIFT.

Open windows live in memory: a restart starts them again (references and scores are stored).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy.engine import Connection, Engine

from ... import semconv as sc
from ...schema.vocabulary import DetectionMethod
from ..alerts.notice import AnomalyNotice
from ..detection import anomalies
from ..detection.anomalies import Hit, Target
from ..detection.rules import Rule
from ..ingest.records import LlmCallRecord, OperationRecord, PredictionRecord, SpanRecord
from ..storage.schema import label_rows
from . import embeddings, outliers, store
from .config import DriftSettings
from .judge import Judge, JudgeItem, RecentContexts, groundedness, message_text, words
from .reference import Reference, Table, build, input_table, output_table
from .rules import (
    CONCEPT_DRIFT,
    EMBEDDING_DRIFT,
    GROUNDEDNESS,
    HALLUCINATION,
    INPUT_DRIFT,
    OUTLIERS,
    OUTPUT_DRIFT,
    QUALITY_DEGRADATION,
)
from .statistics import mean_rise_pvalue, proportion_drop_pvalue
from .windows import FeatureDrift, Window, compare, estimated_accuracy

logger = logging.getLogger("aither.server")

ModelKey = tuple[str, str, str]
"""(org, model, version)."""
WindowKey = tuple[str, str, str, str]
"""(org, model, version, environment)."""
_LABEL_BATCH = 5000


@dataclass
class _LabelState:
    task: str | None = None
    reference: list[float] = field(default_factory=list)
    window: list[float] = field(default_factory=list)
    start_ns: int = 0
    end_ns: int = 0


@dataclass
class _VectorState:
    reference: list[NDArray[np.float64]] = field(default_factory=list)
    window: list[NDArray[np.float64]] = field(default_factory=list)
    start_ns: int = 0
    end_ns: int = 0


@dataclass
class WindowResult:
    """What one closed window found (also what the tests and the benchmark read)."""

    key: WindowKey
    start_ns: int
    end_ns: int
    rows: int
    features: list[FeatureDrift]
    estimated: dict[str, Any] | None


class DriftMonitor:
    """Windows, references and label cursors of one server. Thread-safe."""

    def __init__(self, settings: DriftSettings | None = None) -> None:
        self.settings = settings if settings is not None else DriftSettings()
        self._lock = threading.Lock()
        self._windows: dict[WindowKey, Window] = {}
        self._first: dict[ModelKey, Window] = {}
        self._references: dict[ModelKey, Reference | None] = {}
        self._labels: dict[ModelKey, _LabelState] = {}
        self._cursor: dict[str, int] = {}
        self._vectors: dict[tuple[str, str, str], _VectorState] = {}
        self._contexts = RecentContexts()
        self._judge: Judge | None = None
        self._random = random.Random(0x4A55)  # which calls the judge sees: seeded, reproducible
        self._outlier_models: dict[ModelKey, dict[str, outliers.OutlierModel | None]] = {}
        self._started_ns = time.time_ns()
        self.errors = 0
        """Drift failures caught (ingest never fails because of drift)."""
        self.results: list[WindowResult] = []
        """The last closed windows' results, newest last (bounded)."""

    # --- references ------------------------------------------------------------------------------

    def forget_reference(self, org_id: str, model: str) -> None:
        """Drop cached references and open windows of ``model`` (a new reference was set)."""
        with self._lock:
            for cache in (self._references, self._first, self._outlier_models):
                for key in [k for k in cache if k[0] == org_id and k[1] == model]:
                    del cache[key]
            for wkey in [k for k in self._windows if k[0] == org_id and k[1] == model]:
                del self._windows[wkey]

    def _reference(self, connection: Connection, key: ModelKey) -> Reference | None:
        if key not in self._references:
            self._references[key] = store.load_reference(connection, *key)
        return self._references[key]

    # --- ingest ------------------------------------------------------------------------------------

    def observe(
        self,
        connection: Connection,
        org_id: str,
        spans: Sequence[SpanRecord],
        predictions: Sequence[PredictionRecord],
        llm_calls: Sequence[LlmCallRecord] = (),
        operations: Sequence[OperationRecord] = (),
    ) -> list[AnomalyNotice]:
        """Add a batch's row samples; close and judge full windows. The notices to send."""
        if not self.settings.enabled:
            return []
        notices: list[AnomalyNotice] = []
        by_key = {span.key: span for span in spans}
        with self._lock:
            for prediction in predictions:
                span = by_key.get((prediction.trace_id, prediction.span_id))
                if span is None or prediction.is_error:
                    continue
                if sc.ML_FEATURES_STATS_SAMPLE in span.attributes:
                    tables = _tables(span.attributes)
                else:  # a small call: ml.features holds every row
                    tables = _shown_tables(prediction)
                if tables is None:
                    continue
                notices.extend(self._add(connection, org_id, prediction, *tables))
            notices.extend(self._labels_step(connection, org_id))
            for operation in operations:
                if operation.span_type == "retrieval" and operation.output:
                    self._contexts.add(operation.trace_id, _plain_text(operation.output))
            for call in llm_calls:
                span = by_key.get((call.trace_id, call.span_id))
                if span is None:
                    continue
                vectors = "aither.embedding." in span.attributes
                content = sc.GEN_AI_OUTPUT_MESSAGES in span.attributes
                if not (vectors or content):
                    continue
                try:
                    attributes = json.loads(span.attributes)
                except ValueError:
                    continue
                if vectors:
                    notices.extend(self._embeddings(connection, org_id, call, attributes))
                if content:
                    notices.extend(self._answer(connection, org_id, call, attributes))
            notices.extend(self._verdicts(connection))
        return notices

    # --- checks of LLM answers: groundedness now, the judge in the background ----------------------

    def judge(self) -> Judge | None:
        """The judge of the current settings (started on first use), or None when none is set."""
        settings = self.settings
        if settings.judge_base_url is None:
            return None
        current = self._judge
        if current is None or (current.base_url, current.model) != (
            settings.judge_base_url.rstrip("/"),
            settings.judge_model,
        ):
            if current is not None:
                current.close(0.0)
            current = self._judge = Judge(
                settings.judge_base_url,
                settings.judge_model,
                settings.judge_api_key,
                queue_size=settings.judge_queue,
                price_input_per_mtok=settings.judge_price_input_per_mtok,
                price_output_per_mtok=settings.judge_price_output_per_mtok,
            )
        return current

    def _answer(
        self, connection: Connection, org_id: str, call: LlmCallRecord, attributes: dict[str, Any]
    ) -> list[AnomalyNotice]:
        answer = message_text(attributes.get(sc.GEN_AI_OUTPUT_MESSAGES))
        if not answer.strip():
            return []
        model = call.response_model or call.request_model or ""
        context = self._contexts.get(call.trace_id)
        notices: list[AnomalyNotice] = []
        score = groundedness(answer, context) if context is not None else None
        if score is not None:
            threshold = self.settings.rag_min_groundedness
            missing = sorted(words(answer) - words(context or ""))[:20]
            details = {
                "groundedness": score,
                "threshold": threshold,
                "trace_id": call.trace_id,
                "missing": missing,
            }
            store.save_scores(
                connection,
                org_id,
                [_answer_row(model, call, "rag", "groundedness", score, score < threshold, details)],
            )
            if score < threshold:
                message = (
                    f"{score:.0%} of the answer's content words are in the retrieved text "
                    f"(threshold {threshold:.0%})"
                )
                hit = Hit(
                    GROUNDEDNESS,
                    Target("llm", "", model),
                    call.time_ns,
                    message,
                    details,
                    trace_id=call.trace_id,
                )
                notice = anomalies.record(connection, org_id, hit, time.time_ns())
                if notice is not None:
                    notices.append(notice)
        judge = self.judge()
        if judge is not None and self._random.random() < self.settings.judge_sample_share:
            prompt = "\n".join(
                message_text(attributes.get(name))
                for name in (sc.GEN_AI_SYSTEM_INSTRUCTIONS, sc.GEN_AI_INPUT_MESSAGES)
            )
            judge.offer(JudgeItem(org_id, model, call.trace_id, call.time_ns, prompt, answer, context))
        return notices

    def _verdicts(self, connection: Connection) -> list[AnomalyNotice]:
        judge = self._judge
        if judge is None:
            return []
        notices: list[AnomalyNotice] = []
        threshold = self.settings.judge_threshold
        for verdict in judge.drain():
            item = verdict.item
            details = {
                "score": verdict.score,
                "reason": verdict.reason,
                "threshold": threshold,
                "trace_id": item.trace_id,
                "judge_model": judge.model,
                "judge_input_tokens": verdict.input_tokens,
                "judge_output_tokens": verdict.output_tokens,
                "judge_cost_usd": verdict.cost_usd,
                "with_context": item.context is not None,
            }
            flagged = verdict.score >= threshold
            row = _answer_row(item.model, None, "judge", "hallucination", verdict.score, flagged, details)
            row["window_start_ns"] = row["window_end_ns"] = item.time_ns
            store.save_scores(connection, item.org_id, [row])
            if flagged:
                message = (
                    f"the judge scored an answer {verdict.score:.2f} for hallucination: {verdict.reason}"
                )
                hit = Hit(
                    HALLUCINATION,
                    Target("llm", "", item.model),
                    item.time_ns,
                    message,
                    details,
                    trace_id=item.trace_id,
                )
                notice = anomalies.record(connection, item.org_id, hit, time.time_ns())
                if notice is not None:
                    notices.append(notice)
        return notices

    def _embeddings(
        self, connection: Connection, org_id: str, call: LlmCallRecord, attributes: dict[str, Any]
    ) -> list[AnomalyNotice]:
        settings = self.settings
        model = call.response_model or call.request_model or ""
        notices: list[AnomalyNotice] = []
        for side, name in (
            ("prompt", sc.AITHER_EMBEDDING_PROMPT),
            ("response", sc.AITHER_EMBEDDING_RESPONSE),
        ):
            vector = embeddings.decode(attributes.get(name))
            if vector is None:
                continue
            state = self._vectors.setdefault((org_id, model, side), _VectorState())
            if state.reference and vector.shape != state.reference[0].shape:
                continue  # another embedding model: not comparable
            if len(state.reference) < settings.embedding_reference:
                state.reference.append(vector)
                continue
            if not state.window:
                state.start_ns = call.time_ns
            state.window.append(vector)
            state.end_ns = max(state.end_ns, call.time_ns)
            if len(state.window) < settings.embedding_window:
                continue
            result = embeddings.compare(
                np.array(state.reference), np.array(state.window), settings.embedding_alpha
            )
            start, end = state.start_ns, state.end_ns
            state.window = []
            store.save_scores(
                connection,
                org_id,
                [
                    {
                        "model_name": model[:200],
                        "model_version": "",
                        "environment": "",
                        "window_start_ns": start,
                        "window_end_ns": end,
                        "side": "embedding",
                        "feature": side,
                        "kind": "embedding",
                        "score": result["mean_cosine_distance"],
                        "drifted": result["drifted"],
                        "rows": result["window_vectors"],
                        "details": json.dumps(result),
                    }
                ],
            )
            target = Target("llm", "", model)
            rule = replace(EMBEDDING_DRIFT, name=f"{side}_embedding_drift")
            if result["drifted"]:
                message = (
                    f"{side} embeddings moved: mean cosine distance {result['mean_cosine_distance']:.3f}, "
                    f"MMD p={result['p_value']:.3g}"
                )
                evidence = {**result, "side": side, "window": {"start_ns": start, "end_ns": end}}
                notice = self._hit(connection, org_id, rule, target, end, message, evidence)
            else:
                notice = self._resolve(connection, org_id, rule, target)
            if notice is not None:
                notices.append(notice)
        return notices

    def _add(
        self, connection: Connection, org_id: str, prediction: PredictionRecord, inputs: Table, outputs: Table
    ) -> list[AnomalyNotice]:
        settings = self.settings
        version, environment = prediction.model_version or "", prediction.environment or ""
        mkey: ModelKey = (org_id, prediction.model_name, version)
        reference = self._reference(connection, mkey)
        if reference is None:
            first = self._first.setdefault(mkey, Window(prediction.time_ns, prediction.time_ns))
            first.add(inputs, outputs, prediction.time_ns)
            if first.rows >= settings.reference_rows:
                reference = build(
                    first.inputs,
                    first.outputs,
                    source="first_rows",
                    bins=settings.bins,
                    reservoir_rows=settings.reservoir_rows,
                    start_ns=first.start_ns,
                    end_ns=first.end_ns,
                )
                store.save_reference(connection, org_id, prediction.model_name, version, reference)
                self._references[mkey] = reference
                del self._first[mkey]
            return []
        wkey: WindowKey = (*mkey, environment)
        window = self._windows.setdefault(wkey, Window(prediction.time_ns, prediction.time_ns))
        window.add(inputs, outputs, prediction.time_ns)
        if not window.ready(settings, prediction.time_ns):
            return []
        del self._windows[wkey]
        return self._judge(connection, wkey, reference, window)

    def _judge(
        self, connection: Connection, wkey: WindowKey, reference: Reference, window: Window
    ) -> list[AnomalyNotice]:
        org_id, model, version, environment = wkey
        features = compare(reference, window, self.settings)
        estimated = estimated_accuracy(reference, window, self.settings)
        result = WindowResult(wkey, window.start_ns, window.end_ns, window.rows, features, estimated)
        self.results = [*self.results[-99:], result]
        base = {
            "model_name": model,
            "model_version": version,
            "environment": environment,
            "window_start_ns": window.start_ns,
            "window_end_ns": window.end_ns,
        }
        rows = [
            {
                **base,
                "side": f.side,
                "feature": f.feature[:200],
                "kind": f.kind,
                "score": _finite(f.psi),
                "drifted": f.drifted,
                "rows": f.rows,
                "details": json.dumps(f.to_json()),
            }
            for f in features
        ]
        if estimated is not None:
            rows.append(
                {
                    **base,
                    "side": "performance",
                    "feature": "estimated_accuracy",
                    "kind": "estimated",
                    "score": estimated["estimated_accuracy"],
                    "drifted": bool(estimated["degraded"]),
                    "rows": estimated["rows"],
                    "details": json.dumps(estimated),
                }
            )
        target = Target("prediction", "", model, version, environment)
        window_info = {"start_ns": window.start_ns, "end_ns": window.end_ns, "rows": window.rows}
        notices: list[AnomalyNotice | None] = []
        notices.extend(self._outliers_of(connection, wkey, reference, window, base, rows, window_info))
        store.save_scores(connection, org_id, rows)
        for side, rule in (("input", INPUT_DRIFT), ("output", OUTPUT_DRIFT)):
            moved = sorted((f for f in features if f.side == side and f.drifted), key=lambda f: -f.psi)
            tested = sum(1 for f in features if f.side == side)
            if moved:
                names = ", ".join(f"{f.feature} (PSI {f.psi:.2f})" for f in moved[:5])
                more = f" and {len(moved) - 5} more" if len(moved) > 5 else ""
                message = f"{len(moved)} of {tested} {side} columns drifted: {names}{more}"
                evidence = {
                    "features": [f.feature for f in moved],
                    "scores": [f.to_json() for f in moved[:20]],
                    "window": window_info,
                    "reference": {"source": reference.source, "rows": reference.rows},
                }
                notices.append(self._hit(connection, org_id, rule, target, window.end_ns, message, evidence))
            else:
                notices.append(self._resolve(connection, org_id, rule, target))
        if estimated is not None:
            if estimated["degraded"]:
                message = (
                    f"estimated accuracy {estimated['estimated_accuracy']:.1%}, down from "
                    f"{estimated['reference_accuracy']:.1%} (estimated from confidence, no labels)"
                )
                evidence = {**estimated, "window": window_info}
                notices.append(
                    self._hit(
                        connection, org_id, QUALITY_DEGRADATION, target, window.end_ns, message, evidence
                    )
                )
            else:
                notices.append(self._resolve(connection, org_id, QUALITY_DEGRADATION, target))
        return [n for n in notices if n is not None]

    def _outliers_of(
        self,
        connection: Connection,
        wkey: WindowKey,
        reference: Reference,
        window: Window,
        base: dict[str, Any],
        rows: list[dict[str, Any]],
        window_info: dict[str, Any],
    ) -> list[AnomalyNotice | None]:
        """Outlier rates of the opt-in methods: score rows appended to ``rows``; the notices."""
        settings = self.settings
        if not settings.outlier_methods or not outliers.available():
            return []
        org_id, model, version, environment = wkey
        fitted = self._outlier_models.setdefault(wkey[:3], {})
        target = Target("prediction", "", model, version, environment)
        notices: list[AnomalyNotice | None] = []
        for method in settings.outlier_methods:
            if method not in fitted:
                fitted[method] = outliers.OutlierModel.fit(reference, method)
            fit = fitted[method]
            measured = fit.rate(window.inputs) if fit is not None else None
            if measured is None:
                continue
            rate, count, furthest = measured
            outlying, p_value = outliers.judge(
                rate, count, settings.outlier_rate_multiplier, settings.performance_alpha
            )
            details = {
                "method": method,
                "rate": rate,
                "expected": outliers.OUTLIER_SHARE,
                "p_value": p_value,
                "features": furthest,
            }
            rows.append(
                {
                    **base,
                    "side": "outliers",
                    "feature": method,
                    "kind": "multivariate",
                    "score": rate,
                    "drifted": outlying,
                    "rows": count,
                    "details": json.dumps(details),
                }
            )
            rule = replace(OUTLIERS, name=f"{method}_outliers", method=DetectionMethod(method))
            if outlying:
                message = (
                    f"{rate:.1%} of {count} rows are outliers ({method}; "
                    f"expected {outliers.OUTLIER_SHARE:.0%})"
                )
                evidence = {**details, "window": window_info}
                notices.append(self._hit(connection, org_id, rule, target, window.end_ns, message, evidence))
            else:
                notices.append(self._resolve(connection, org_id, rule, target))
        return notices

    def _hit(
        self,
        connection: Connection,
        org_id: str,
        rule: Rule,
        target: Target,
        time_ns: int,
        message: str,
        evidence: dict[str, Any],
    ) -> AnomalyNotice | None:
        return anomalies.record(
            connection, org_id, Hit(rule, target, time_ns, message, evidence), time.time_ns()
        )

    def _resolve(
        self, connection: Connection, org_id: str, rule: Rule, target: Target
    ) -> AnomalyNotice | None:
        key = anomalies.open_key(rule.name, target)
        for row in anomalies.open_rows(connection, org_id):
            if row["open_key"] == key:
                return anomalies.resolve(connection, row, time.time_ns())
        return None

    # --- labels: concept drift --------------------------------------------------------------------

    def _labels_step(self, connection: Connection, org_id: str) -> list[AnomalyNotice]:
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
            state = self._labels.setdefault(mkey, _LabelState(task=row.task))
            if len(state.reference) < self.settings.label_reference_rows:
                state.reference.append(value)
                continue
            if not state.window:
                state.start_ns = row.pred_time_ns
            state.window.append(value)
            state.start_ns = min(state.start_ns, row.pred_time_ns)
            state.end_ns = max(state.end_ns, row.pred_time_ns)
            if len(state.window) >= self.settings.label_window_rows:
                notice = self._judge_labels(connection, mkey, state)
                state.window = []
                if notice is not None:
                    notices.append(notice)
        self._cursor[org_id] = cursor
        return notices

    def _judge_labels(
        self, connection: Connection, mkey: ModelKey, state: _LabelState
    ) -> AnomalyNotice | None:
        org_id, model, version = mkey
        settings = self.settings
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
            return self._resolve(connection, org_id, CONCEPT_DRIFT, target)
        rule = CONCEPT_DRIFT
        if metric == "mae":
            rule = replace(rule, method=DetectionMethod.T_TEST)
        message = (
            f"{metric} {win_value:.4g} on {win.size} labelled rows vs {ref_value:.4g} "
            f"in the reference (p={p_value:.2g})"
        )
        return self._hit(connection, org_id, rule, target, state.end_ns, message, details)


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _answer_row(
    model: str,
    call: LlmCallRecord | None,
    side: str,
    feature: str,
    score: float,
    flagged: bool,
    details: dict[str, Any],
) -> dict[str, Any]:
    """A drift_scores row for one checked answer."""
    at = call.time_ns if call is not None else 0
    return {
        "model_name": model[:200],
        "model_version": "",
        "environment": "",
        "window_start_ns": at,
        "window_end_ns": at,
        "side": side,
        "feature": feature,
        "kind": "answer",
        "score": score,
        "drifted": flagged,
        "rows": 1,
        "details": json.dumps(details),
    }


def _plain_text(payload: str) -> str:
    """The strings of an ``aither.output`` payload (its ``sample`` when it is an envelope)."""
    try:
        value: Any = json.loads(payload)
    except ValueError:
        return payload
    if isinstance(value, dict) and "sample" in value:
        value = value["sample"]
    texts: list[str] = []

    def walk(item: Any, depth: int = 0) -> None:
        if isinstance(item, str):
            texts.append(item)
        elif depth < 6 and isinstance(item, list):
            for inner in item:
                walk(inner, depth + 1)
        elif depth < 6 and isinstance(item, dict):
            for inner in item.values():
                walk(inner, depth + 1)

    walk(value)
    return "\n".join(texts)


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


def _tables(attributes_json: str) -> tuple[Table, Table] | None:
    """The input and output tables of one span's stats samples; None when unreadable."""
    try:
        attributes = json.loads(attributes_json)
        features = json.loads(attributes[sc.ML_FEATURES_STATS_SAMPLE])
        inputs = input_table(features["columns"], features["rows"])
        raw = attributes.get(sc.ML_PREDICTION_STATS_SAMPLE)
        outputs = output_table(json.loads(raw)["values"]) if raw else {}
    except (ValueError, KeyError, TypeError):
        return None
    return inputs, outputs


def _shown_tables(prediction: PredictionRecord) -> tuple[Table, Table] | None:
    """The tables of a call whose ``ml.features`` holds every row (the SDK drew none)."""
    if prediction.features is None:
        return None
    try:
        envelope = json.loads(prediction.features)
        meta, rows = envelope.get("_meta") or {}, envelope.get("sample")
    except (ValueError, AttributeError):
        return None
    if meta.get("truncated") or not isinstance(rows, list) or not rows:
        return None
    if all(isinstance(row, dict) for row in rows):
        columns = [str(key) for key in rows[0]]
        rows = [[row.get(key) for key in columns] for row in rows]
    elif all(isinstance(row, list) for row in rows):
        names = meta.get("columns")
        columns = (
            [str(c) for c in names] if isinstance(names, list) else [f"f{i}" for i in range(len(rows[0]))]
        )
    else:
        return None
    sample = prediction.sample
    outputs = output_table(sample if isinstance(sample, list) else [sample]) if sample is not None else {}
    return input_table(columns, rows), outputs


_ATTACHED: weakref.WeakKeyDictionary[Engine, DriftMonitor] = weakref.WeakKeyDictionary()


def attach(engine: Engine, monitor: DriftMonitor) -> None:
    """Make ``monitor`` the one ingest jobs on ``engine`` use."""
    _ATTACHED[engine] = monitor


def monitor_for(engine: Engine) -> DriftMonitor:
    """The monitor attached to ``engine`` (a new one with the default settings if none)."""
    monitor = _ATTACHED.get(engine)
    if monitor is None:
        monitor = _ATTACHED[engine] = DriftMonitor()
    return monitor
