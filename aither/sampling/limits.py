"""How much of each input and output a span keeps."""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import ConfigError


@dataclass(frozen=True)
class SampleLimits:
    """How much of each input and output a span keeps.

    Attributes:
        rows: rows of the input kept in ``ml.features`` (``sample_rows``).
        columns: columns (or dict keys, or inner items) kept per row (``sample_columns``).
        prediction_rows: rows of the output kept in ``ml.prediction``; past it ``truncated`` is true.
        max_string: characters kept of one string; longer ones end with ``...``.
        max_depth: nesting levels kept of dicts and lists; deeper ones become ``"..."``.
    """

    rows: int = 5
    columns: int = 10
    prediction_rows: int = 1_000
    max_string: int = 1_000
    max_depth: int = 4

    def __post_init__(self) -> None:
        for name in ("rows", "columns", "prediction_rows", "max_string", "max_depth"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be an int >= 0, got {value!r}")
