"""The time window every read takes: a half-open range of nanoseconds, either end open."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa


@dataclass(frozen=True, slots=True)
class Window:
    """A time window in ns; either end may be open."""

    since_ns: int | None = None
    until_ns: int | None = None

    def clauses(self, column: sa.ColumnElement[int]) -> list[sa.ColumnElement[bool]]:
        out = []
        if self.since_ns is not None:
            out.append(column >= self.since_ns)
        if self.until_ns is not None:
            out.append(column < self.until_ns)
        return out
