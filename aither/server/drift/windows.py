"""Windows of sampled rows, and the comparison of a closed window with its reference.

A window gathers the unbiased row samples (``ml.features.stats_sample`` and
``ml.prediction.stats_sample``) of one model version's calls until it holds
``window_rows`` sampled rows, or ``window_max_s`` has passed with at least ``min_rows``.
It lives in the server's memory while open (a restart starts it again); what a closed window
found is stored (:mod:`aither.server.drift.store`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .config import DriftSettings
from .reference import CONFIDENCE, ColumnSummary, Reference, Table, categories, numbers
from .statistics import (
    CATEGORICAL_METHODS,
    NUMERIC_METHODS,
    P_VALUE_METHODS,
    Score,
    categorical_scores,
    mean_rise_pvalue,
    numeric_scores,
)

Side = Literal["input", "output"]


@dataclass
class Window:
    """The sampled rows of one model version since the last decision."""

    start_ns: int
    end_ns: int
    rows: int = 0
    calls: int = 0
    inputs: Table = field(default_factory=dict)
    outputs: Table = field(default_factory=dict)

    def add(self, inputs: Table, outputs: Table, time_ns: int) -> None:
        for target, table in ((self.inputs, inputs), (self.outputs, outputs)):
            for name, values in table.items():
                target.setdefault(name, []).extend(values)
        self.rows += max([len(v) for v in inputs.values()] + [len(v) for v in outputs.values()] + [0])
        self.calls += 1
        self.start_ns = min(self.start_ns, time_ns)
        self.end_ns = max(self.end_ns, time_ns)

    def ready(self, settings: DriftSettings, now_ns: int) -> bool:
        if self.rows >= settings.window_rows:
            return True
        return self.rows >= settings.min_rows and now_ns - self.start_ns >= settings.window_max_s * 1e9


@dataclass
class Stream:
    """Values that arrive one by one: the first ones are the reference, then windows of them
    (labelled rows' scores, embedding vectors)."""

    reference: list[Any] = field(default_factory=list)
    window: list[Any] = field(default_factory=list)
    start_ns: int = 0
    end_ns: int = 0
    task: str | None = None

    def add(self, value: Any, time_ns: int, reference_size: int, window_size: int) -> bool:
        """Add one value (to the reference until it holds ``reference_size``); True when the
        window holds ``window_size`` and is to be judged."""
        if len(self.reference) < reference_size:
            self.reference.append(value)
            return False
        if not self.window:
            self.start_ns = self.end_ns = time_ns
        self.window.append(value)
        self.start_ns, self.end_ns = min(self.start_ns, time_ns), max(self.end_ns, time_ns)
        return len(self.window) >= window_size


@dataclass
class FeatureDrift:
    """One column's comparison in one window."""

    feature: str
    side: Side
    kind: str
    scores: list[Score]
    drifted: bool
    rows: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def psi(self) -> float:
        return next((s.value for s in self.scores if s.method == "psi"), 0.0)

    def to_json(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "side": self.side,
            "kind": self.kind,
            "drifted": self.drifted,
            "rows": self.rows,
            "scores": {s.method: _finite(s.value) for s in self.scores},
            **self.details,
        }


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _thresholds(settings: DriftSettings, tested: int) -> dict[str, float]:
    """The settings' thresholds, p-values divided among the ``tested`` columns (Bonferroni)."""
    return {
        method: value / max(tested, 1) if method in P_VALUE_METHODS else value
        for method, value in settings.thresholds.items()
    }


def compare_column(
    name: str,
    side: Side,
    summary: ColumnSummary,
    reference_values: Sequence[Any],
    window_values: Sequence[Any],
    thresholds: dict[str, float],
    settings: DriftSettings,
) -> FeatureDrift | None:
    """One column of a window against its reference; None when the window has no values."""
    if summary.kind == "numeric":
        window = numbers(window_values)
        ref = numbers(reference_values)
        if window.size == 0 or ref.size == 0:
            return None
        scores = numeric_scores(
            ref, np.array(summary.counts), np.array(summary.edges), window, thresholds, NUMERIC_METHODS
        )
        decide = settings.numeric_decide
        details: dict[str, Any] = {
            "reference_mean": summary.mean,
            "window_mean": float(window.mean()),
            "reference_std": summary.std,
            "window_std": float(window.std()),
        }
        rows = int(window.size)
    else:
        values = categories(window_values)
        if not values:
            return None
        scores = categorical_scores(summary.category_counts, values, thresholds)
        decide = settings.categorical_decide
        total_ref = sum(summary.category_counts.values()) or 1.0
        shares: dict[str, float] = {}
        for value in values:
            shares[value] = shares.get(value, 0.0) + 1.0 / len(values)
        details = {
            "new_categories": sorted(set(values) - set(summary.category_counts))[:20],
            "reference_shares": {k: v / total_ref for k, v in sorted(summary.category_counts.items())[:20]},
            "window_shares": dict(sorted(shares.items())[:20]),
        }
        rows = len(values)
    by_method = {s.method: s for s in scores}
    deciding = [by_method[m] for m in decide if m in by_method]
    drifted = bool(deciding) and all(s.drifted for s in deciding)
    return FeatureDrift(name, side, summary.kind, scores, drifted, rows, details)


def _identifier(summary: ColumnSummary) -> bool:
    """A categorical column with mostly distinct values (ids, timestamps): its "drift" is noise."""
    return (
        summary.kind == "categorical"
        and summary.rows >= 50
        and len(summary.category_counts) > summary.rows / 2
    )


def compare(reference: Reference, window: Window, settings: DriftSettings) -> list[FeatureDrift]:
    """Every input and output column of ``window`` against ``reference``."""
    out: list[FeatureDrift] = []
    sides: tuple[tuple[Side, dict[str, ColumnSummary], Table, Table], ...] = (
        ("input", reference.inputs, reference.sample_inputs, window.inputs),
        ("output", reference.outputs, reference.sample_outputs, window.outputs),
    )
    for side, summaries, ref_sample, win_table in sides:
        tested = [name for name in summaries if win_table.get(name) and not _identifier(summaries[name])]
        thresholds = _thresholds(settings, len(tested))
        for name in tested:
            result = compare_column(
                name,
                side,
                summaries[name],
                ref_sample.get(name, []),
                win_table[name],
                thresholds,
                settings,
            )
            if result is not None:
                out.append(result)
    return out


def estimated_accuracy(
    reference: Reference, window: Window, settings: DriftSettings
) -> dict[str, Any] | None:
    """Confidence-based performance estimation (the idea of NannyML's CBPE): a calibrated
    classifier's expected accuracy is its mean top probability. None without probabilities."""
    ref = numbers(reference.sample_outputs.get(CONFIDENCE, []))
    win = numbers(window.outputs.get(CONFIDENCE, []))
    if ref.size < settings.min_rows or win.size < settings.min_rows:
        return None
    # a drop in confidence is a rise in expected error: test the expected error 1 - p
    p_value = mean_rise_pvalue(1.0 - ref, 1.0 - win)
    drop = float(ref.mean() - win.mean())
    return {
        "estimated": True,
        "method": "cbpe",
        "reference_accuracy": float(ref.mean()),
        "estimated_accuracy": float(win.mean()),
        "drop": drop,
        "p_value": p_value,
        "degraded": p_value < settings.performance_alpha and drop >= settings.min_accuracy_drop,
        "rows": int(win.size),
    }


__all__ = ["CATEGORICAL_METHODS", "FeatureDrift", "Window", "compare", "estimated_accuracy"]
