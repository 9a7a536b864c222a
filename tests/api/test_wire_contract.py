"""The SDK and the server answer and read ``/api/v1`` with one set of classes.

The result shapes are the frozen dataclasses of :mod:`aither.schema.results` and
:mod:`aither.schema.detection_results`: the server's routes declare them as their
``response_model`` and the SDK reads the same JSON into them. These tests hold that in place
(a route answering with a class of its own again, or an SDK type that is not the shared one,
fails here) and check what is still two-sided: the SDK's :class:`aither.api.Trace` (its spans
and operations plain mappings) against the server's typed trace, and the rows the ingest
decoder stores for LLM calls and operations against their API shapes.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Union

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

import aither.api as sdk
from aither.schema import detection_results, results
from aither.server.ingest import records
from aither.server.routes import alerts, detection, management, query
from aither.server.routes import schemas as server

SHARED = {
    value
    for module in (results, detection_results)
    for value in vars(module).values()
    if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__
}

ROUTES: dict[tuple[str, str], Any] = {
    ("GET", "/api/v1/org"): results.Organization,
    ("GET", "/api/v1/org/usage"): results.Usage,
    ("GET", "/api/v1/users/me"): results.User,
    ("GET", "/api/v1/users"): list[results.User],
    ("POST", "/api/v1/users"): results.User,
    ("GET", "/api/v1/api-keys"): list[results.APIKey],
    ("POST", "/api/v1/api-keys"): results.CreatedAPIKey,
    ("DELETE", "/api/v1/api-keys/{key_id}"): results.APIKey,
    ("GET", "/api/v1/models"): list[results.Model],
    ("GET", "/api/v1/models/{model}/metrics"): results.ModelMetrics,
    ("GET", "/api/v1/predictions"): results.Page[results.Prediction],
    ("GET", "/api/v1/labels"): results.Page[results.Label],
    ("GET", "/api/v1/llm-calls"): results.Page[results.LlmCall],
    ("GET", "/api/v1/llm-calls/totals"): server.LlmCallTotals,
    ("GET", "/api/v1/traces/{trace_id}"): server.Trace,
    ("GET", "/api/v1/anomalies"): list[detection_results.Anomaly],
    ("GET", "/api/v1/anomalies/{anomaly_id}"): detection_results.Anomaly,
    ("POST", "/api/v1/anomalies/{anomaly_id}/acknowledge"): detection_results.Anomaly,
    ("POST", "/api/v1/anomalies/{anomaly_id}/resolve"): detection_results.Anomaly,
    ("GET", "/api/v1/stats"): detection_results.Summary,
    ("POST", "/api/v1/prune"): detection_results.PruneResult,
    ("GET", "/api/v1/rules"): detection.RulesOut,
    ("PUT", "/api/v1/rules"): detection.RulesOut,
}
"""What each route of ``/api/v1`` answers with (alerts and the dashboard have no SDK type)."""


def _routes() -> dict[tuple[str, str], Any]:
    found = {}
    for router in (management.router, query.router, detection.router):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in route.methods:
                found[(method, route.path)] = route.response_model
    return found


def test_each_route_answers_with_the_shared_class() -> None:
    assert _routes() == ROUTES


def test_every_sdk_result_type_is_the_shared_one() -> None:
    """Each dataclass ``aither.api`` exports is the shared class, except its own :class:`Trace`."""
    exported = {
        value
        for value in vars(sdk).values()
        if isinstance(value, type) and dataclasses.is_dataclass(value) and value is not sdk.Trace
    }
    assert exported == SHARED


@pytest.mark.parametrize("shape", sorted(SHARED, key=lambda cls: cls.__name__), ids=lambda cls: cls.__name__)
def test_the_shared_shapes_are_frozen_documented_dataclasses(shape: type) -> None:
    assert not issubclass(shape, BaseModel)
    assert shape.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert shape.__pydantic_config__ == {"use_attribute_docstrings": True}  # type: ignore[attr-defined]
    for name, hint in typing.get_type_hints(shape).items():
        assert typing.get_origin(hint) not in (list, dict), f"{shape.__name__}.{name}: use tuple or Mapping"


def _nullable(annotation: Any) -> bool:
    """Whether a value of this type may be None (``Any`` may)."""
    if annotation is Any or annotation is None or annotation is type(None):
        return True
    if typing.get_origin(annotation) in (Union, types.UnionType):
        return any(_nullable(arg) for arg in typing.get_args(annotation))
    return False


def test_the_sdk_trace_reads_every_field_of_the_servers() -> None:
    """The trace stays two-sided: the server types its spans and operations, the SDK keeps
    them as mappings; its rows (predictions, labels, LLM calls) are the shared classes."""
    hints = typing.get_type_hints(sdk.Trace)
    assert list(hints) == list(server.Trace.model_fields)
    for name, info in server.Trace.model_fields.items():
        if _nullable(info.annotation):
            assert _nullable(hints[name]), f"Trace.{name}: the server may send null"
    for name, row in (("predictions", sdk.Prediction), ("labels", sdk.Label), ("llm_calls", sdk.LlmCall)):
        assert hints[name] == tuple[row, ...]
        assert server.Trace.model_fields[name].annotation == list[row]


def _names(shape: type) -> list[str]:
    if dataclasses.is_dataclass(shape):
        return [item.name for item in dataclasses.fields(shape)]
    assert issubclass(shape, BaseModel)
    return list(shape.model_fields)


@pytest.mark.parametrize(
    ("record", "shape"),
    [(records.LlmCallRecord, results.LlmCall), (records.OperationRecord, server.Operation)],
    ids=lambda item: item.__name__,
)
def test_the_stored_row_is_the_api_shape(record: type, shape: type) -> None:
    """What the API answers is the stored row, its time and error flag read out (``time_ns`` →
    ``time``, ``is_error`` → ``status``), field for field, in order."""
    renamed = {"time_ns": "time", "is_error": "status"}
    stored = [renamed.get(item.name, item.name) for item in dataclasses.fields(record)]
    assert stored == _names(shape)


def test_alerts_pages_use_the_shared_page() -> None:
    pages = [
        route
        for route in alerts.router.routes
        if isinstance(route, APIRoute) and route.path.endswith("deliveries")
    ]
    assert [typing.get_origin(route.response_model) for route in pages] == [results.Page]
