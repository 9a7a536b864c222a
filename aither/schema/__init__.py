"""What the SDK and the server agree on, in one package both import.

Today: the detection vocabulary (:mod:`aither.schema.vocabulary`). The span attribute names
(:mod:`aither.semconv`) and the sample envelope join it as the one-place-per-concern work moves
them here.
"""

from .vocabulary import AnomalyType, DetectionMethod, RiskLevel, Severity

__all__ = ["AnomalyType", "DetectionMethod", "RiskLevel", "Severity"]
