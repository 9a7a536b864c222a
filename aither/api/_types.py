"""The typed, frozen results of the management and query API.

One definition serves the SDK and the server: the result types live in
:mod:`aither.schema.results` (the server answers with them) and are re-exported here. Only
:class:`Trace` is the SDK's own: its spans and operations stay plain mappings, as stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..schema.results import *  # noqa: F403 - this module re-exports the shared shapes
from ..schema.results import Label, LlmCall, Prediction


@dataclass(frozen=True)
class Trace:
    """A trace: its spans (as the server stores them) and the rows made of them.

    The server's answer is ``aither.server.routes.schemas.Trace``, whose spans and operations
    are typed models; here they stay mappings (``trace.spans[0]["name"]``).
    """

    trace_id: str
    spans: tuple[Mapping[str, Any], ...]
    predictions: tuple[Prediction, ...]
    labels: tuple[Label, ...]
    llm_calls: tuple[LlmCall, ...]
    operations: tuple[Mapping[str, Any], ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Trace:
        return cls(
            trace_id=data["trace_id"],
            spans=tuple(data["spans"]),
            predictions=tuple(Prediction.from_json(p) for p in data["predictions"]),
            labels=tuple(Label.from_json(label) for label in data["labels"]),
            llm_calls=tuple(LlmCall.from_json(call) for call in data["llm_calls"]),
            operations=tuple(data["operations"]),
        )
