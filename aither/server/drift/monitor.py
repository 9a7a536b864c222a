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
import threading
import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy.engine import Connection, Engine

from ...schema import semconv as sc
from ...schema.envelope import META, SAMPLE
from ...schema.vocabulary import DetectionMethod
from ..alerts.notice import AnomalyNotice
from ..detection.anomalies import Target
from ..detection.engine import detection_for
from ..ingest.records import DecodedBatch, PredictionRecord
from . import outcomes, outliers, store
from .answers import AnswerChecks
from .config import DriftSettings
from .judge import Judge
from .labels import LabelWindows
from .reference import Reference, Table, build, input_table, output_table, sample_tables
from .rules import INPUT_DRIFT, OUTLIERS, OUTPUT_DRIFT, QUALITY_DEGRADATION
from .sequences import SequenceWatch
from .windows import FeatureDrift, Window, compare, estimated_accuracy

if TYPE_CHECKING:  # the telemetry package imports drift
    from ..telemetry import TelemetryStore

logger = logging.getLogger("aither.server")

ModelKey = tuple[str, str, str]
"""(org, model, version)."""
WindowKey = tuple[str, str, str, str]
"""(org, model, version, environment)."""


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
        self.labels = LabelWindows()
        self.answers = AnswerChecks()
        self.sequences = SequenceWatch()
        self._outlier_models: dict[ModelKey, dict[str, outliers.OutlierModel | None]] = {}
        self.telemetry: TelemetryStore | None = None
        """Where labelled rows are stored when not in the relational database (``--telemetry-db``)."""
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

    def observe(self, connection: Connection, org_id: str, new: DecodedBatch) -> list[AnomalyNotice]:
        """Add the row samples of a batch's new rows; close and judge full windows. The notices to send."""
        if not self.settings.enabled:
            return []
        notices: list[AnomalyNotice] = []
        by_key = {span.key: span for span in new.spans}
        with self._lock:
            for prediction in new.predictions:
                span = by_key.get((prediction.trace_id, prediction.span_id))
                if span is None or prediction.is_error:
                    continue
                if sc.ML_FEATURES_STATS_SAMPLE in span.attributes:
                    tables = sample_tables(span.attributes)
                else:  # a small call: ml.features holds every row
                    tables = _shown_tables(prediction)
                if tables is None:
                    continue
                notices.extend(self._add(connection, org_id, prediction, *tables))
            # only a batch's predictions and labels add labelled rows (the label join): with
            # telemetry in ClickHouse, a batch of calls alone costs it no read
            if self.telemetry is None or new.predictions or new.labels:
                notices.extend(self.labels.step(connection, org_id, self.settings, self.telemetry))
            notices.extend(
                self.answers.observe(connection, org_id, self.settings, by_key, new.llm_calls, new.operations)
            )
            if self.settings.sequence_watch:
                now = detection_for(connection.engine).now_ns(org_id)
                notices.extend(self.sequences.step(connection, org_id, now, self.settings))
        return notices

    def judge(self) -> Judge | None:
        """The judge of the current settings (started on first use), or None when none is set."""
        return self.answers.judge(self.settings)

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
            finding = None
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
                finding = (message, evidence)
            notices.append(outcomes.settle(connection, org_id, rule, target, window.end_ns, finding))
        if estimated is not None:
            finding = None
            if estimated["degraded"]:
                message = (
                    f"estimated accuracy {estimated['estimated_accuracy']:.1%}, down from "
                    f"{estimated['reference_accuracy']:.1%} (estimated from confidence, no labels)"
                )
                finding = (message, {**estimated, "window": window_info})
            notices.append(
                outcomes.settle(connection, org_id, QUALITY_DEGRADATION, target, window.end_ns, finding)
            )
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
            finding = None
            if outlying:
                message = (
                    f"{rate:.1%} of {count} rows are outliers ({method}; "
                    f"expected {outliers.OUTLIER_SHARE:.0%})"
                )
                finding = (message, {**details, "window": window_info})
            notices.append(outcomes.settle(connection, org_id, rule, target, window.end_ns, finding))
        return notices


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _shown_tables(prediction: PredictionRecord) -> tuple[Table, Table] | None:
    """The tables of a call whose ``ml.features`` holds every row (the SDK drew none)."""
    if prediction.features is None:
        return None
    try:
        envelope = json.loads(prediction.features)
        meta, rows = envelope.get(META) or {}, envelope.get(SAMPLE)
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
