"""Summed rollup columns held by name: one merge and one read for every dataclass of sums."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class Sums:
    """A mixin of a dataclass whose fields named in :attr:`COUNTS` (ints) and :attr:`TOTALS`
    (floats) are the rollup columns of the same names, which add up, and whose ``histogram``
    adds up bucket by bucket. Not thread-safe: one owner merges into it."""

    COUNTS: ClassVar[tuple[str, ...]] = ()
    TOTALS: ClassVar[tuple[str, ...]] = ()
    histogram: list[int]

    def add_sums(self, other: Sums) -> None:
        """Add ``other``'s counts, totals and histogram to these (in place)."""
        for name in (*self.COUNTS, *self.TOTALS):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for index, count in enumerate(other.histogram):
            self.histogram[index] += count

    def set_sums(self, sums: Mapping[str, Any]) -> None:
        """The counts and totals from summed columns by name (None, the sum of no rows: 0)."""
        for name in self.COUNTS:
            setattr(self, name, int(sums[name] or 0))
        for name in self.TOTALS:
            setattr(self, name, float(sums[name] or 0))

    def sums(self) -> dict[str, Any]:
        """The counts and totals by column name."""
        return {name: getattr(self, name) for name in (*self.COUNTS, *self.TOTALS)}
