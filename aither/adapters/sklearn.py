"""scikit-learn estimators and every model with the scikit-learn API (xgboost, lightgbm, catboost)."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Adapter, package_version


class SklearnAdapter(Adapter):
    """``predict``, ``predict_proba``, ``predict_log_proba``, ``decision_function`` and
    ``score_samples`` are predictions; ``fit``, ``transform`` and the rest pass through."""

    framework: ClassVar[str] = "sklearn"
    extra: ClassVar[str | None] = "sklearn"
    methods: ClassVar[tuple[str, ...]] = (
        "predict",
        "predict_proba",
        "predict_log_proba",
        "decision_function",
        "score_samples",
    )

    def framework_name(self, model: Any) -> str:
        root = type(model).__module__.partition(".")[0]
        return root if root in ("xgboost", "lightgbm", "catboost") else "sklearn"

    def framework_version(self, model: Any) -> str | None:
        return package_version(self.framework_name(model))
