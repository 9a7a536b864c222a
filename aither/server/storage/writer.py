"""The single batched writer: every write of the server goes through one thread.

Requests hand it :class:`WriteJob` objects through a bounded queue and wait on a future. The
thread takes what has queued up (up to ``max_batch_weight``) and applies it in one transaction,
so a burst of small exports costs one commit, not one each. A job that fails makes the batch
roll back and run again job by job, so one bad request never fails its neighbours.

The queue is bounded by weight (spans, for ingest jobs): a full queue refuses new jobs with
:class:`WriterBusy`, which the route answers with 503 and ``Retry-After``, so OTLP exporters
retry. Nothing is dropped silently.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

logger = logging.getLogger("aither.server")

T = TypeVar("T")


class WriterBusy(Exception):
    """The write queue is full (or the server is stopping); try again shortly."""


class WriteJob(Protocol):
    """A unit of work for the writer. ``apply`` may run twice (after a batch rollback)."""

    weight: int

    def apply(self, connection: Connection) -> Any: ...


class BatchHook(Protocol):
    """Work that jobs of one transaction share (a :class:`WriteJob` may name one as ``hook``).

    The writer calls :meth:`begin` with the transaction's jobs of this hook before any
    ``apply``, :meth:`flush` after the last ``apply`` and before the commit (raising rolls the
    transaction back), and :meth:`end` once the transaction is over, committed or not. A batch
    that rolls back runs again job by job, each with the hook again.
    """

    def begin(self, jobs: list[Any]) -> None: ...

    def flush(self, connection: Connection) -> None: ...

    def end(self) -> None: ...


class CallableJob:
    """A job from a function of a connection, for management writes."""

    weight = 1

    def __init__(self, function: Callable[[Connection], Any]) -> None:
        self.function = function

    def apply(self, connection: Connection) -> Any:
        return self.function(connection)


@dataclass(frozen=True)
class WriterLimits:
    """The writer's bounds, by weight (a span weighs 1)."""

    max_queued: int = 100_000
    """What may wait in the queue; past it :meth:`BatchWriter.submit` refuses with :class:`WriterBusy`."""
    max_batch: int = 5_000
    """What one transaction takes from the queue."""


DEFAULT_LIMITS = WriterLimits()


