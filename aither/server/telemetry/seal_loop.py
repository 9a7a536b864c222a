"""The sealing job's loop: the lease's holder seals the past hours of ClickHouse every minute."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial

from . import TelemetryStore

logger = logging.getLogger("aither.server")


class SealLoop:
    """Runs :meth:`~.clickhouse.ClickHouseStore.seal` every ``every_s`` seconds on its own thread, while this
    server holds the lease (``lease``: its fencing token, or None): one job at a time, or a
    computation of an hour could resolve the markers of another's (:mod:`.sealed`). A run that
    fails is tried again at the next; reads stay exact meanwhile (they read more rows)."""

    def __init__(self, store: TelemetryStore, lease: Callable[[], int | None], every_s: float = 60.0) -> None:
        self.store = store
        self.lease = lease
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aither-seal", daemon=True)
        self.runs = 0

    def start(self) -> SealLoop:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _holds(self, token: int) -> bool:
        return self.lease() == token

    def _run(self) -> None:
        while not self._stop.is_set():
            token = self.lease()
            if token is None:
                self._stop.wait(min(self.every_s, 1.0))  # not the holder: look again soon
                continue
            try:
                self.store.seal(held=partial(self._holds, token))
                self.runs += 1
            except Exception:
                logger.exception("aither server: sealing ClickHouse hours failed; it will be tried again")
            self._stop.wait(self.every_s)
