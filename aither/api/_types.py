"""The SDK's own result type: :class:`Trace`.

Every other result of the management and query API has one definition for the SDK and the
server, in :mod:`aither.schema.results` (the server answers with them; :mod:`aither.api`
exports them). A trace is read here because its spans and operations stay plain mappings, as
stored, where the server's answer types them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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
