"""What the query API's reads filter by, written once.

A route builds one of these objects from its query parameters and hands it, with a
:class:`Paging`, to the relational read (:mod:`.queries`, :mod:`.metrics`) or to the telemetry
store's read of the same name (:class:`aither.server.telemetry.TelemetryStore`); both read the
same fields, so a new filter is one field here and one condition in each backend. ``None``
means "any" throughout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...schema.vocabulary import RiskLevel
from .window import Window


@dataclass(frozen=True, slots=True)
class Paging:
    """A page of a list read newest first: at most ``limit`` rows, after ``cursor`` (the
    ``next_cursor`` of the previous page; None for the first)."""

    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class ModelScope:
    """Which predictions a read covers: of a model, version and environment, in a window.

    For the metrics of one model, ``model`` names it.
    """

    model: str | None = None
    version: str | None = None
    environment: str | None = None
    window: Window = field(default_factory=Window)

    def clauses(self, model: Any, version: Any, environment: Any, time: Any = None) -> list[Any]:
        """SQL conditions on a table's columns: each part given equal, ``time`` in the window."""
        wanted = ((model, self.model), (version, self.version), (environment, self.environment))
        out = [column == value for column, value in wanted if value is not None]
        return out if time is None else [*out, *self.window.clauses(time)]


@dataclass(frozen=True, slots=True)
class PredictionFilter(ModelScope):
    """The predictions list's filter: a :class:`ModelScope`, and whether the prediction has a
    label and whether the call raised."""

    labelled: bool | None = None
    error: bool | None = None


@dataclass(frozen=True, slots=True)
class LabelFilter:
    """The labels list's filter: join status, the model a label names, one trace's labels."""

    status: str | None = None
    model: str | None = None
    trace_id: str | None = None


@dataclass(frozen=True, slots=True)
class LlmCallFilter:
    """The LLM calls list's filter.

    ``model`` matches the request or the response model; ``pii`` and ``injection``: flagged
    (True) or not (False, calls never scanned included); ``user_id``, ``session_id`` and
    ``service``: the call's ``enduser.id``, ``session.id`` and ``service.name``;
    ``min_risk``: that risk level and above; ``trace_id``: one trace's calls.
    """

    model: str | None = None
    provider: str | None = None
    pii: bool | None = None
    injection: bool | None = None
    error: bool | None = None
    user_id: str | None = None
    session_id: str | None = None
    service: str | None = None
    window: Window = field(default_factory=Window)
    min_risk: RiskLevel | None = None
    trace_id: str | None = None

    def equal_columns(self) -> dict[str, str]:
        """The columns that must equal a given value, by column name (``provider`` and the
        call's user, session and service)."""
        wanted = {
            "provider": self.provider,
            "user_id": self.user_id,
            "session_id": self.session_id,
            "service": self.service,
        }
        return {column: value for column, value in wanted.items() if value is not None}

    def flags(self) -> dict[str, bool]:
        """The scan flags asked for, by column name: True for flagged, False for not."""
        wanted = {"pii_detected": self.pii, "injection_detected": self.injection}
        return {column: value for column, value in wanted.items() if value is not None}

    def risk_levels(self) -> list[str] | None:
        """The ``risk_level`` values that ``min_risk`` keeps (None: every call)."""
        if self.min_risk is None:
            return None
        return [level.value for level in RiskLevel if level >= self.min_risk]
