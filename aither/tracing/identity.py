"""Which model made a prediction: its hyperparameters and a fingerprint of the fitted model.

The first prediction span of each wrapped model (and of each copy: an unpickled, copied or
cloned proxy is a new wrapped model) carries ``ml.model.params``, the scikit-learn style
``get_params(deep=False)`` made JSON-safe and bounded, and ``ml.model.fingerprint``, the
SHA-256 of the model's pickle (the original README's "model_id"). The params are read once,
at the model's first prediction (``get_params`` is cheap); the fingerprint is computed when
that span is exported, on the export thread, never on the caller's, so a model re-fitted
between its first prediction and the export (within ``flush_interval``) is fingerprinted as
re-fitted. After the first, a prediction pays one attribute check. With a
``tracer_provider`` of your own, spans are encoded when they end, so the fingerprint is
computed on the caller's thread. A model that cannot be pickled, or whose pickle passes
:data:`FINGERPRINT_MAX_BYTES`, has no fingerprint; one without ``get_params`` has no params.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..export.pipeline import DeferredPayload
from ..schema import semconv

if TYPE_CHECKING:
    from .._runtime import Runtime

MAX_PARAMS = 100
"""Hyperparameters kept (the first, by name)."""
MAX_PARAM_CHARS = 200
"""A string hyperparameter, or a non-scalar's ``repr``, is cut to this many characters."""
FINGERPRINT_MAX_BYTES = 256 * 1024 * 1024
"""Models whose pickle is larger get no fingerprint: hashing them would hold the export thread."""


def _scalar(value: Any) -> Any:
    """A JSON scalar for one hyperparameter: numbers, strings, booleans and None as they are
    (non-finite floats as text), anything else (an estimator, a callable, an array) its short repr."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -(2**53) <= value <= 2**53 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value[:MAX_PARAM_CHARS]
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text[:MAX_PARAM_CHARS]


def model_params(model: Any) -> dict[str, Any] | None:
    """``get_params(deep=False)`` as JSON scalars, at most :data:`MAX_PARAMS`; None without one."""
    get_params = getattr(model, "get_params", None)
    if not callable(get_params):
        return None
    try:
        params = get_params(deep=False)
    except TypeError:  # a get_params without ``deep`` (some third-party models)
        params = get_params()
    if not isinstance(params, dict):
        return None
    return {str(k): _scalar(params[k]) for k in sorted(params, key=str)[:MAX_PARAMS]}


class _HashingWriter:
    """A file for ``pickle.dump`` that hashes what it is given and keeps none of it."""

    __slots__ = ("digest", "size")

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > FINGERPRINT_MAX_BYTES:
            raise _TooLarge
        self.digest.update(data)
        return len(data)


class _TooLarge(Exception):
    pass


def model_fingerprint(model: Any) -> str | None:
    """``sha256:<hex>`` of ``model``'s pickle (streamed, never held whole); None when it cannot
    be pickled or passes :data:`FINGERPRINT_MAX_BYTES`."""
    writer = _HashingWriter()
    try:
        pickle.dump(model, writer, protocol=4)
    except _TooLarge:
        return None
    except Exception:  # not picklable (a lambda, a live connection): no fingerprint
        return None
    return "sha256:" + writer.digest.hexdigest()


def describe(model: Any, *, fingerprint: bool = True) -> Callable[[], list[tuple[str, Any]]]:
    """The identity attributes of ``model``, in two steps: ``ml.model.params`` now (on the
    caller's thread, once per wrapped model: the values the prediction ran with), and a function
    the export thread calls for the rest (the fingerprint, the costly part)."""
    params = model_params(model)
    text = json.dumps(params, separators=(",", ":")) if params is not None else None

    def rest() -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = [] if text is None else [(semconv.ML_MODEL_PARAMS, text)]
        digest = model_fingerprint(model) if fingerprint else None
        if digest is not None:
            out.append((semconv.ML_MODEL_FINGERPRINT, digest))
        return out

    return rest


class IdentityPayload(DeferredPayload):
    """A prediction's deferred payload plus the model's identity, computed when the exporter
    first reads ``raw``, on the export thread (as :class:`~aither.adapters.llm._findings.LLMPayload`)."""

    __slots__ = ("_describe", "_raw", "_runtime")

    def __init__(
        self, payload: DeferredPayload, describe: Callable[[], list[tuple[str, Any]]], runtime: Runtime
    ) -> None:
        self._describe: Callable[[], list[tuple[str, Any]]] | None = describe
        self._runtime = runtime
        self._raw: list[tuple[str, Any]] | None = payload.raw
        super().__init__(payload.items, payload.approx_bytes, payload.raw)

    @property  # type: ignore[override]
    def raw(self) -> list[tuple[str, Any]] | None:
        describe = self._describe
        if describe is not None:
            self._describe = None
            try:
                extra = describe()
            except Exception as exc:
                self._runtime.internal_error_quiet(exc, "describing a model")
                extra = []
            if extra:
                self._raw = [*(self._raw or ()), *extra]
        return self._raw

    @raw.setter
    def raw(self, value: list[tuple[str, Any]] | None) -> None:
        self._raw = value
