"""Faults of the values being sampled: a ``__repr__`` or ``__len__`` that raises, a ``MemoryError``.

The samplers and the encoder never raise: they keep a placeholder (``"<Thing object>"``, no
row count) and carry on. Each fault is also noted here, on the thread it happened on, and
the runtime that asked for the sample takes the count when the span's payload reaches it
(:meth:`aither._runtime.Runtime.defer` on the caller's thread, the exporter on the export
thread), so ``stats().internal_errors`` counts every fault exactly once.

Threading: per thread; costs nothing until a fault happens.
"""

from __future__ import annotations

import threading

_local = threading.local()


def note(exc: BaseException) -> None:
    """Record one fault met on this thread (the first one's exception is kept to report)."""
    count: int = getattr(_local, "count", 0)
    if not count:
        _local.first = exc
    _local.count = count + 1


def take() -> tuple[int, BaseException | None]:
    """The faults noted on this thread since the last call, and the first one's exception."""
    count: int = getattr(_local, "count", 0)
    if not count:
        return 0, None
    first: BaseException | None = _local.first
    _local.count = 0
    _local.first = None
    return count, first
