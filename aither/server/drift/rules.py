"""The drift detectors as detection rules, so their anomalies open, bump and notify the same way.

They are not in the rules file: their thresholds are the drift settings
(:class:`~aither.server.drift.config.DriftSettings`). Their anomalies are about one model
version (``Target("prediction", "", model, version, environment)``) and resolve when a later
window of the same target is clean.
"""

from __future__ import annotations

from ...schema.vocabulary import AnomalyType, DetectionMethod, Severity
from ..detection.rules import Rule

_P = ("prediction",)
_L = ("llm",)


def _rule(
    name: str,
    kind: AnomalyType,
    method: DetectionMethod,
    action: str,
    description: str,
    on: tuple[str, ...] = _P,
) -> Rule:
    return Rule(name, "window", kind, Severity.MEDIUM, method, None, 0.0, on, action, description)


INPUT_DRIFT = _rule(
    "input_drift",
    AnomalyType.INPUT_DRIFT,
    DetectionMethod.PSI,
    "Compare the named features with their reference; check the upstream data, then retrain or "
    "set a new reference if the change is real and expected",
    "A window of inputs differs from the model version's reference (PSI and KS or chi-square agree)",
)
OUTPUT_DRIFT = _rule(
    "output_drift",
    AnomalyType.OUTPUT_DRIFT,
    DetectionMethod.PSI,
    "The mix of predictions moved: check the inputs that drifted with it and the model's recent changes",
    "A window of predictions (class mix or value distribution) differs from the reference",
)
CONCEPT_DRIFT = _rule(
    "concept_drift",
    AnomalyType.CONCEPT_DRIFT,
    DetectionMethod.Z_TEST,
    "Accuracy on labelled rows fell: look at recent labels, retrain on recent data",
    "Labelled performance of a window is significantly worse than the reference's",
)
QUALITY_DEGRADATION = _rule(
    "quality_degradation",
    AnomalyType.QUALITY_DEGRADATION,
    DetectionMethod.CBPE,
    "Estimated (not measured) accuracy fell: the model is less confident; collect labels to confirm",
    "Accuracy estimated from the confidence distribution fell (no labels needed)",
)
OUTLIERS = _rule(
    "outlier_rate",
    AnomalyType.INPUT_DRIFT,
    DetectionMethod.ISOLATION_FOREST,
    "More inputs than usual look unlike the reference as a whole: inspect the outlying rows",
    "The share of multivariate outliers in a window is a multiple of the reference's",
)
EMBEDDING_DRIFT = _rule(
    "embedding_drift",
    AnomalyType.EMBEDDING_DRIFT,
    DetectionMethod.MMD,
    "The prompts or answers moved in embedding space: look at recent traffic's topics",
    "A window of embeddings differs from the reference (MMD with a permutation test)",
    _L,
)
HALLUCINATION = _rule(
    "hallucination",
    AnomalyType.HALLUCINATION,
    DetectionMethod.LLM_CHECK,
    "Read the judged answers; ground the prompt in retrieved text or lower the temperature",
    "The judge model scored answers as unsupported",
    _L,
)
GROUNDEDNESS = _rule(
    "rag_groundedness",
    AnomalyType.HALLUCINATION,
    DetectionMethod.RAG,
    "The answer uses words the retrieved text does not: check retrieval quality and tell the model "
    "to answer only from the context",
    "An answer's content words are mostly absent from the text its trace retrieved",
    _L,
)
# hallucination and rag_groundedness are per answer, like event rules: the detection engine's
# quiet period resolves them
_OWNED = frozenset({"input_drift", "output_drift", "concept_drift", "quality_degradation"})


def owned_by_drift(rule: str) -> bool:
    """Whether an anomaly's rule is drift's (drift resolves it on a clean window; the detection
    engine's quiet-period resolution should leave it alone)."""
    return rule in _OWNED or rule.endswith(("_outliers", "_embedding_drift")) or rule.startswith("lstm_")
