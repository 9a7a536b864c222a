"""The detection vocabulary: severities, anomaly types, detection methods and risk levels.

The SDK exports these (``aither.Severity.CRITICAL``), the server stores their ``value`` and the
query API speaks it, so a value never changes once released. Each is a ``str`` enum: it compares
equal to its value (``Severity.HIGH == "high"``) and serialises as it.
"""

from __future__ import annotations

from enum import Enum


class _Vocabulary(str, Enum):
    """A string enum that prints as its value (``str(Severity.HIGH) == "high"``)."""

    def __str__(self) -> str:
        return str(self.value)


class _Ordered(_Vocabulary):
    """A string enum whose members compare by their declaration order (LOW < CRITICAL)."""

    @property
    def rank(self) -> int:
        return list(type(self)).index(self)

    def __lt__(self, other: object) -> bool:
        if isinstance(other, type(self)):
            return self.rank < other.rank
        return NotImplemented

    def __le__(self, other: object) -> bool:
        if isinstance(other, type(self)):
            return self.rank <= other.rank
        return NotImplemented

    def __gt__(self, other: object) -> bool:
        if isinstance(other, type(self)):
            return self.rank > other.rank
        return NotImplemented

    def __ge__(self, other: object) -> bool:
        if isinstance(other, type(self)):
            return self.rank >= other.rank
        return NotImplemented


class Severity(_Ordered):
    """How urgent an anomaly is, from LOW to CRITICAL (members are ordered)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class RiskLevel(_Ordered):
    """The risk of one LLM call, from its PII findings, injection score, errors and cost."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AnomalyType(_Vocabulary):
    """What kind of thing went wrong."""

    LATENCY_SPIKE = "latency_spike"
    THROUGHPUT_DEGRADATION = "throughput_degradation"
    ERROR_RATE_INCREASE = "error_rate_increase"
    TOKEN_USAGE_SPIKE = "token_usage_spike"
    COST_ANOMALY = "cost_anomaly"
    INPUT_DRIFT = "input_drift"
    OUTPUT_DRIFT = "output_drift"
    CONCEPT_DRIFT = "concept_drift"
    EMBEDDING_DRIFT = "embedding_drift"
    HALLUCINATION = "hallucination"
    QUALITY_DEGRADATION = "quality_degradation"
    SECURITY_THREAT = "security_threat"


class DetectionMethod(_Vocabulary):
    """How an anomaly was found."""

    THRESHOLD = "threshold"
    Z_SCORE = "z_score"
    IQR = "iqr"
    MAD = "mad"
    CUSUM = "cusum"
    EWMA = "ewma"
    ISOLATION_FOREST = "isolation_forest"
    LSTM_AUTOENCODER = "lstm_autoencoder"
    ONE_CLASS_SVM = "one_class_svm"
    PSI = "psi"
    KL_DIVERGENCE = "kl_divergence"
    LLM_CHECK = "llm_check"
    RAG = "rag"
    # drift (issue 14)
    Z_TEST = "z_test"
    T_TEST = "t_test"
    CBPE = "cbpe"
    MMD = "mmd"
