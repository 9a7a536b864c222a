"""Prediction spans: the hot path of a wrapped model, and ``log_prediction``.

On the caller's thread a prediction costs one span start and end, a context attach, and an
O(sample) slice of the input and the output; JSON encoding waits for the export thread.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from .. import semconv
from ..export.pipeline import DeferredPayload
from ..sampling import Sample, sample
from ..sampling.limits import SampleLimits
from ..sampling.model import OutputSample
from ..sampling.rows import StatsInput, stats_items, take_input
from .context import new_owner_id, set_last

if TYPE_CHECKING:
    from .._runtime import Runtime

MAX_TRACES_INDEXED = 10_000
"""Recent traces whose predictions the SDK remembers, to check and target labels."""


@dataclass(frozen=True)
class PredictionRef:
    """What the SDK remembers of a recent prediction, to target its label."""

    model_name: str
    span_id: int
    rows: int | None


class PredictionIndex:
    """Bounded map of recent trace id -> its predictions; thread-safe."""

    def __init__(self, capacity: int = MAX_TRACES_INDEXED) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._traces: OrderedDict[int, list[PredictionRef]] = OrderedDict()

    def add(self, trace_id: int, ref: PredictionRef) -> None:
        with self._lock:
            refs = self._traces.get(trace_id)
            if refs is None:
                self._traces[trace_id] = [ref]
                if len(self._traces) > self._capacity:
                    self._traces.popitem(last=False)
            else:
                refs.append(ref)

    def get(self, trace_id: int) -> list[PredictionRef] | None:
        with self._lock:
            refs = self._traces.get(trace_id)
            return list(refs) if refs is not None else None

    def clear(self) -> None:
        with self._lock:
            self._traces.clear()


@dataclass
class ModelIdentity:
    """Who a prediction span is about, and how much of its data to keep; one per wrapped model."""

    name: str
    version: str | None
    environment: str | None
    framework: str
    class_name: str
    framework_version: str | None = None
    parameters: int | None = None
    sample_rows: int | None = None
    sample_columns: int | None = None
    features_fn: Callable[[Any], Any] | None = None
    owner_id: int = field(default_factory=new_owner_id)
    trace_ids: deque[int] = field(default_factory=lambda: deque(maxlen=1000))
    _attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _limits: tuple[SampleLimits, SampleLimits] | None = None

    def limits(self, base: SampleLimits) -> SampleLimits:
        """The client's limits with this model's ``sample_rows``/``sample_columns`` applied."""
        if self.sample_rows is None and self.sample_columns is None:
            return base
        cached = self._limits
        if cached is not None and cached[0] is base:
            return cached[1]
        merged = replace(
            base,
            rows=base.rows if self.sample_rows is None else self.sample_rows,
            columns=base.columns if self.sample_columns is None else self.sample_columns,
        )
        self._limits = (base, merged)
        return merged

    @property
    def span_name(self) -> str:
        return f"predict {self.name}"

    def attributes(self, method: str, default_environment: str | None) -> dict[str, Any]:
        """The constant attributes of this model's spans for ``method``, built once."""
        attrs = self._attributes.get(method)
        if attrs is None:
            attrs = {
                semconv.AITHER_SPAN_KIND: semconv.SPAN_KIND_PREDICTION,
                semconv.AITHER_SCHEMA_VERSION: semconv.SCHEMA_VERSION,
                semconv.ML_MODEL_NAME: self.name,
                semconv.ML_MODEL_FRAMEWORK: self.framework,
                semconv.ML_MODEL_CLASS: self.class_name,
                semconv.ML_METHOD: method,
            }
            environment = self.environment or default_environment
            if self.version is not None:
                attrs[semconv.ML_MODEL_VERSION] = self.version
            if environment is not None:
                attrs[semconv.ML_ENVIRONMENT] = environment
            if self.framework_version is not None:
                attrs[semconv.ML_MODEL_FRAMEWORK_VERSION] = self.framework_version
            if self.parameters is not None:
                attrs[semconv.ML_MODEL_PARAMETERS] = self.parameters
            self._attributes[method] = attrs
        return attrs


def _rows_of(value: Any) -> int | None:
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and shape and isinstance(shape[0], int):
        return shape[0]
    try:
        return len(value)
    except Exception:
        return None


def sample_features(
    runtime: Runtime,
    limits: SampleLimits,
    features: Any,
    features_fn: Callable[[Any], Any] | None = None,
) -> tuple[Sample, int | None]:
    """The input's sample and row count. ``features_fn`` replaces the input's sample; if it
    raises, the error is counted and the plain sample is used."""
    if features_fn is not None:
        try:
            return sample(features_fn(features), limits.rows, limits.columns, limits), _rows_of(features)
        except Exception as exc:
            runtime.internal_error(exc, "features_fn")
    feature_sample = sample(features, limits.rows, limits.columns, limits)
    return feature_sample, feature_sample.rows


