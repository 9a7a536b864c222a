"""One runtime per client: its TracerProvider, the counting pipeline, flush, close, at-exit.

aither never touches the global TracerProvider: it keeps its own (or uses one the user
passes), so the application's OpenTelemetry set-up is left as it was, while aither's spans
still nest under whatever span is active in the caller's context.
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import sys
import threading
import time
import weakref
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

from ._config import Settings
from ._version import __version__
from .exceptions import ConfigError
from .export import Ledger, LedgerExporter, LedgerSpanProcessor, Stats
from .export.delivery import DeliveryReporter
from .export.pipeline import DeferredPayload
from .sampling import faults
from .sampling.encoder import dumps
from .schema import semconv
from .tracing.predictions import PredictionIndex
from .tracing.scope import ScopedTracer

logger = logging.getLogger("aither")

_FORCED_TRACE_ID: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "aither_forced_trace_id", default=None
)


class _TraceIdGenerator(RandomIdGenerator):
    """Random ids, except that a label for a known trace starts its root span in that trace."""

    def generate_trace_id(self) -> int:
        forced = _FORCED_TRACE_ID.get()
        return forced if forced is not None else super().generate_trace_id()


def force_trace_id(trace_id: int) -> contextvars.Token[int | None]:
    return _FORCED_TRACE_ID.set(trace_id)


def reset_trace_id(token: contextvars.Token[int | None]) -> None:
    _FORCED_TRACE_ID.reset(token)


def _otlp_exporter(settings: Settings) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http import Compression

    from .export.otlp import OTLPExporter

    exporter = OTLPExporter(
        endpoint=settings.traces_endpoint,
        headers=dict(settings.headers),
        timeout=settings.export_timeout,
        compression=Compression(settings.compression) if settings.compression else Compression.NoCompression,
        certificate_file=settings.certificate_file,
        client_key_file=settings.client_key_file,
        client_certificate_file=settings.client_certificate_file,
    )
    return DeliveryReporter(
        exporter,
        settings.traces_endpoint,
        settings.on_error,
        settings.debug,
        max_retries=settings.max_retries,
    )


class Runtime:
    """The delivery half of a :class:`aither.Client`.

    Threading: every method may be called from any thread. ``tracer`` and ``defer`` are
    used on the caller's hot path and never block; ``flush`` and ``close`` wait at most
    their timeout.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        exporter: SpanExporter | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        self.settings = settings
        self.ledger = Ledger()
        self.predictions = PredictionIndex()
        """The client's recent predictions, which ``log_label`` joins labels to."""
        self._closed = False
        self._close_lock = threading.Lock()
        self._logged: set[str] = set()
        self._log_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._flushing: threading.Event | None = None  # set when the flush in progress ends
        self.processor: LedgerSpanProcessor | None = None
        self._owns_provider = tracer_provider is None
        if tracer_provider is None:
            attributes: dict[str, Any] = {
                semconv.TELEMETRY_SDK_NAME: "aither-python",
                semconv.TELEMETRY_SDK_VERSION: __version__,
            }
            if settings.service_name:
                attributes[semconv.SERVICE_NAME] = settings.service_name
            # Resource.create also reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
            resource = Resource.create(attributes)
            provider = TracerProvider(
                resource=resource, id_generator=_TraceIdGenerator(), shutdown_on_exit=False
            )
            if settings.debug and not logger.handlers:
                # debug=True should show the export lines without any logging set-up.
                handler = logging.StreamHandler()
                handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
                logger.addHandler(handler)
                logger.setLevel(logging.INFO)
            inner = (
                DeliveryReporter(
                    exporter,
                    "the exporter given",
                    settings.on_error,
                    settings.debug,
                    max_retries=settings.max_retries,
                )
                if exporter is not None
                else _otlp_exporter(settings)
            )
            make_inner = None if exporter is not None else (lambda: _otlp_exporter(settings))
            ledger_exporter = LedgerExporter(
                inner, self.ledger, dumps, self.internal_error, make_inner, on_value_faults=self.value_faults
            )
            self.processor = LedgerSpanProcessor(
                ledger_exporter,
                self.ledger,
                max_queue_size=settings.max_queue_size,
                max_queue_bytes=settings.max_queue_bytes,
                batch_size=settings.batch_size,
                flush_interval=settings.flush_interval,
                export_timeout=settings.export_timeout,
            )
            provider.add_span_processor(self.processor)
            self.provider: trace.TracerProvider = provider
        else:
            # The user's provider delivers the spans; aither cannot count what it does not
            # deliver, and encodes deferred attributes at once (see ``defer``).
            self.provider = tracer_provider
        # Every span starts here: the scope of aither.context(...) joins its attributes.
        self.tracer = ScopedTracer(self.provider.get_tracer(semconv.INSTRUMENTATION_NAME, __version__), self)
        _live_runtimes.add(self)

    # -- the hot path ------------------------------------------------------------------------
    def defer(self, span: trace.Span, payload: DeferredPayload) -> None:
        """Attach attributes to encode later; encodes now when a foreign provider exports."""
        if self.processor is not None:
            self.processor.defer(span.get_span_context().span_id, payload)
        else:
            for key, value in payload.raw or ():
                span.set_attribute(key, value)
            for key, value in payload.items:
                span.set_attribute(key, dumps(value))
        self._take_value_faults()

    def account(self, span: trace.Span, size: int) -> None:
        """Count ``size`` bytes of attributes set on ``span`` against the queue's byte bound
        (a sample encoded on the caller's thread: no payload to defer)."""
        if self.processor is not None:
            self.processor.defer(span.get_span_context().span_id, size)
        self._take_value_faults()

    def _take_value_faults(self) -> None:
        count, fault = faults.take()  # values whose __repr__ or __len__ raised while sampled
        if count and fault is not None:
            self.value_faults(count, fault, "sampling a value")

    # -- errors --------------------------------------------------------------------------------
    def internal_error(self, exc: BaseException, where: str) -> None:
        """Count, log once per place, tell ``on_error``; re-raise when the settings ask."""
        self._report(exc, where, 1)
        if self.settings.raise_internal_errors:
            raise exc

    def value_faults(self, count: int, exc: BaseException, where: str) -> None:
        """Count ``count`` faults of the host's own values (a ``__repr__`` or ``__len__`` that
        raised; their placeholders were kept), log once, tell ``on_error``. Never raises, even
        with ``raise_internal_errors``: the fault is the value's, not aither's."""
        self._report(exc, where, count)

    def _report(self, exc: BaseException, where: str, count: int) -> None:
        self.ledger.internal_error(count)
        self._log_once(
            where,
            "aither: an internal error in %s; your code is unaffected, but a span may be incomplete: %r "
            "(logged once; see aither.stats().internal_errors)",
            where,
            exc,
        )
        on_error = self.settings.on_error
        if on_error is not None:
            try:
                on_error(exc)
            except Exception:
                # The user's callback: once per kind too, or a broken callback logs on every call.
                self._log_once(
                    f"on_error:{type(exc).__name__}",
                    "aither: the on_error callback raised on a %s (logged once)",
                    type(exc).__name__,
                    exc_info=True,
                )

    def _log_once(self, kind: str, message: str, *args: object, exc_info: bool = False) -> None:
        with self._log_lock:
            if kind in self._logged:
                return
            self._logged.add(kind)
        logger.warning(message, *args, exc_info=exc_info)

    # -- delivery ------------------------------------------------------------------------------
    def stats(self) -> Stats:
        return self.ledger.snapshot()

    def flush(self, timeout: float = 5.0) -> bool:
        """Export what is queued; True when all of it was delivered within ``timeout`` seconds.

        opentelemetry-sdk's ``force_flush`` does not honour a deadline, so it runs in a
        helper thread and this call waits for it at most ``timeout`` seconds.
        """
        if timeout < 0:
            raise ConfigError(f"flush timeout must be >= 0 seconds, got {timeout!r}")
        if self.processor is None:
            flush = getattr(self.provider, "force_flush", None)
            return bool(flush(int(timeout * 1000))) if flush is not None else True
        before = self.ledger.snapshot()
        if before.queued == 0:
            return True
        deadline = time.monotonic() + timeout
        while True:
            done, joined = self._flush_in_background()
            done.wait(max(0.0, deadline - time.monotonic()))
            # A flush that was already running may have ended before our spans were queued.
            if not (done.is_set() and joined and self.ledger.snapshot().queued):
                break
            if time.monotonic() >= deadline:
                break
        after = self.ledger.snapshot()
        return after.queued == 0 and after.failed == before.failed

    def _flush_in_background(self) -> tuple[threading.Event, bool]:
        """The event set when a background flush ends, and whether it was already running.

        At most one flush thread runs per runtime: a flush that times out (a receiver that
        never answers) leaves it to finish within the export timeout, and later flushes wait
        for that same one instead of starting another.
        """
        processor = self.processor
        assert processor is not None
        with self._flush_lock:
            running = self._flushing
            if running is not None and not running.is_set():
                return running, True
            done = self._flushing = threading.Event()

        def run() -> None:
            try:
                processor.force_flush()
            except Exception as exc:
                self.internal_error_quiet(exc, "flush")
            finally:
                done.set()

        threading.Thread(target=run, name="aither-flush", daemon=True).start()
        return done, False

    def internal_error_quiet(self, exc: BaseException, where: str) -> None:
        try:
            self.internal_error(exc, where)
        except BaseException:
            pass

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self, timeout: float | None = None) -> bool:
        """Flush within ``timeout`` (default: the shutdown timeout), then stop exporting.

        Spans ended after close are dropped and counted. Returns whether everything was
        delivered. Safe to call more than once.
        """
        with self._close_lock:
            if self._closed:
                s = self.ledger.snapshot()
                return s.queued == 0 and s.lost == 0
            self._closed = True
        budget = self.settings.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        delivered = self.flush(budget)
        if self.processor is not None:
            processor = self.processor
            # A receiver still down: stop waiting for it, so shutdown ends within its budget.
            interrupt = getattr(processor.exporter.inner, "interrupt", None)
            if interrupt is not None:
                interrupt()
            stopper = threading.Thread(target=processor.shutdown, name="aither-shutdown", daemon=True)
            stopper.start()
            stopper.join(max(0.0, deadline - time.monotonic()))
        _live_runtimes.discard(self)
        return delivered

    def loss_report(self) -> str | None:
        """One line on what was not delivered, or None when nothing was lost."""
        s = self.ledger.snapshot()
        if self.processor is None or (s.lost == 0 and s.queued == 0):
            return None
        parts = []
        if s.dropped:
            parts.append(f"{s.dropped} dropped (queue full or client closed)")
        if s.failed:
            parts.append(f"{s.failed} failed to export to {self.settings.traces_endpoint}")
        if s.queued:
            parts.append(f"{s.queued} still queued at exit")
        return f"aither: {s.lost + s.queued} of {s.created} spans were not delivered: " + ", ".join(parts)


_live_runtimes: weakref.WeakSet[Runtime] = weakref.WeakSet()


def _at_exit() -> None:
    """Flush every open runtime within its shutdown timeout; one stderr line per loss."""
    for runtime in list(_live_runtimes):
        try:
            runtime.close()
            report = runtime.loss_report()
            if report:
                print(report, file=sys.stderr)
        except Exception:
            pass


atexit.register(_at_exit)
