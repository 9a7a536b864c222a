"""The error statuses each kind of route can answer, for the OpenAPI document.

One table per kind of route, shared by every route of that kind, so the document lists every
status the server can send (schema fuzzing checks it does). Bodies are FastAPI's
``{"detail": "..."}``, or, for OTLP ingest, a ``google.rpc.Status`` in the request's encoding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, status
from fastapi.types import DecoratedCallable
from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]


class ErrorDetail(BaseModel):
    """An error: what went wrong, for a person to read."""

    detail: str


class RpcStatus(BaseModel):
    """OTLP's error body (``google.rpc.Status``), as JSON; protobuf when the request was protobuf."""

    code: int
    message: str


_RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "string"}}
}
_WWW_AUTHENTICATE = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"model": ErrorDetail, "description": description}
    if headers:
        entry["headers"] = headers
    return entry


AUTHENTICATED: Responses = {
    401: _error("no API key, or an unknown or revoked one", _WWW_AUTHENTICATE),
    403: _error("the API key lacks the scope this route needs"),
    429: _error("too many failed sign-ins from this address", _RETRY_AFTER),
    503: _error("the database is busy or unavailable; retry", _RETRY_AFTER),
}
"""Every ``/api/v1`` route: the key is checked, and the database may be busy."""

QUERY: Responses = {**AUTHENTICATED, 400: _error("a parameter the route can't use (a bad cursor or window)")}
"""The query routes."""

NOT_FOUND: Responses = {404: _error("no such thing in the key's organisation")}
WITH_BODY: Responses = {400: _error("the body could not be read as JSON")}
"""Routes that take a JSON body (one that is not JSON at all is 400; a wrong shape is 422)."""
CONFLICT: Responses = {409: _error("conflicts with a stored record (an e-mail that is taken)")}


def creates(
    router: APIRouter, path: str, model: Any, summary: str, responses: Responses
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """A route that stores a new record: ``POST path``, answering 201 with ``model``."""
    return router.post(
        path, response_model=model, status_code=status.HTTP_201_CREATED, summary=summary, responses=responses
    )


def _otlp_error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "description": description,
        "content": {
            "application/json": {"schema": RpcStatus.model_json_schema()},
            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
        },
    }
    if headers:
        entry["headers"] = headers
    return entry


OTLP_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "description": "ExportTraceServiceRequest, protobuf or OTLP/JSON, optionally gzip-encoded",
    "content": {
        "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": {"type": "object"}},
    },
}
"""The body of ``POST /v1/traces`` (read by hand, so the route has no pydantic model for it)."""

OTLP: Responses = {
    200: {
        "description": "ExportTraceServiceResponse, in the request's encoding",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    400: _otlp_error("the body is not an OTLP ExportTraceServiceRequest"),
    401: _otlp_error("no API key, or an unknown or revoked one", _WWW_AUTHENTICATE),
    403: _otlp_error("the API key lacks the write scope"),
    413: _otlp_error("the body is larger than the limit, before or after gzip"),
    415: _otlp_error("a content type or encoding the server does not read"),
    429: _otlp_error("too many failed sign-ins from this address", _RETRY_AFTER),
    503: _otlp_error("the write queue is full or the database busy; retry", _RETRY_AFTER),
}
"""``POST /v1/traces``."""