def attach_samples(
    runtime: Runtime,
    span: trace.Span,
    limits: SampleLimits,
    features: tuple[Sample, int | None],
    prediction: Any,
    *,
    has_prediction: bool = True,
    stats: StatsInput | None = None,
) -> int | None:
    """Put the input's sample (from :func:`sample_features`) and the output's onto ``span``;
    returns the input's row count."""
    feature_sample, rows = features
    items: list[tuple[str, Any]] = [(semconv.ML_FEATURES, feature_sample)]
    raw: list[tuple[str, Any]] = []
    size = feature_sample.approx_bytes
    if has_prediction:
        plain = sample(prediction, limits.prediction_rows, max(limits.columns, 100), limits)
        output = OutputSample(plain.data, plain.meta, plain.approx_bytes)
        items.append((semconv.ML_PREDICTION, output))
        size += output.approx_bytes
        if output.rows is not None:
            raw.append((semconv.ML_OUTPUT_ROWS, output.rows))
    if rows is not None:
        raw.append((semconv.ML_INPUT_ROWS, rows))
    for name, value in stats_items(stats, prediction, has_prediction):  # drift's random rows
        items.append((name, value))
        size += value.approx_bytes
    runtime.defer(span, DeferredPayload(items, size, raw))
    return rows


def record_exception(span: trace.Span, exc: BaseException) -> None:
    span.record_exception(exc, escaped=True)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:500]))


def traced_call(
    runtime: Runtime,
    index: PredictionIndex,
    identity: ModelIdentity,
    method: str,
    fn: Callable[..., Any],
    features: Any,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> Any:
    """Call ``fn(*args, **kwargs)`` inside a prediction span; the result and any exception of
    the model pass through untouched, whatever happens inside aither."""
    try:
        span = runtime.tracer.start_span(
            identity.span_name, attributes=identity.attributes(method, runtime.settings.environment)
        )
    except Exception as exc:
        runtime.internal_error(exc, "starting a prediction span")
        return fn(*args, **kwargs)
    limits = identity.limits(runtime.settings.limits)
    # The input is sampled before the model runs: the sample is what the model was given,
    # even when the model changes its input in place.
    sampled: tuple[Sample, int | None] | None = None
    stats: StatsInput | None = None
    try:
        if span.is_recording():
            sampled = sample_features(runtime, limits, features, identity.features_fn)
            stats = take_input(features, shown=sampled)
    except Exception as exc:
        try:
            runtime.internal_error(exc, "sampling a prediction's input")
        except BaseException:  # raise_internal_errors: the span still ends
            _end(span, identity, index, None)
            raise
    try:
        token = otel_context.attach(trace.set_span_in_context(span))
    except Exception as exc:
        _end(span, identity, index, None)
        runtime.internal_error(exc, "starting a prediction span")
        return fn(*args, **kwargs)
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:
        otel_context.detach(token)
        try:
            record_exception(span, exc)
            if sampled is not None:
                attach_samples(runtime, span, limits, sampled, None, has_prediction=False, stats=stats)
        except Exception as inner:
            runtime.internal_error_quiet(inner, "recording a model's exception")
        finally:
            _end(span, identity, index, None)
        raise
    otel_context.detach(token)
    rows: int | None = None
    try:
        if sampled is not None:
            rows = attach_samples(runtime, span, limits, sampled, result, stats=stats)
    except Exception as exc:
        _end(span, identity, index, rows)
        runtime.internal_error(exc, "sampling a prediction")
        return result
    _end(span, identity, index, rows)
    return result


def _end(span: trace.Span, identity: ModelIdentity, index: PredictionIndex, rows: int | None) -> None:
    span.end()
    ctx = span.get_span_context()
    trace_id = ctx.trace_id
    identity.trace_ids.append(trace_id)
    set_last(trace_id, identity.owner_id)
    index.add(trace_id, PredictionRef(identity.name, ctx.span_id, rows))


def log_prediction(
    runtime: Runtime,
    index: PredictionIndex,
    *,
    model_name: str,
    features: Any,
    prediction: Any,
    version: str | None,
    environment: str | None,
    metadata: Mapping[str, Any] | None,
    latency_ms: float | None,
    set_metadata: Callable[[trace.Span, Mapping[str, Any]], None],
) -> int:
    """Emit one prediction span for a prediction made elsewhere; returns its trace id."""
    end = time.time_ns()
    start = end - int(latency_ms * 1_000_000) if latency_ms is not None else end
    identity = ModelIdentity(
        name=model_name, version=version, environment=environment, framework="manual", class_name="manual"
    )
    attrs = dict(identity.attributes("log_prediction", runtime.settings.environment))
    del attrs[semconv.ML_MODEL_FRAMEWORK], attrs[semconv.ML_MODEL_CLASS]
    span = runtime.tracer.start_span(identity.span_name, attributes=attrs, start_time=start)
    rows: int | None = None
    try:
        if metadata:
            set_metadata(span, metadata)
        limits = runtime.settings.limits
        sampled_features = sample_features(runtime, limits, features)
        rows = attach_samples(
            runtime,
            span,
            limits,
            sampled_features,
            prediction,
            stats=take_input(features, shown=sampled_features),
        )
    finally:
        span.end(end_time=end)
    ctx = span.get_span_context()
    set_last(ctx.trace_id)
    index.add(ctx.trace_id, PredictionRef(model_name, ctx.span_id, rows))
    return ctx.trace_id
