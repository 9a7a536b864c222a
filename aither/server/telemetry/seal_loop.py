"""The sealing job's loop: the lease's holder seals the past hours of ClickHouse every minute."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ..lease import HolderLoop
from . import TelemetryStore


class SealLoop(HolderLoop):
    """Runs :meth:`~.clickhouse.ClickHouseStore.seal` every ``every_s`` seconds on its own thread, while this
    server holds the lease (``lease``: its fencing token, or None): one job at a time, or a
    computation of an hour could resolve the markers of another's (:mod:`.sealed`). A run that
    fails is tried again at the next; reads stay exact meanwhile (they read more rows)."""

    name = "aither-seal"
    what = "sealing ClickHouse hours"

    def __init__(self, store: TelemetryStore, lease: Callable[[], int | None], every_s: float = 60.0) -> None:
        self.store = store
        super().__init__(every_s, lease)

    def _holds(self, token: int) -> bool:
        return self.lease is not None and self.lease() == token

    def work(self, token: int | None) -> None:
        assert token is not None  # a lease is required: only its holder seals
        self.store.seal(held=partial(self._holds, token))
