"""The dispatcher: the :class:`AnomalySink` the app gives detection, delivering on its own threads.

::

    submit(notice) ──► intake queue (bounded; full: dropped, counted, logged)
                          │ router thread: the org's enabled channels + the rules file's,
                          │ filtered; one pending row per channel in alert_deliveries
                          ▼
                 one queue and one worker thread per channel ──► attempt, back off, retry
                                                                 (the row says how it went)

``submit`` never blocks and never raises, and a channel that hangs holds up only its own
worker: ingest and the other channels go on. A worker ends after a minute without work; the
router starts it again when its channel has something to send.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from sqlalchemy.engine import Connection

from ..lease import PERIODIC, LeaseLost, fence
from ..storage import Storage
from .config import ChannelConfig
from .notice import AnomalyNotice, notice_from_json, notice_to_json
from .outbox import claim, claimable
from .send import attempt
from .store import (
    DELIVERED,
    FAILED,
    PENDING,
    config_from_row,
    get_channel,
    get_delivery,
    insert_deliveries,
    list_channels,
    update_delivery,
)

logger = logging.getLogger("aither.server.alerts")
_T = TypeVar("_T")

MAX_BACKOFF_S: Final = 300.0
_WRITE_TIMEOUT_S: Final = 30.0


def backoff_delay(failures: int, base_s: float, retry_after_s: float | None = None) -> float:
    """Seconds to wait after the ``failures``-th failed attempt: ``base_s * 2**(failures-1)``
    (at most five minutes) with "equal jitter" (half of it fixed, half random, so that channels
    failing together don't retry together), and never less than the receiver's ``Retry-After``."""
    ceiling = min(base_s * 2.0 ** (failures - 1), MAX_BACKOFF_S)
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    return float(max(delay, retry_after_s or 0.0))


def anomaly_link(link_base: str | None, notice: AnomalyNotice) -> str | None:
    return f"{link_base.rstrip('/')}/api/v1/anomalies/{notice.id}" if link_base else None


def delivery_row(
    org_id: str, channel: ChannelConfig, notice: AnomalyNotice, now_ns: int, claim_token: int | None = None
) -> dict[str, Any]:
    """A new, pending row of the delivery log (``claim_token`` None: for the lease holder to claim)."""
    return {
        "org_id": org_id,
        "channel_id": channel.id or f"file:{channel.name}",
        "channel_name": channel.name,
        "channel_kind": channel.kind,
        "anomaly_id": notice.id,
        "event": notice.event,
        "severity": notice.severity,
        "title": notice.title,
        "status": PENDING,
        "attempts": 0,
        "created_at_ns": now_ns,
        "updated_at_ns": now_ns,
        "notice": notice_to_json(notice),
        "claim_token": claim_token,
    }


@dataclass(frozen=True)
class _Job:
    delivery_id: int | None
    """None when the log row could not be written (the notice still goes out)."""
    channel: ChannelConfig
    notice: AnomalyNotice
    token: int | None = None
    """The fencing token its row was claimed with: the row's later updates are made under it."""


class _Worker:
    def __init__(self, channel_id: str) -> None:
        self.channel_id = channel_id
        self.jobs: queue.Queue[_Job | None] = queue.Queue()
        self.thread: threading.Thread | None = None


class AlertDispatcher:
    """Fans notices out to the channels that want them. Thread-safe.

    Args:
        storage: the server's storage: channels are read from it and the delivery log is
            written through its writer.
        channels: channels from the rules file (see :func:`~.config.parse_channels`); they get
            every organisation's notices that pass their filters.
        link_base: the server's URL, for the "open in aither" link of each notice.
        max_queued: notices waiting to be routed; past it ``submit`` drops (counted, logged).
        max_queued_per_channel: deliveries waiting for one channel; past it the delivery is
            logged as failed at once, so a dead channel can't hold an unbounded backlog.
        idle_s: a channel's worker thread ends after this long without work.
        lease: with several servers on one database, the lease's fencing token while this
            server holds it, else None: only the holder sends (see :mod:`.outbox`). None: one
            server, which always sends.
        poll_s: how often the outbox is read for rows to claim (:meth:`wake` reads it at once).
    """

    def __init__(
        self,
        storage: Storage,
        *,
        channels: Iterable[ChannelConfig] = (),
        link_base: str | None = None,
        max_queued: int = 1000,
        max_queued_per_channel: int = 100,
        idle_s: float = 60.0,
        lease: Callable[[], int | None] | None = None,
        poll_s: float = 1.0,
    ) -> None:
        self.storage = storage
        self.lease = lease
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._poller: threading.Thread | None = None
        self.link_base = link_base
        self.max_queued_per_channel = max_queued_per_channel
        self.idle_s = idle_s
        self._file_channels = tuple(channels)
        self._intake: queue.Queue[AnomalyNotice | None] = queue.Queue(max_queued)
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Condition()
        self._outstanding = 0
        self._overflows = 0
        self._stop = threading.Event()
        self._router: threading.Thread | None = None
        self.counts = {
            "submitted": 0,
            "dropped": 0,
            "delivered": 0,
            "failed": 0,
            "retried": 0,
            "errors": 0,
            "staged": 0,
            "claimed": 0,
        }
        """``dropped``: notices refused by a full intake queue or after stop; ``failed``: deliveries
        that gave up (the log says why); ``errors``: our own failures, logged; ``staged``: rows
        written in a detection transaction; ``claimed``: rows this server took from the outbox."""

    # --- the sink --------------------------------------------------------------------------------

    def submit(self, notice: AnomalyNotice) -> None:
        """Queue ``notice`` for delivery. Called on detection's thread; never blocks, never raises."""
        try:
            with self._lock:
                if self._stop.is_set():
                    self._drop(notice, "the server is stopping")
                    return
                self._intake.put_nowait(notice)
                self._outstanding += 1
                self.counts["submitted"] += 1
        except queue.Full:
            with self._lock:
                self._drop(notice, f"{self._intake.maxsize} notices are waiting already")
        except Exception:  # pragma: no cover - the sink must never raise into detection
            logger.exception("aither alerts: a notice could not be queued")

    def _drop(self, notice: AnomalyNotice, why: str) -> None:
        self.counts["dropped"] += 1
        dropped = self.counts["dropped"]
        if dropped == 1 or dropped % 100 == 0:  # a flood logs a line per hundred, not per notice
            logger.warning(
                "aither alerts: dropped the notice of anomaly %s (%s); %d dropped so far",
                notice.id,
                why,
                dropped,
            )

    def set_channels(self, channels: Iterable[ChannelConfig]) -> None:
        """Replace the rules file's channels (a reloaded file); stored channels are read per notice."""
        self._file_channels = tuple(channels)

    @property
    def file_channels(self) -> tuple[ChannelConfig, ...]:
        return self._file_channels

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {**self.counts, "queued": self._outstanding, "workers": len(self._workers)}

    # --- life ------------------------------------------------------------------------------------

    def start(self) -> AlertDispatcher:
        if self._router is None:
            self._router = threading.Thread(target=self._route_loop, name="aither-alerts-router", daemon=True)
            self._router.start()
            self._poller = threading.Thread(target=self._poll_loop, name="aither-alerts-outbox", daemon=True)
            self._poller.start()
        return self

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every submitted notice has been delivered or given up; False at the deadline."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._outstanding:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop routing and retrying, and end the threads within ``timeout`` seconds.

        Deliveries still queued are logged as failed ("the server stopped"); an attempt in
        flight finishes in the background (its thread is a daemon) within its ``timeout_s``.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            self._stop.set()
        try:
            self._intake.put_nowait(None)
        except queue.Full:  # the router checks the flag after its current notice
            pass
        self._wake.set()
        if self._router is not None:
            self._router.join(max(0.0, deadline - time.monotonic()))
        if self._poller is not None:
            self._poller.join(max(0.0, deadline - time.monotonic()))
        left = sum(1 for _ in _drained(self._intake))
        if left:
            self._done(left)
            logger.warning("aither alerts: %d notices were not routed before the server stopped", left)
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.jobs.put(None)
        for worker in workers:
            if worker.thread is not None:
                worker.thread.join(max(0.0, deadline - time.monotonic()))
        for worker in workers:  # a worker stuck in a slow attempt: give up its queue for it
            if worker.thread is not None and worker.thread.is_alive():
                self._abandon(worker)

    def _done(self, n: int = 1) -> None:
        with self._lock:
            self._outstanding -= n
            self._lock.notify_all()

    @contextmanager
    def _settling(self, failed: str, *args: object) -> Iterator[None]:
        """One routed notice or delivered job: an error is counted and logged (the thread goes
        on), and the item is done either way."""
        try:
            yield
        except Exception:
            self.counts["errors"] += 1
            logger.exception(failed, *args)
        finally:
            self._done()

    # --- routing ---------------------------------------------------------------------------------

    def _route_loop(self) -> None:
        while True:
            notice = self._intake.get()
            if notice is None:
                return
            with self._settling("aither alerts: routing the notice of anomaly %s failed", notice.id):
                self._route(notice)
            if self._stop.is_set():
                return

    def _route(self, notice: AnomalyNotice) -> None:
        org_id = str(notice.org_id)
        with self.storage.read() as connection:
            stored = [config_from_row(row) for row in list_channels(connection, org_id, enabled_only=True)]
        matched = [channel for channel in (*stored, *self._file_channels) if channel.accepts(notice)]
        if not matched:
            return
        now = time.time_ns()
        token = self._token()
        rows, room = [], []
        with self._lock:  # the router is the only producer, so room checked here stays room
            for channel in matched:
                worker = self._workers.get(channel.id or "")
                fits = worker is None or worker.jobs.qsize() < self.max_queued_per_channel
                row = delivery_row(org_id, channel, notice, now, token)
                if not fits:
                    row.update(status=FAILED, last_error="not sent: the channel's queue was full")
                rows.append(row)
                room.append(fits)
        if token is None:  # not the lease holder: the rows wait in the outbox for the holder
            self.storage.writer.run(lambda c: insert_deliveries(c, rows), _WRITE_TIMEOUT_S)
            return

        def insert_claimed(connection: Connection) -> list[int]:
            if self.lease is not None and token is not None:
                fence(connection, PERIODIC, token)  # claimed as the holder, or not at all
            return insert_deliveries(connection, rows)

        try:
            ids: list[int | None] = list(self.storage.writer.run(insert_claimed, _WRITE_TIMEOUT_S))
        except LeaseLost:  # lost the lease just now: log them unclaimed, for the new holder
            for row in rows:
                row["claim_token"] = None
            self.storage.writer.run(lambda c: insert_deliveries(c, rows), _WRITE_TIMEOUT_S)
            return
        except Exception as exc:  # the database is busy or closing: deliver anyway, unlogged
            logger.warning("aither alerts: the delivery log could not be written (%r); sending anyway", exc)
            ids = [None] * len(rows)
        for channel, fits, delivery_id in zip(matched, room, ids, strict=True):
            if fits:
                self._enqueue(_Job(delivery_id, channel, notice, token))
            else:
                with self._lock:
                    self.counts["failed"] += 1
                    self._overflows += 1
                    overflows = self._overflows
                if overflows == 1 or overflows % 100 == 0:
                    logger.warning(
                        "aither alerts: channel %s is backed up; its delivery of anomaly %s was logged as "
                        "failed (%d such so far)",
                        channel.name,
                        notice.id,
                        overflows,
                    )

    def _enqueue(self, job: _Job) -> None:
        key = job.channel.id or f"file:{job.channel.name}"
        with self._lock:
            worker = self._workers.get(key)
            if worker is None:
                worker = self._workers[key] = _Worker(key)
                worker.thread = threading.Thread(
                    target=self._work, args=(worker,), name=f"aither-alerts-{key}", daemon=True
                )
                worker.thread.start()
            worker.jobs.put(job)
            self._outstanding += 1

    # --- the outbox: rows any server logged, claimed and sent by the lease holder ------------------

    def _token(self) -> int | None:
        """The claim token: the lease's while this server holds it; 0 with no lease (one server)."""
        return self.lease() if self.lease is not None else 0

    def stage(self, connection: Connection, notices: Sequence[AnomalyNotice]) -> None:
        """Log ``notices``' deliveries as pending rows in the caller's transaction (detection's).

        They commit with the anomaly or not at all, so a server that dies after the commit
        loses no notice: the lease holder claims and sends them (call :meth:`wake` after the
        commit to have it look at once).
        """
        now = time.time_ns()
        stored: dict[str, list[ChannelConfig]] = {}
        rows = []
        for notice in notices:
            org_id = str(notice.org_id)
            if org_id not in stored:
                stored[org_id] = [
                    config_from_row(row) for row in list_channels(connection, org_id, enabled_only=True)
                ]
            for channel in (*stored[org_id], *self._file_channels):
                if channel.accepts(notice):
                    rows.append(delivery_row(org_id, channel, notice, now))
        if rows:
            insert_deliveries(connection, rows)
            with self._lock:
                self.counts["staged"] += len(rows)

    def wake(self) -> None:
        """Read the outbox now rather than at the next poll."""
        self._wake.set()

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._poll()
            except LeaseLost:
                pass  # another server holds the lease now: it sends
            except Exception:
                self.counts["errors"] += 1
                logger.exception("aither alerts: reading the outbox failed; trying again")

    def _poll(self) -> None:
        token = self._token()
        if token is None:
            return
        with self.storage.read() as connection:  # most polls find nothing: don't take the writer
            if not claimable(connection, token, 1):
                return

        def take(connection: Connection) -> list[_Job]:
            if self.lease is not None:
                fence(connection, PERIODIC, token)
            jobs: list[_Job] = []
            now = time.time_ns()
            queued: dict[str, int] = {}
            for row in claimable(connection, token, 100):
                channel = self._channel_of(connection, row)
                if channel is None:
                    gone = {"status": FAILED, "last_error": "the channel was removed or disabled"}
                    update_delivery(connection, row["id"], {**gone, "updated_at_ns": now})
                    continue
                with self._lock:
                    worker = self._workers.get(row["channel_id"])
                    waiting = queued.get(row["channel_id"], worker.jobs.qsize() if worker else 0)
                if waiting >= self.max_queued_per_channel:
                    continue  # stays unclaimed in the log until the channel catches up
                if claim(connection, row, token, now):
                    queued[row["channel_id"]] = waiting + 1
                    jobs.append(_Job(row["id"], channel, notice_from_json(row["notice"]), token))
            return jobs

        jobs = self.storage.writer.run(take, _WRITE_TIMEOUT_S)
        with self._lock:
            self.counts["claimed"] += len(jobs)
        for job in jobs:
            self._enqueue(job)
        if len(jobs) == 100:
            self._wake.set()  # more may be waiting

    def _channel_of(self, connection: Connection, row: dict[str, Any]) -> ChannelConfig | None:
        channel_id: str = row["channel_id"]
        if channel_id.startswith("file:"):
            name = channel_id[len("file:") :]
            return next((c for c in self._file_channels if c.name == name and c.enabled), None)
        stored = get_channel(connection, row["org_id"], channel_id)
        return config_from_row(stored) if stored is not None and stored["enabled"] else None

    # --- delivering ------------------------------------------------------------------------------

    def _work(self, worker: _Worker) -> None:
        while True:
            try:
                job = worker.jobs.get(timeout=self.idle_s)
            except queue.Empty:
                with self._lock:  # under the lock the router can't be adding a job meanwhile
                    if worker.jobs.empty():
                        if self._workers.get(worker.channel_id) is worker:
                            del self._workers[worker.channel_id]
                        return
                continue
            if job is None:
                return
            with self._settling("aither alerts: delivering to channel %s failed", job.channel.name):
                self._deliver(job)

    def _deliver(self, job: _Job) -> None:
        channel = job.channel
        link = anomaly_link(self.link_base, job.notice)
        for number in range(1, channel.max_attempts + 1):
            if self._stop.is_set():
                self._record(
                    job, status=FAILED, attempts=number - 1, last_error="the server stopped before delivery"
                )
                return
            if self.lease is not None:  # in flight: a holder taking over won't send it again
                self._record(job, attempts=number, next_attempt_at_ns=None)
            result = attempt(channel, job.notice, delivery_id=job.delivery_id, link=link)
            now = time.time_ns()
            outcome = {"attempts": number, "http_status": result.http_status, "last_error": result.error}
            if result.delivered:
                self._record(job, status=DELIVERED, delivered_at_ns=now, next_attempt_at_ns=None, **outcome)
                with self._lock:
                    self.counts["delivered"] += 1
                return
            if not result.retryable or number == channel.max_attempts:
                self._record(job, status=FAILED, next_attempt_at_ns=None, **outcome)
                with self._lock:
                    self.counts["failed"] += 1
                logger.warning(
                    "aither alerts: channel %s gave up on anomaly %s after %d attempts: %s",
                    channel.name,
                    job.notice.id,
                    number,
                    result.error,
                )
                return
            delay = backoff_delay(number, channel.backoff_s, result.retry_after_s)
            self._record(job, status=PENDING, next_attempt_at_ns=now + int(delay * 1e9), **outcome)
            with self._lock:
                self.counts["retried"] += 1
            if self._stop.wait(delay):
                self._record(
                    job, status=FAILED, last_error=f"{result.error}; the server stopped before the retry"
                )
                return

    def _record(self, job: _Job, **values: Any) -> None:
        if job.delivery_id is None:
            return
        values["updated_at_ns"] = time.time_ns()
        delivery_id, token = job.delivery_id, job.token if self.lease is not None else None
        try:
            self.storage.writer.run(
                lambda c: update_delivery(c, delivery_id, values, claim_token=token), _WRITE_TIMEOUT_S
            )
        except Exception as exc:
            logger.warning("aither alerts: delivery %s could not be logged (%r)", delivery_id, exc)

    def _abandon(self, worker: _Worker) -> None:
        for job in _drained(worker.jobs):
            self._record(job, status=FAILED, last_error="the server stopped before delivery")
            self._done()


def _drained(items: queue.Queue[_T | None]) -> Iterator[_T]:
    """What ``items`` holds now, taken without waiting; the stop markers (None) skipped."""
    while True:
        try:
            item = items.get_nowait()
        except queue.Empty:
            return
        if item is not None:
            yield item


def test_notice(org_id: str, channel: ChannelConfig) -> AnomalyNotice:
    """The notice ``POST /alerts/channels/{id}/test`` sends: anomaly id 0, the channel's lowest severity."""
    now = dt.datetime.now(dt.timezone.utc)
    return AnomalyNotice(
        id=0,
        org_id=org_id,  # type: ignore[arg-type]  # organisation ids are strings (org_...)
        event="opened",
        rule="aither_test",
        anomaly_type="quality_degradation",
        severity=channel.min_severity.value,
        detection_method="threshold",
        title=f"Test notice for channel {channel.name}",
        message="aither sent this to check the channel; nothing is wrong.",
        recommended_action="None: if you read this, the channel works.",
        target={"service": "aither"},
        count=1,
        first_seen=now,
        last_seen=now,
        status="open",
        evidence={"test": True},
    )


def send_test(storage: Storage, org_id: str, channel: ChannelConfig, link_base: str | None) -> dict[str, Any]:
    """Send ``channel`` a test notice now, once, and log it (event ``test``); the log row.

    Blocking for up to about the channel's ``timeout_s``: the API's "test" button, which
    should say whether the channel works, not queue behind its retries.
    """
    notice = test_notice(org_id, channel)
    # no notice kept: the outbox never takes a test's row, it is sent here and only here
    row = {**delivery_row(org_id, channel, notice, time.time_ns()), "event": "test", "notice": None}
    [delivery_id] = storage.writer.run(lambda c: insert_deliveries(c, [row]), _WRITE_TIMEOUT_S)
    result = attempt(channel, notice, delivery_id=delivery_id, link=anomaly_link(link_base, notice))
    now = time.time_ns()
    values = {
        "status": DELIVERED if result.delivered else FAILED,
        "attempts": 1,
        "http_status": result.http_status,
        "last_error": result.error,
        "updated_at_ns": now,
        "delivered_at_ns": now if result.delivered else None,
    }

    def finish(connection: Any) -> dict[str, Any] | None:
        update_delivery(connection, delivery_id, values)
        return get_delivery(connection, org_id, delivery_id)

    written = storage.writer.run(finish, _WRITE_TIMEOUT_S)
    assert written is not None
    return written
