"""Gradient boosting libraries: xgboost, lightgbm and catboost, their scikit-learn estimators
and their native boosters.

- xgboost: ``XGBClassifier``/``XGBRegressor``/``XGBRanker`` and ``xgb.Booster``, whose
  ``predict(DMatrix)`` and ``inplace_predict(array)`` are predictions.
- lightgbm: ``LGBMClassifier``/``LGBMRegressor``/``LGBMRanker`` and ``lgb.Booster.predict``.
- catboost: ``CatBoostClassifier``/``CatBoostRegressor`` and the native ``CatBoost``, whose
  ``predict(Pool)`` is a prediction.

The estimators call their booster's methods on the booster itself (not through the proxy),
so one call makes one span. ``DMatrix`` and ``Pool`` inputs are described without being
converted (:mod:`aither.sampling.boosting`).
"""

from __future__ import annotations

from typing import ClassVar

from .sklearn import SklearnAdapter


class XGBoostAdapter(SklearnAdapter):
    framework: ClassVar[str] = "xgboost"
    extra: ClassVar[str | None] = "xgboost"
    methods: ClassVar[tuple[str, ...]] = (*SklearnAdapter.methods, "inplace_predict")


class LightGBMAdapter(SklearnAdapter):
    framework: ClassVar[str] = "lightgbm"
    extra: ClassVar[str | None] = "lightgbm"


class CatBoostAdapter(SklearnAdapter):
    framework: ClassVar[str] = "catboost"
    extra: ClassVar[str | None] = "catboost"
