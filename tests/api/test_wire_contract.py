"""The SDK's result types and the server's response schemas are one contract, written twice.

The server declares each JSON shape of ``/api/v1`` as a pydantic model (so the OpenAPI document
describes every field); the SDK, which has no pydantic, reads the same JSON into frozen
dataclasses. The two stay separate classes, each typed for its side, and this test holds them
to each other: a field added, renamed or dropped on one side only, or one the server may send
as null that the SDK types as never None, fails here and not in a user's program. The rows the
ingest decoder stores for LLM calls and operations are held to their API shapes the same way.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Union

import pytest
from pydantic import BaseModel

import aither.api as sdk
from aither.server.ingest import records
from aither.server.routes import detection as server_detection
from aither.server.routes import schemas as server

PAIRS: list[tuple[type, type[BaseModel]]] = [
    (sdk.Organization, server.Organization),
    (sdk.Usage, server.Usage),
    (sdk.User, server.User),
    (sdk.APIKey, server.ApiKey),
    (sdk.CreatedAPIKey, server.ApiKeyCreated),
    (sdk.Model, server.Model),
    (sdk.Prediction, server.Prediction),
    (sdk.Label, server.Label),
    (sdk.LlmCall, server.LlmCall),
    (sdk.LlmCallTotal, server.LlmCallTotal),
    (sdk.Trace, server.Trace),
    (sdk.Latency, server.Latency),
    (sdk.LabelDelay, server.LabelDelay),
    (sdk.ClassificationScores, server.ClassificationScores),
    (sdk.RegressionScores, server.RegressionScores),
    (sdk.LabelCounts, server.LabelCounts),
    (sdk.VersionMetrics, server.VersionMetrics),
    (sdk.ModelMetrics, server.ModelMetrics),
    (sdk.Anomaly, server_detection.Anomaly),
    (sdk.LlmSummary, server_detection.LlmSummary),
    (sdk.ModelSummary, server_detection.ModelSummary),
    (sdk.Summary, server_detection.Stats),
    (sdk.PruneResult, server_detection.PruneOut),
]


def _nullable(annotation: Any) -> bool:
    """Whether a value of this type may be None (``Any`` may)."""
    if annotation is Any or annotation is None or annotation is type(None):
        return True
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return any(_nullable(arg) for arg in typing.get_args(annotation))
    return False


@pytest.mark.parametrize(("sdk_type", "schema"), PAIRS, ids=lambda item: item.__name__)
def test_the_sdk_type_reads_every_field_the_server_sends(sdk_type: type, schema: type[BaseModel]) -> None:
    sdk_fields = {item.name for item in dataclasses.fields(sdk_type)}
    assert sdk_fields == set(schema.model_fields)
    hints = typing.get_type_hints(sdk_type)
    for name, info in schema.model_fields.items():
        if _nullable(info.annotation):
            assert _nullable(hints[name]), f"{sdk_type.__name__}.{name}: the server may send null"


def test_every_sdk_result_type_has_its_server_schema() -> None:
    """A new result type joins :data:`PAIRS` (the clients and resources are not results)."""
    results = {
        value
        for value in vars(sdk).values()
        if isinstance(value, type) and dataclasses.is_dataclass(value) and value is not sdk.Page
    }
    assert results == {sdk_type for sdk_type, _ in PAIRS}


@pytest.mark.parametrize(
    ("record", "schema"),
    [(records.LlmCallRecord, server.LlmCall), (records.OperationRecord, server.Operation)],
    ids=lambda item: item.__name__,
)
def test_the_stored_row_is_the_api_shape(record: type, schema: type[BaseModel]) -> None:
    """What the API answers is the stored row, its time and error flag read out (``time_ns`` →
    ``time``, ``is_error`` → ``status``), field for field, in order."""
    renamed = {"time_ns": "time", "is_error": "status"}
    stored = [renamed.get(item.name, item.name) for item in dataclasses.fields(record)]
    assert stored == list(schema.model_fields)