class BatchWriter:
    """One thread that owns every write. Thread-safe; :meth:`submit` never blocks."""

    def __init__(
        self,
        engine: Engine,
        *,
        limits: WriterLimits = DEFAULT_LIMITS,
        periodic_interval: float = 1.0,
        periodic: Callable[[Engine], None] | None = None,
    ) -> None:
        self.engine = engine
        self.max_queued_weight = limits.max_queued
        self.max_batch_weight = limits.max_batch
        self.periodic_interval = periodic_interval
        self._periodic = periodic
        self._last_periodic = time.monotonic()
        self._queue: collections.deque[tuple[WriteJob, Future[Any]]] = collections.deque()
        self._queued_weight = 0
        self._condition = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.batches = 0
        """Transactions committed (for tests and benchmarks)."""

    @property
    def queued_weight(self) -> int:
        return self._queued_weight

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="aither-server-writer", daemon=True)
        self._thread.start()

    def submit(self, job: WriteJob) -> Future[Any]:
        """Queue a job; its future holds what ``apply`` returned. Raises :class:`WriterBusy`."""
        future: Future[Any] = Future()
        with self._condition:
            if self._stopping or self._thread is None:
                raise WriterBusy("the server is not accepting writes (it is stopping)")
            if self._queue and self._queued_weight + job.weight > self.max_queued_weight:
                raise WriterBusy(
                    f"the write queue is full ({self._queued_weight} spans waiting); retry shortly"
                )
            self._queue.append((job, future))
            self._queued_weight += job.weight
            self._condition.notify()
        return future

    def run(self, function: Callable[[Connection], T], timeout: float | None = 30.0) -> T:
        """Run ``function`` in the writer's transaction and wait for its result (management writes).

        Raises :class:`WriterBusy` when no result came within ``timeout`` (the job is withdrawn
        if it has not started; if it has, it commits or fails whole).
        """
        future = self.submit(CallableJob(function))
        try:
            result: T = future.result(timeout)
        except FutureTimeout:  # not the builtin TimeoutError before Python 3.11
            future.cancel()
            raise WriterBusy(f"the database did not answer within {timeout}s; retry shortly") from None
        return result

    def stop(self, timeout: float = 30.0) -> None:
        """Refuse new jobs, finish the queued ones, and end the thread."""
        with self._condition:
            self._stopping = True
            self._condition.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _take(self) -> list[tuple[WriteJob, Future[Any]]] | None:
        with self._condition:
            if not self._queue and not self._stopping:
                self._condition.wait(self.periodic_interval)
            if not self._queue:
                return None
            batch = [self._queue.popleft()]
            weight = batch[0][0].weight
            while self._queue and weight + self._queue[0][0].weight <= self.max_batch_weight:
                item = self._queue.popleft()
                weight += item[0].weight
                batch.append(item)
            self._queued_weight -= weight
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is not None:
                self._apply(batch)
            if batch is None or time.monotonic() - self._last_periodic >= self.periodic_interval:
                self._run_periodic()
            if batch is None:
                with self._condition:
                    if self._stopping and not self._queue:
                        return

    def _run_periodic(self) -> None:
        self._last_periodic = time.monotonic()
        if self._periodic is None:
            return
        try:
            self._periodic(self.engine)
        except Exception:
            logger.exception("aither server: a periodic write failed; it will be tried again")

    def _transaction(self, jobs: list[WriteJob]) -> list[Any]:
        """Apply ``jobs`` in one transaction (with their hooks); their results."""
        hooks: dict[int, tuple[BatchHook, list[WriteJob]]] = {}
        for job in jobs:
            hook = getattr(job, "hook", None)
            if hook is not None:
                hooks.setdefault(id(hook), (hook, []))[1].append(job)
        try:
            for hook, members in hooks.values():
                hook.begin(members)
            with self.engine.begin() as connection:
                results = [job.apply(connection) for job in jobs]
                for hook, _ in hooks.values():
                    hook.flush(connection)
        finally:
            for hook, _ in hooks.values():
                hook.end()
        self.batches += 1
        return results

    def _apply(self, batch: list[tuple[WriteJob, Future[Any]]]) -> None:
        live = [(job, future) for job, future in batch if future.set_running_or_notify_cancel()]
        try:
            results = self._transaction([job for job, _ in live])
        except Exception as error:
            # one job alone, or the database itself failing: retrying job by job would only
            # wait out the lock once per job
            if len(live) == 1 or _database_unavailable(error):
                failure = _failure()
                for _, future in live:
                    future.set_exception(failure)
                return
            for job, future in live:  # find the job that failed; the others still commit
                try:
                    (result,) = self._transaction([job])
                except Exception:
                    future.set_exception(_failure())
                else:
                    future.set_result(result)
            return
        for (_, future), result in zip(live, results, strict=True):
            future.set_result(result)


def _database_unavailable(error: BaseException) -> bool:
    """Whether a write failed on the database itself (locked by another process, connection
    lost) rather than on what one job wrote (which may be an OperationalError too)."""
    if not isinstance(error, OperationalError):
        return False
    return bool(error.connection_invalidated) or any(
        word in str(error.orig).lower() for word in ("locked", "lock timeout", "busy")
    )


def _failure() -> BaseException:
    import sys

    exc = sys.exc_info()[1]
    if exc is None:  # pragma: no cover - only called inside an except block
        return RuntimeError("write failed")
    if not isinstance(exc, WriterBusy):
        logger.error("aither server: a write failed: %r", exc)
    return exc
