"""Prediction spans: the hot path of a wrapped model, and ``log_prediction``.

On the caller's thread a prediction costs one span start and end, a context attach, and an
O(sample) slice of the input and the output; JSON encoding waits for the export thread.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from .._fork import after_fork_in_child
from ..export.pipeline import DeferredPayload
from ..sampling import Sample, sample
from ..sampling.encoder import EAGER_BYTES, dumps, encode_now
from ..sampling.limits import SampleLimits
from ..sampling.model import EagerSample, OutputSample
from ..sampling.rows import StatsBudget, StatsBudgets, StatsInput, stats_items, take_input
from ..schema import semconv
from ..schema.envelope import JSON_ROWS
from .context import new_owner_id, set_last
from .identity import IdentityPayload

if TYPE_CHECKING:
    from contextvars import Token

    from opentelemetry.context import Context

    from .._runtime import Runtime

MAX_TRACES_INDEXED = 10_000
"""Recent traces whose predictions the SDK remembers, to check and target labels."""


@dataclass(frozen=True)
class PredictionRef:
    """What the SDK remembers of a recent prediction, to target its label."""

    model_name: str
    span_id: int
    rows: int | None


_Ref = tuple[str, int, "int | None"]
"""A :class:`PredictionRef` as a plain tuple of atoms, which the garbage collector untracks."""


class PredictionIndex:
    """Bounded map of recent trace id -> its predictions; thread-safe.

    A trace's one prediction is kept as a plain tuple (most traces hold one), several as a
    list of them: up to ``capacity`` entries live for as long as the process, and a plain
    tuple of atoms costs a full garbage collection nothing, where an object costs a visit.
    """

    def __init__(self, capacity: int = MAX_TRACES_INDEXED) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._traces: OrderedDict[int, _Ref | list[_Ref]] = OrderedDict()
        # A thread of the parent may hold the lock at the fork; the child has no such thread,
        # so it would wait forever.
        after_fork_in_child(self._after_fork_in_child)
        # The stats-sample budgets of models whose predictions are logged, not wrapped.
        self.stats_budgets = StatsBudgets()

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()

    def add(self, trace_id: int, model_name: str, span_id: int, rows: int | None) -> None:
        entry: _Ref = (model_name, span_id, rows)
        with self._lock:
            refs = self._traces.get(trace_id)
            if refs is None:
                self._traces[trace_id] = entry
                if len(self._traces) > self._capacity:
                    self._traces.popitem(last=False)
            elif isinstance(refs, list):
                refs.append(entry)
            else:
                self._traces[trace_id] = [refs, entry]

    def get(self, trace_id: int) -> list[PredictionRef] | None:
        with self._lock:
            refs = self._traces.get(trace_id)
            if refs is None:
                return None
            entries = refs if isinstance(refs, list) else [refs]
            return [PredictionRef(*entry) for entry in entries]

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
    describe: Callable[[], Callable[[], list[tuple[str, Any]]]] | None = None
    """Reads the model's identity (:func:`aither.tracing.identity.describe`); taken (set to
    None) by the first prediction span, which carries it."""
    owner_id: int = field(default_factory=new_owner_id)
    stats_budget: StatsBudget = field(default_factory=StatsBudget)
    """Which calls get drift's random row sample (``ml.features.stats_sample``)."""
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
    describe: Callable[[], list[tuple[str, Any]]] | None = None,
    stats: StatsInput | None = None,
) -> int | None:
    """Put the input's sample (from :func:`sample_features`) and the output's onto ``span``,
    and with ``describe`` the model's identity (computed on the export thread); returns the
    input's row count.

    A small numeric sample is written as JSON here (:func:`encode_now`), and so is a small
    :class:`EagerSample` (a DataFrame's head), so the queued span holds one string instead of
    the sample's objects; anything else waits for the export thread in a :class:`DeferredPayload`.
    """
    feature_sample, rows = features
    now: dict[str, Any] = {}
    if has_prediction:
        plain = sample(prediction, limits.prediction_rows, max(limits.columns, 100), limits)
        output: Sample | None = OutputSample(plain.data, plain.meta, plain.approx_bytes)
        if plain.rows is not None:
            now[semconv.ML_OUTPUT_ROWS] = plain.rows
    else:
        output = None
    if rows is not None:
        now[semconv.ML_INPUT_ROWS] = rows
    items: list[tuple[str, Any]] = []
    size = 0
    for key, part, max_rows in (
        (semconv.ML_FEATURES, feature_sample, None),
        (semconv.ML_PREDICTION, output, JSON_ROWS),
    ):
        if part is None:
            continue
        text: str | None = None
        if part.approx_bytes <= EAGER_BYTES and isinstance(part, EagerSample):
            text = dumps(part)
        elif part.approx_bytes <= EAGER_BYTES:
            text = encode_now(part.data, part.meta, max_rows)
        if text is None:
            items.append((key, part))
            size += part.approx_bytes
        else:
            now[key] = text
            size += len(text)
    for name, value in stats_items(stats, prediction, has_prediction):  # drift's random rows
        items.append((name, value))
        size += value.approx_bytes
    if items or describe is not None:
        payload = DeferredPayload(items, size, list(now.items()))
        runtime.defer(span, payload if describe is None else IdentityPayload(payload, describe, runtime))
    else:
        span.set_attributes(now)
        runtime.account(span, size)
    return rows


