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

from . import semconv
from ._config import Settings
from ._version import __version__
from .export import Ledger, LedgerExporter, LedgerSpanProcessor, Stats
from .export.pipeline import DeferredPayload
from .sampling.encoder import dumps

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
    # opentelemetry's OTLP/HTTP exporter, writing the protobuf directly (standard OTLP).
    from .export.encoding_http import DirectOTLPSpanExporter

    return DirectOTLPSpanExporter(
        endpoint=settings.traces_endpoint,
        headers=dict(settings.headers),
        timeout=settings.export_timeout,
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
        self._closed = False
        self._close_lock = threading.Lock()
        self._logged: set[str] = set()
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
            inner = exporter if exporter is not None else _otlp_exporter(settings)
            make_inner = None if exporter is not None else (lambda: _otlp_exporter(settings))
            ledger_exporter = LedgerExporter(inner, self.ledger, dumps, self.internal_error, make_inner)
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
        self.tracer = self.provider.get_tracer(semconv.INSTRUMENTATION_NAME, __version__)
        _live_runtimes.add(self)

    # -- the hot path ------------------------------------------------------------------------
    def defer(self, span: trace.Span, payload: DeferredPayload) -> None:
        """Attach attributes to encode later; encodes now when a foreign provider exports."""
        if self.processor is not None:
            self.processor.defer(span.get_span_context().span_id, payload)
            return
        for key, value in payload.raw or ():
            span.set_attribute(key, value)
        for key, value in payload.items:
            span.set_attribute(key, dumps(value))

    def account(self, span: trace.Span, size: int) -> None:
        """Count ``size`` bytes of attributes set on ``span`` against the queue's byte bound."""
        if self.processor is not None:
            self.processor.defer(span.get_span_context().span_id, size)

    # -- errors --------------------------------------------------------------------------------
    def internal_error(self, exc: BaseException, where: str) -> None:
        """Count, log once per place, tell ``on_error``; re-raise when the settings ask."""
        self.ledger.internal_error()
        if where not in self._logged:
            self._logged.add(where)
            logger.warning(
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
                logger.warning("aither: on_error raised", exc_info=True)
        if self.settings.raise_internal_errors:
            raise exc

    # -- delivery ------------------------------------------------------------------------------
    def stats(self) -> Stats:
        return self.ledger.snapshot()

    def flush(self, timeout: float = 5.0) -> bool:
        """Export what is queued; True when all of it was delivered within ``timeout`` seconds.

        opentelemetry-sdk's ``force_flush`` does not honour a deadline, so it runs in a
        helper thread and this call waits for it at most ``timeout`` seconds.
        """
        if timeout < 0:
            raise ValueError(f"flush timeout must be >= 0 seconds, got {timeout!r}")
        if self.processor is None:
            flush = getattr(self.provider, "force_flush", None)
            return bool(flush(int(timeout * 1000))) if flush is not None else True
        before = self.ledger.snapshot()
        if before.queued == 0:
            return True
        processor = self.processor
        done = threading.Event()

        def run() -> None:
            try:
                processor.force_flush()
            except Exception as exc:
                self.internal_error_quiet(exc, "flush")
            finally:
                done.set()

        threading.Thread(target=run, name="aither-flush", daemon=True).start()
        done.wait(timeout)
        after = self.ledger.snapshot()
        return after.queued == 0 and after.failed == before.failed

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
