"""Drift settings: window sizes, thresholds per method, and which methods decide.

A plain dataclass without numpy, so :mod:`aither.server.config` can hold one without
importing the statistics. ``docs/drift.md`` explains each number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ...exceptions import ConfigError

DEFAULT_THRESHOLDS: dict[str, float] = {
    "psi": 0.1,
    "kl": 0.1,
    "js": 0.1,
    "wasserstein": 0.1,
    "ks": 0.001,
    "chi2": 0.001,
}
"""Per method: a distance at or above it, or a p-value below it (ks, chi2), is drift.
The p-value thresholds are family-wise: divided by the number of features tested."""


@dataclass(frozen=True)
class DriftSettings:
    """How the server decides drift; frozen (``updated`` builds a new one)."""

    enabled: bool = True
    reference_rows: int = 1000
    """Sampled rows of a model version that make its default reference."""
    window_rows: int = 500
    """Sampled rows a drift decision rests on."""
    window_max_s: float = 3600.0
    """A window also closes after this long (event time), if it holds ``min_rows``."""
    min_rows: int = 100
    """No decision on fewer sampled rows than this."""
    reservoir_rows: int = 2000
    """Rows of a reference kept as a sample (KS, Wasserstein, outlier models)."""
    bins: int = 10
    """Quantile bins of a numeric feature's reference (PSI, KL, JS)."""
    thresholds: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    numeric_decide: tuple[str, ...] = ("ks", "psi")
    """A numeric feature drifted when every one of these methods says so."""
    categorical_decide: tuple[str, ...] = ("chi2", "psi")
    label_reference_rows: int = 200
    """Labelled rows that make the performance reference."""
    label_reference_max: int = 1000
    """Labelled windows that pass join the reference until it holds this many rows."""
    label_window_rows: int = 200
    """Labelled rows a concept-drift decision rests on."""
    performance_alpha: float = 0.001
    """One-sided p-value below which a performance drop is real, not a small window's noise."""
    min_accuracy_drop: float = 0.05
    """...and the drop must be at least this much accuracy (absolute)."""
    min_mae_ratio: float = 1.2
    """...or the window's mean absolute error at least this multiple of the reference's."""
    embedding_reference: int = 200
    """Embedding vectors (per LLM model and side) that make the reference."""
    embedding_window: int = 200
    """Embedding vectors a decision rests on."""
    embedding_alpha: float = 0.01
    """Permutation p-value (200 permutations) below which the embeddings drifted."""
    rag_min_groundedness: float = 0.5
    """RAG: an answer with fewer of its content words in the retrieved text is ungrounded."""
    judge_base_url: str | None = None
    """An OpenAI-compatible API (``https://api.openai.com/v1``, a local server...); None: no judge."""
    judge_model: str = "gpt-4o-mini"
    judge_api_key_env: str = "AITHER_JUDGE_API_KEY"
    """The environment variable that holds the judge's API key (read once, at start)."""
    judge_api_key: str | None = field(default=None, repr=False)
    """The key itself, filled from ``judge_api_key_env`` by the server's settings."""
    judge_sample_share: float = 0.1
    """Share of LLM calls with content that the judge checks."""
    judge_queue: int = 100
    """Calls waiting for the judge; past it an offer is dropped (and counted)."""
    judge_threshold: float = 0.5
    """A judged hallucination score at or above this raises HALLUCINATION."""
    judge_price_input_per_mtok: float = 0.0
    """USD per million input tokens of the judge model, to count its cost (0: not priced)."""
    judge_price_output_per_mtok: float = 0.0
    sequence_watch: bool = False
    """Opt-in LSTM autoencoder over the per-minute rollups (PyTorch, the ``torch`` extra)."""
    sequence_train_minutes: int = 2880
    """Minutes of rollups a target's model trains on (it needs half of them with traffic)."""
    sequence_window: int = 30
    """Minutes the autoencoder reconstructs at once."""
    outlier_methods: tuple[str, ...] = ()
    """Opt-in multivariate outliers: ``isolation_forest``, ``one_class_svm`` (scikit-learn)."""
    outlier_rate_multiplier: float = 3.0
    """Outliers: the window's rate over the reference's expected rate that raises an anomaly."""

    def updated(self, values: Mapping[str, Any]) -> DriftSettings:
        """A copy with ``values`` applied (from the API or a file); unknown keys raise."""
        known = set(self.__dataclass_fields__)
        changes: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(f"drift setting {key!r} is unknown; known: {', '.join(sorted(known))}")
            if key == "thresholds":
                if not isinstance(value, Mapping) or not set(value) <= set(DEFAULT_THRESHOLDS):
                    raise ConfigError(f"drift thresholds name methods of {sorted(DEFAULT_THRESHOLDS)}")
                value = {**self.thresholds, **{k: float(v) for k, v in value.items()}}
            elif key == "outlier_methods":
                value = tuple(value)
                if not set(value) <= {"isolation_forest", "one_class_svm"}:
                    raise ConfigError("outlier_methods are isolation_forest and one_class_svm")
            elif key in ("numeric_decide", "categorical_decide"):
                value = tuple(value)
                if not value or not set(value) <= set(DEFAULT_THRESHOLDS):
                    raise ConfigError(f"{key} must name methods of {sorted(DEFAULT_THRESHOLDS)}")
            changes[key] = value
        settings = replace(self, **changes)
        if settings.window_rows < settings.min_rows or settings.min_rows < 10:
            raise ConfigError("drift window_rows must be >= min_rows >= 10")
        return settings
