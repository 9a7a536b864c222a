"""References: what a model version's inputs and outputs looked like when all was well.

A reference is compact: per column a summary (quantile bin edges and counts, mean and spread
for numbers; counts per category for categories) and a bounded random sample of rows for the
tests that need values (Kolmogorov-Smirnov, Wasserstein, the outlier models). It is built
from the first sampled rows of a model version, from a data set the user sends
(``aither.set_reference``), or from a time window of stored samples; never the raw data set.

Columns are columnar lists (a :data:`Table`): the inputs by feature name, the outputs as
``prediction`` (the class or value) and, for probabilities, ``confidence`` (the top one).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from ...schema import semconv as sc
from .statistics import bin_counts, quantile_edges

Table = dict[str, list[Any]]
Kind = Literal["numeric", "categorical"]
PREDICTION = "prediction"
CONFIDENCE = "confidence"
_NON_FINITE = frozenset({"NaN", "Infinity", "-Infinity"})
MAX_CATEGORIES = 200
"""Categories kept per column; the rest count together as ``(other)``."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_cell(value: Any) -> bool:
    """A value a drift column holds: a string, number or boolean. A list or mapping in a cell
    (a column of arrays, a malformed request) is left out, as a missing value is, and so are the
    SDK encoder's strings for NaN and infinities."""
    return isinstance(value, (str, int, float)) and value not in _NON_FINITE


def input_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    """Rows of feature values as columns (a short row leaves the missing cells out)."""
    table: Table = {str(name): [] for name in columns}
    names = list(table)
    for row in rows:
        for name, value in zip(names, row, strict=False):
            if _is_cell(value):
                table[name].append(value)
    return table


def output_table(values: Sequence[Any]) -> Table:
    """A model's per-row outputs as ``prediction`` and, for probability rows, ``confidence``."""
    table: Table = {PREDICTION: [], CONFIDENCE: []}
    for value in values:
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, list):
            numbers = [v for v in value if _is_number(v)]
            if len(numbers) != len(value) or not numbers:
                continue
            best = max(range(len(numbers)), key=numbers.__getitem__)
            table[PREDICTION].append(str(best))
            table[CONFIDENCE].append(float(numbers[best]))
        elif _is_cell(value):
            table[PREDICTION].append(value)
    if not table[CONFIDENCE]:
        del table[CONFIDENCE]
    return table


def column_kind(values: Sequence[Any], *, integers_are_classes: bool = False) -> Kind:
    """``numeric`` when every value is a number (integers too, unless they are classes)."""
    if values and all(_is_number(v) for v in values):
        if integers_are_classes and all(isinstance(v, int) for v in values):
            return "categorical"
        return "numeric"
    return "categorical"


def numbers(values: Sequence[Any]) -> Any:
    """The finite numbers among ``values`` as floats."""
    array = np.array([float(v) for v in values if _is_number(v)], dtype=np.float64)
    finite: Any = array[np.isfinite(array)]
    return finite


def categories(values: Sequence[Any]) -> list[str]:
    return [str(v) for v in values]


@dataclass
class ColumnSummary:
    """One column of a reference."""

    kind: Kind
    rows: int
    edges: list[float] = field(default_factory=list)
    counts: list[float] = field(default_factory=list)
    mean: float | None = None
    std: float | None = None
    category_counts: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, values: Sequence[Any], kind: Kind, bins: int) -> ColumnSummary:
        if kind == "numeric":
            array = numbers(values)
            edges = quantile_edges(array, bins)
            return cls(
                kind,
                int(array.size),
                edges=[float(e) for e in edges],
                counts=[float(c) for c in bin_counts(array, edges)],
                mean=float(array.mean()) if array.size else None,
                std=float(array.std()) if array.size else None,
            )
        counted: dict[str, float] = {}
        for value in categories(values):
            counted[value] = counted.get(value, 0.0) + 1.0
        if len(counted) > MAX_CATEGORIES:
            top = sorted(counted, key=counted.__getitem__, reverse=True)[:MAX_CATEGORIES]
            other = sum(count for key, count in counted.items() if key not in set(top))
            counted = {key: counted[key] for key in top} | {"(other)": other}
        return cls(kind, len(values), category_counts=counted)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ColumnSummary:
        return cls(
            data["kind"],
            int(data["rows"]),
            edges=list(data.get("edges") or []),
            counts=list(data.get("counts") or []),
            mean=data.get("mean"),
            std=data.get("std"),
            category_counts=dict(data.get("category_counts") or {}),
        )


@dataclass
class Reference:
    """A model version's reference: summaries per column and a bounded sample of rows."""

    source: str
    rows: int
    inputs: dict[str, ColumnSummary]
    outputs: dict[str, ColumnSummary]
    sample_inputs: Table
    sample_outputs: Table
    start_ns: int | None = None
    end_ns: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Every field by name; the column summaries too (``asdict`` goes down into them)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reference:
        return cls(
            data["source"],
            int(data["rows"]),
            {k: ColumnSummary.from_json(v) for k, v in data["inputs"].items()},
            {k: ColumnSummary.from_json(v) for k, v in data["outputs"].items()},
            {k: list(v) for k, v in data["sample_inputs"].items()},
            {k: list(v) for k, v in data["sample_outputs"].items()},
            data.get("start_ns"),
            data.get("end_ns"),
        )


def _subsample(table: Table, keep: list[int] | None) -> Table:
    if keep is None:
        return {k: list(v) for k, v in table.items()}
    return {k: [v[i] for i in keep if i < len(v)] for k, v in table.items()}


def build(
    inputs: Table,
    outputs: Table,
    *,
    source: str,
    bins: int,
    reservoir_rows: int,
    seed: int = 0,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> Reference:
    """A reference of these columns: summaries of every value, a sample of at most
    ``reservoir_rows`` rows."""
    rows = max([len(v) for v in inputs.values()] + [len(v) for v in outputs.values()] + [0])
    keep = sorted(random.Random(seed).sample(range(rows), reservoir_rows)) if rows > reservoir_rows else None
    summaries_in = {
        name: ColumnSummary.of(values, column_kind(values), bins) for name, values in inputs.items() if values
    }
    summaries_out = {
        name: ColumnSummary.of(values, column_kind(values, integers_are_classes=name == PREDICTION), bins)
        for name, values in outputs.items()
        if values
    }
    return Reference(
        source,
        rows,
        summaries_in,
        summaries_out,
        _subsample(inputs, keep),
        _subsample(outputs, keep),
        start_ns,
        end_ns,
    )


def is_finite_number(value: Any) -> bool:
    return _is_number(value) and math.isfinite(float(value))


def sample_tables(attributes_json: str) -> tuple[Table, Table] | None:
    """The input and output tables of one span's stats samples; None when unreadable."""
    try:
        attributes = json.loads(attributes_json)
        features = json.loads(attributes[sc.ML_FEATURES_STATS_SAMPLE])
        inputs = input_table(features["columns"], features["rows"])
        raw = attributes.get(sc.ML_PREDICTION_STATS_SAMPLE)
        outputs = output_table(json.loads(raw)["values"]) if raw else {}
    except (ValueError, KeyError, TypeError):
        return None
    return inputs, outputs