def record_exception(span: trace.Span, exc: BaseException) -> None:
    span.record_exception(exc, escaped=True)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:500]))


@dataclass(slots=True, eq=False, repr=False)
class _Open:
    """A prediction span between the model's call and its end: what closing it needs."""

    span: trace.Span
    limits: SampleLimits
    sampled: tuple[Sample, int | None] | None
    stats: StatsInput | None
    token: Token[Context]


def _open(
    runtime: Runtime, index: PredictionIndex, identity: ModelIdentity, method: str, features: Any
) -> _Open | None:
    """Start the span, sample the input, make the span current; None when aither failed and
    the model must simply be called."""
    try:
        span = runtime.tracer.start_span(
            identity.span_name, attributes=identity.attributes(method, runtime.settings.environment)
        )
    except Exception as exc:
        runtime.internal_error(exc, "starting a prediction span")
        return None
    limits = identity.limits(runtime.settings.limits)
    # The input is sampled before the model runs: the sample is what the model was given,
    # even when the model changes its input in place.
    sampled: tuple[Sample, int | None] | None = None
    stats: StatsInput | None = None
    try:
        if span.is_recording():
            sampled = sample_features(runtime, limits, features, identity.features_fn)
            stats = take_input(features, shown=sampled, budget=identity.stats_budget)
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
        return None
    return _Open(span, limits, sampled, stats, token)


def _close_error(
    runtime: Runtime, index: PredictionIndex, identity: ModelIdentity, call: _Open, exc: BaseException
) -> None:
    """End the span of a call that raised ``exc``; the caller re-raises it."""
    otel_context.detach(call.token)
    span = call.span
    try:
        record_exception(span, exc)
        if call.sampled is not None:
            describe = _take(runtime, identity)
            attach_samples(
                runtime,
                span,
                call.limits,
                call.sampled,
                None,
                has_prediction=False,
                describe=describe,
                stats=call.stats,
            )
    except Exception as inner:
        runtime.internal_error_quiet(inner, "recording a model's exception")
    finally:
        _end(span, identity, index, None)


def _close(
    runtime: Runtime, index: PredictionIndex, identity: ModelIdentity, call: _Open, result: Any
) -> None:
    """End the span of a call that returned ``result``."""
    otel_context.detach(call.token)
    rows: int | None = None
    try:
        if call.sampled is not None:
            rows = attach_samples(
                runtime,
                call.span,
                call.limits,
                call.sampled,
                result,
                describe=_take(runtime, identity),
                stats=call.stats,
            )
    except Exception as exc:
        _end(call.span, identity, index, rows)
        runtime.internal_error(exc, "sampling a prediction")
        return
    _end(call.span, identity, index, rows)


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
    call = _open(runtime, index, identity, method, features)
    if call is None:
        return fn(*args, **kwargs)
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:
        _close_error(runtime, index, identity, call, exc)
        raise
    _close(runtime, index, identity, call, result)
    return result


async def traced_call_async(
    runtime: Runtime,
    index: PredictionIndex,
    identity: ModelIdentity,
    method: str,
    fn: Callable[..., Awaitable[Any]],
    features: Any,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> Any:
    """:func:`traced_call` for a coroutine function: the span covers the awaited call, the
    output sampled is the awaited result, and an exception is the one the await raised."""
    call = _open(runtime, index, identity, method, features)
    if call is None:
        return await fn(*args, **kwargs)
    try:
        result = await fn(*args, **kwargs)
    except BaseException as exc:
        _close_error(runtime, index, identity, call, exc)
        raise
    _close(runtime, index, identity, call, result)
    return result


def _take(runtime: Runtime, identity: ModelIdentity) -> Callable[[], list[tuple[str, Any]]] | None:
    """The model's identity for its first prediction span only (one attribute read after that)."""
    describe = identity.describe
    if describe is None:
        return None
    identity.describe = None
    try:
        return describe()
    except Exception as exc:  # a get_params that raises: the span keeps its samples
        runtime.internal_error_quiet(exc, "reading a model's parameters")
        return None


def _end(span: trace.Span, identity: ModelIdentity, index: PredictionIndex, rows: int | None) -> None:
    span.end()
    ctx = span.get_span_context()
    trace_id = ctx.trace_id
    identity.trace_ids.append(trace_id)
    set_last(trace_id, identity.owner_id)
    index.add(trace_id, identity.name, ctx.span_id, rows)


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
            stats=take_input(features, shown=sampled_features, budget=index.stats_budgets.get(model_name)),
        )
    finally:
        span.end(end_time=end)
    ctx = span.get_span_context()
    set_last(ctx.trace_id)
    index.add(ctx.trace_id, model_name, ctx.span_id, rows)
    return ctx.trace_id
