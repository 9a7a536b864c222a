"""Gradient boosting libraries: xgboost, lightgbm and catboost, through their scikit-learn API."""

from __future__ import annotations

from typing import ClassVar

from .sklearn import SklearnAdapter


class XGBoostAdapter(SklearnAdapter):
    framework: ClassVar[str] = "xgboost"
    extra: ClassVar[str | None] = "xgboost"


class LightGBMAdapter(SklearnAdapter):
    framework: ClassVar[str] = "lightgbm"
    extra: ClassVar[str | None] = "lightgbm"


class CatBoostAdapter(SklearnAdapter):
    framework: ClassVar[str] = "catboost"
    extra: ClassVar[str | None] = "catboost"
