"""``async with`` for aither's blocks whose ``with`` never blocks: one mixin, not a copy per class."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol, TypeVar

_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)


class _With(Protocol[_T_co]):
    def __enter__(self) -> _T_co: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any: ...


class AsyncWithFromSync:
    """Adds ``async with`` to a class whose ``__enter__`` and ``__exit__`` do no I/O (they set
    a context variable, start or end a span): ``async with`` runs them as they are, and yields
    what ``with`` yields."""

    __slots__ = ()

    async def __aenter__(self: _With[_T]) -> _T:
        return self.__enter__()

    async def __aexit__(
        self: _With[Any],
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
