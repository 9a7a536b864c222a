"""The sender thread: sends requests already encoded, so that a queued span is bytes.

While a receiver is down, spans pile up in the export queue, and every object a queued span
keeps alive is walked by each full collection of the cyclic garbage collector, which runs
inside whichever call of the application triggers it (issue 11: 157 to 386 ms with 12,000
ReadableSpans queued). :class:`~aither.export.pipeline.LedgerExporter` therefore encodes each
batch into its ``ExportTraceServiceRequest`` on the batch processor's thread as soon as the
batch is taken, and hands it here as an :class:`~aither.export.encoding.EncodedRequest`:
one object and one ``bytes`` (which the collector does not track) per request, in place of
about a dozen tracked objects per span. This thread sends them in order, one at a time; the
batch thread is never blocked by the network, so the queue of ReadableSpans stays about one
batch long even during an outage.

Threading: :meth:`Sender.put`, :meth:`Sender.flush` and :meth:`Sender.close` may be called
from any thread; ``send`` runs on the sender's own thread only.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, set_value

from .encoding import EncodedRequest

logger = logging.getLogger("aither")


class Sender:
    """A FIFO of encoded requests and the daemon thread that sends them with ``send``.

    ``send`` must count the request in the ledger whatever happens (exported or failed) and
    should not raise; an exception that escapes is logged and the thread goes on.
    """

    def __init__(self, send: Callable[[EncodedRequest], object]) -> None:
        self._send = send
        self._queue: collections.deque[EncodedRequest] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._busy: EncodedRequest | None = None  # the request being sent
        self._stopping = False
        self._thread: threading.Thread | None = None

    def put(self, request: EncodedRequest) -> None:
        """Queue ``request`` for sending (starting the thread on first use)."""
        with self._cond:
            self._queue.append(request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="aither-sender", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        """Spans in requests waiting to be sent or being sent."""
        with self._cond:
            return sum(len(r) for r in self._queue) + (len(self._busy) if self._busy is not None else 0)

    def _run(self) -> None:
        # The HTTP client's own instrumentation (opentelemetry-instrumentation-requests in the
        # host) must not trace aither's exports: the batch thread exports in this context too.
        attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue:
                    return
                request = self._busy = self._queue.popleft()
            try:
                self._send(request)
            except Exception:  # ``send`` counts and reports its own errors; never die here
                logger.warning("aither: sending an export request failed", exc_info=True)
            finally:
                with self._cond:
                    self._busy = None
                    self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds until every request put so far was sent; True if so."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self, timeout: float) -> bool:
        """Send what is queued, then end the thread; wait for that at most ``timeout`` seconds."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()
