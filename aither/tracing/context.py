"""Context-local trace ids: per thread and per asyncio task, never per process (principle 4)."""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Mapping
from types import MappingProxyType

_LAST: contextvars.ContextVar[int | None] = contextvars.ContextVar("aither_last_trace_id", default=None)
_EMPTY: Mapping[int, int] = MappingProxyType({})
# Per-proxy last trace ids, as an immutable mapping replaced on each change, so a child task
# that inherits the context never writes into its parent's values.
_BY_OWNER: contextvars.ContextVar[Mapping[int, int]] = contextvars.ContextVar(
    "aither_last_by_owner", default=_EMPTY
)
_MAX_OWNERS = 64

_owner_ids = itertools.count(1)


def new_owner_id() -> int:
    """A process-unique id for an object that keeps its own ``last_trace_id`` (a proxy)."""
    return next(_owner_ids)


def format_trace_id(trace_id: int) -> str:
    return f"{trace_id:032x}"


def set_last(trace_id: int, owner: int | None = None) -> None:
    _LAST.set(trace_id)
    if owner is not None:
        current = _BY_OWNER.get()
        if current.get(owner) != trace_id:
            updated = dict(current)
            updated[owner] = trace_id
            if len(updated) > _MAX_OWNERS:
                del updated[next(iter(updated))]
            _BY_OWNER.set(updated)


def last_trace_id(owner: int | None = None) -> str | None:
    """The trace id of the last span aither made in this thread or task (of ``owner`` if given)."""
    value = _LAST.get() if owner is None else _BY_OWNER.get().get(owner)
    return None if value is None else format_trace_id(value)
