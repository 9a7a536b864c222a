"""The ledger: how many spans were created, exported, dropped, failed and are still queued."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Stats:
    """A consistent snapshot of one client's span accounting.

    ``created == exported + dropped + failed + queued`` holds exactly in every snapshot.

    Attributes:
        created: spans that ended and reached aither's pipeline.
        exported: spans the receiver accepted.
        dropped: spans refused before export: the queue was full (in spans or bytes) or the
            client was closed.
        failed: spans the exporter gave up on (receiver down past the timeout, a 4xx/5xx).
        queued: spans waiting for export or being sent right now.
        queued_bytes: estimated memory held by the queued spans.
        internal_errors: errors inside aither's own instrumentation (the host was unaffected).
    """

    created: int
    exported: int
    dropped: int
    failed: int
    queued: int
    queued_bytes: int
    internal_errors: int

    @property
    def lost(self) -> int:
        """Spans that will never be delivered: dropped + failed."""
        return self.dropped + self.failed


class Ledger:
    """Thread-safe counters; every transition moves a span between two of them at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Start from zero: used in a forked child, whose queue the parent still owns."""
        self._lock = threading.Lock()
        self.created = self.exported = self.dropped = self.failed = 0
        self.queued = self.queued_bytes = self.internal_errors = 0

    def admit(self, size: int, max_spans: int, max_bytes: int) -> bool:
        """Count a new span as queued if it fits under both bounds, else as dropped."""
        with self._lock:
            self.created += 1
            if self.queued >= max_spans or self.queued_bytes + size > max_bytes:
                self.dropped += 1
                return False
            self.queued += 1
            self.queued_bytes += size
            return True

    def refuse(self) -> None:
        """Count a span that was dropped without being considered (client closed)."""
        with self._lock:
            self.created += 1
            self.dropped += 1

    def settle(self, count: int, size: int, *, ok: bool, rejected: int = 0) -> None:
        """Move ``count`` queued spans of ``size`` bytes to exported (``ok``) or failed;
        ``rejected`` of an ``ok`` request's spans (an OTLP partial success) to failed."""
        with self._lock:
            self.queued -= count
            self.queued_bytes -= size
            if ok:
                rejected = min(max(rejected, 0), count)
                self.exported += count - rejected
                self.failed += rejected
            else:
                self.failed += count

    def internal_error(self, count: int = 1) -> None:
        with self._lock:
            self.internal_errors += count

    def snapshot(self) -> Stats:
        with self._lock:
            return Stats(
                created=self.created,
                exported=self.exported,
                dropped=self.dropped,
                failed=self.failed,
                queued=self.queued,
                queued_bytes=self.queued_bytes,
                internal_errors=self.internal_errors,
            )
