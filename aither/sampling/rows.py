"""Unbiased row samples for drift statistics: ``ml.features.stats_sample``.

``ml.features`` keeps a call's *first* rows, for display; a batch sorted by time, by score or
by customer makes those rows a biased picture of the call. This module draws up to
:data:`STATS_ROWS` row indices at random first, then takes only those rows of the input (and,
once the model has answered, of its output), so the work on the caller's thread is O(sample):
no sort, no copy of the whole input. Conversion to JSON waits for the export thread.

Supported inputs: 2-D numpy arrays, pandas and polars data frames, torch 2-D tensors, and
lists of rows (lists, tuples or dicts). Anything else gets no stats sample (drift then has
nothing to judge for that model; ``ml.features`` is unaffected).

Not every call is sampled: a :class:`StatsBudget` per model takes at most
:data:`STATS_CALLS_PER_WINDOW` calls per :data:`STATS_WINDOW_S` seconds, each call with the
same probability within a window, so a busy service pays for a bounded number of samples
(at most 100 rows each) whatever its call rate, and the rows over a window stay a random draw.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from ..schema import semconv
from .model import Sample

STATS_ROWS = 100
"""Rows drawn at random per call (all of them when the call has fewer)."""
STATS_COLUMNS = 100
"""Columns kept of each drawn row (drift on wider inputs, like images, is not meaningful)."""

STATS_WINDOW_S = 10.0
"""The budget's window: a model's stats samples are counted per this many seconds."""
STATS_CALLS_PER_WINDOW = 100
"""Calls of one model that get a stats sample per window, at most (so at most 10,000 rows per
window, 1,000 rows a second). A module constant for now; a client setting later."""

_RANDOM = random.Random(0x41697468)  # seeded: the same calls draw the same rows in a test run


class StatsBudget:
    """Which of one model's calls get a stats sample: a bounded number per window, at random.

    In a window of :data:`STATS_WINDOW_S` seconds each call is taken with one probability,
    ``p = min(1, STATS_CALLS_PER_WINDOW / 2 / calls offered in the previous window)``, and only
    while the window has taken fewer than :data:`STATS_CALLS_PER_WINDOW`. Aiming at half the
    cap leaves room for a rising call rate before the cap cuts the window's last calls, so at
    a steady rate every call of a window is equally likely to be sampled: the rows drift
    compares stay a random draw of the window's rows. The first window of a model (and one
    after a quiet spell) has no rate to go on and takes its first calls, up to the cap: a
    model called less than 100 times in 10 s has every call sampled.

    Threading: calls from several threads may race on the counts; that costs at most a few
    calls more or fewer in a window, never an error, so no lock is taken on the hot path.
    """

    __slots__ = ("_end", "_offered", "_p", "_start", "_taken")

    def __init__(self) -> None:
        self._start = 0.0
        self._end = 0.0  # no window yet
        self._offered = 0
        self._taken = 0
        self._p = 1.0

    def admit(self, now: float | None = None) -> bool:
        """Whether this call gets a stats sample (counts it as offered either way)."""
        if now is None:
            now = time.monotonic()
        if now >= self._end:
            self._roll(now)
        self._offered += 1
        if self._taken >= STATS_CALLS_PER_WINDOW:
            return False
        if self._p < 1.0 and _RANDOM.random() >= self._p:
            return False
        self._taken += 1
        return True

    def _roll(self, now: float) -> None:
        """Open a window at ``now``, its probability from the calls of the one that ended."""
        if self._end and self._offered:
            # Calls per window at the rate just seen; a quiet spell after the window lowers it.
            seconds = max(STATS_WINDOW_S, now - self._start)
            expected = self._offered * STATS_WINDOW_S / seconds
            self._p = min(1.0, STATS_CALLS_PER_WINDOW / 2 / expected)
        else:
            self._p = 1.0
        self._start = now
        self._end = now + STATS_WINDOW_S
        self._offered = 0
        self._taken = 0


class StatsBudgets:
    """A :class:`StatsBudget` per model name, for predictions logged without a wrapped model
    (``log_prediction``); the least recently used name goes past ``capacity``."""

    def __init__(self, capacity: int = 1024) -> None:
        self._capacity = capacity
        self._budgets: dict[str, StatsBudget] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> StatsBudget:
        """The budget of model ``name``, made at its first call."""
        with self._lock:
            budgets = self._budgets
            budget = budgets.pop(name, None)
            if budget is None:
                budget = StatsBudget()
                if len(budgets) >= self._capacity:
                    del budgets[next(iter(budgets))]
            budgets[name] = budget  # last: the most recently used
            return budget


def seed(value: int) -> None:
    """Reseed the row draw (tests and benchmarks that want a different, fixed draw)."""
    _RANDOM.seed(value)


def _pick(total: int, limit: int = STATS_ROWS) -> list[int]:
    if total <= limit:
        return list(range(total))
    return sorted(_RANDOM.sample(range(total), limit))


def _module(value: Any) -> str:
    return type(value).__module__.partition(".")[0]


class StatsInput:
    """The drawn rows of one call's input; :meth:`output` takes the same rows of its output."""

    __slots__ = ("approx_bytes", "columns", "data", "index", "of")

    def __init__(self, index: list[int], of: int, columns: list[str], data: Any) -> None:
        self.index = index
        self.of = of
        self.columns = columns
        self.data = data
        self.approx_bytes = 16 * len(index) * max(len(columns), 1) + 64

    def __aither_json__(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": _rows(self.data), "index": self.index, "of": self.of}

    def output(self, prediction: Any) -> StatsOutput | None:
        """The same rows of the model's output; None when it has no rows to take."""
        taken = _take_output(prediction, self.index, self.of)
        return StatsOutput(self.index, taken) if taken is not None else None


class StatsOutput:
    """The outputs of the drawn rows (``ml.prediction.stats_sample``)."""

    __slots__ = ("approx_bytes", "data", "index")

    def __init__(self, index: list[int], data: Any) -> None:
        self.index = index
        self.data = data
        self.approx_bytes = 24 * len(index) + 32

    def __aither_json__(self) -> dict[str, Any]:
        return {"values": _values(self.data), "index": self.index}


def take_input(
    features: Any,
    limit: int = STATS_ROWS,
    *,
    shown: tuple[Sample, int | None] | None = None,
    budget: StatsBudget | None = None,
) -> StatsInput | None:
    """Draw up to ``limit`` rows of ``features``; on the caller's thread, O(``limit``).

    ``shown`` is the call's ``ml.features`` sample and row count: when it already holds every
    row, nothing is drawn (the server reads the rows from ``ml.features``), so a small call
    pays nothing. With ``budget``, only the calls it admits are drawn from. Returns None for a
    type without rows to draw. Never converts the whole input.
    """
    if shown is not None and not shown[0].meta.get("truncated"):
        return None
    if budget is not None and not budget.admit():
        return None
    root = _module(features)
    if root == "numpy":
        if getattr(features, "ndim", 0) != 2 or features.dtype.names is not None:
            return None
        index = _pick(int(features.shape[0]), limit)
        width = min(int(features.shape[1]), STATS_COLUMNS)
        data = features[index, :width]
        return StatsInput(index, int(features.shape[0]), [f"f{i}" for i in range(width)], data)
    if root == "pandas" and hasattr(features, "iloc") and hasattr(features, "columns"):
        index = _pick(len(features), limit)
        # take() of the rows first: a quarter of what iloc[rows, columns] costs.
        part = features.take(index)
        if part.shape[1] > STATS_COLUMNS:
            part = part.iloc[:, :STATS_COLUMNS]
        return StatsInput(index, len(features), [str(c) for c in part.columns], part)
    if root == "polars" and hasattr(features, "columns") and hasattr(features, "rows"):
        index = _pick(features.height, limit)
        columns = list(features.columns[:STATS_COLUMNS])
        return StatsInput(index, features.height, columns, features[index].select(columns))
    if root == "torch" and "torch" in sys.modules and getattr(features, "ndim", 0) == 2:
        index = _pick(int(features.shape[0]), limit)
        width = min(int(features.shape[1]), STATS_COLUMNS)
        data = features.detach()[index, :width].cpu()
        return StatsInput(index, int(features.shape[0]), [f"f{i}" for i in range(width)], data)
    if isinstance(features, (list, tuple)) and features:
        first = features[0]
        if isinstance(first, Mapping):
            columns = [str(k) for k in list(first)[:STATS_COLUMNS]]
            index = _pick(len(features), limit)
            rows = [features[i] for i in index]
            return StatsInput(index, len(features), columns, [[_get(r, c) for c in columns] for r in rows])
        if isinstance(first, (list, tuple)):
            index = _pick(len(features), limit)
            width = min(len(first), STATS_COLUMNS)
            rows = [list(features[i][:width]) for i in index]
            return StatsInput(index, len(features), [f"f{i}" for i in range(width)], rows)
    return None


def _get(row: Any, column: str) -> Any:
    return row.get(column) if isinstance(row, Mapping) else None


def _take_output(prediction: Any, index: list[int], of: int) -> Any:
    root = _module(prediction)
    if root in ("numpy", "torch") and getattr(prediction, "ndim", 0) in (1, 2):
        if int(prediction.shape[0]) != of:
            return None
        part = prediction[index]
        return part.detach().cpu() if root == "torch" else part
    if root == "pandas" and hasattr(prediction, "iloc") and len(prediction) == of:
        return prediction.iloc[index]
    if root == "polars" and hasattr(prediction, "gather") and len(prediction) == of:
        return prediction.gather(index)
    if isinstance(prediction, (list, tuple)) and len(prediction) == of:
        return [prediction[i] for i in index]
    return None


def _rows(data: Any) -> Any:
    """The drawn rows as a list of rows, or a numeric 2-D array (the encoder writes it natively)."""
    root = _module(data)
    if root == "pandas":
        np = sys.modules["numpy"]
        kinds = data.dtypes.tolist()
        if kinds and all(isinstance(d, np.dtype) and d == kinds[0] and d.kind in "biuf" for d in kinds):
            return data.to_numpy()  # one numeric dtype: one array, written by orjson at once
        rows: list[Any] = data.to_numpy(dtype=object).tolist()
        return rows
    if root == "polars":
        return [list(row) for row in data.rows()]
    if hasattr(data, "tolist"):
        listed: list[Any] = data.tolist()
        return listed
    return list(data)


def _values(data: Any) -> list[Any]:
    if hasattr(data, "to_numpy"):
        data = data.to_numpy()
    if hasattr(data, "tolist"):
        values: list[Any] = data.tolist()
        return values
    return list(data)


def stats_items(stats: StatsInput | None, prediction: Any, has_prediction: bool) -> list[tuple[str, Any]]:
    """The deferred attributes of one call's stats sample (empty when there is none)."""
    if stats is None:
        return []
    items: list[tuple[str, Any]] = [(semconv.ML_FEATURES_STATS_SAMPLE, stats)]
    if has_prediction:
        output = stats.output(prediction)
        if output is not None:
            items.append((semconv.ML_PREDICTION_STATS_SAMPLE, output))
    return items
