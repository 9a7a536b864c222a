"""Hugging Face transformers: pipelines and models.

- A pipeline: ``tracked(text)`` (a text, a list of texts, a dict such as
  ``{"text": ..., "text_pair": ...}``) and its scikit-learn style ``predict`` are predictions.
  The pipeline's own steps (``preprocess``, ``forward``, ``postprocess``) are not: they run
  inside the call.
- A ``PreTrainedModel``: ``tracked(**inputs)``, ``tracked.forward(...)`` and
  ``tracked.generate(...)`` are predictions. ``generate`` calls the model's own forward (not the
  proxy's) at each step, so one generation makes one span.

The input recorded is the first positional argument, or else the tensors among the keyword
arguments (``input_ids``, ``attention_mask``...), leaving out generation settings such as
``max_new_tokens``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .base import Adapter, package_version

_PIPELINE_METHODS = frozenset({"__call__", "predict"})
_MODEL_METHODS = frozenset({"__call__", "forward", "generate"})


def is_pipeline(model: Any) -> bool:
    return any(k.__module__.startswith("transformers.pipelines.") for k in type(model).__mro__)


class TransformersAdapter(Adapter):
    framework: ClassVar[str] = "transformers"
    extra: ClassVar[str | None] = "transformers"
    methods: ClassVar[tuple[str, ...]] = ("__call__", "forward", "generate", "predict")

    def traced_methods(self, model: Any) -> frozenset[str]:
        wanted = _PIPELINE_METHODS if is_pipeline(model) else _MODEL_METHODS
        return frozenset(m for m in self.methods if m in wanted and callable(getattr(model, m, None)))

    def features(self, method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        if args:
            return args[0]
        tensors = {k: v for k, v in kwargs.items() if hasattr(v, "shape") and hasattr(v, "dtype")}
        return tensors if tensors else super().features(method, args, kwargs)

    def framework_version(self, model: Any) -> str | None:
        return package_version("transformers")

    def parameters(self, model: Any) -> int | None:
        """The underlying model's parameter count (a pipeline's ``model``), counted at wrap time."""
        inner = getattr(model, "model", None) if is_pipeline(model) else model
        try:
            count = getattr(inner, "num_parameters", None)
            if count is not None:
                return int(count())
            params = getattr(inner, "parameters", None)
            return sum(p.numel() for p in params()) if params is not None else None
        except Exception:  # uninitialised (lazy or meta) weights have no size yet
            return None
