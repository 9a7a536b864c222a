"""``POST /v1/traces``: OTLP/HTTP ingest, protobuf or JSON, gzip or plain.

The request is authenticated first (401 without a valid key, 403 without ``write``), its body
read up to the size limit (413), inflated up to the same limit (413), decoded (400 when it is
not OTLP), and handed to the writer; the response waits for the commit, so an exporter that
got 200 knows its spans are stored. A full write queue answers 503 with ``Retry-After``,
which OTLP exporters retry.

The wait for the commit is bounded by ``ingest_timeout`` (5 s, below the 10 s an exporter
waits): a database locked by another process answers 503 with ``Retry-After`` instead of
leaving the exporter without an answer. The job is withdrawn if the writer has not started
it; if it has, it commits (or fails) whole later, and the exporter's retry is stored once,
because replays are deduplicated by span id.
"""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from ..auth import SCOPE_WRITE, AuthError, require_scope
from ..ingest.decode import decode_export_request
from ..ingest.otlp import (
    Encoding,
    OtlpRequestError,
    body_encoding,
    decompress,
    encode_response,
    encode_status,
    parse_request,
    response_encoding,
)
from ..ingest.records import DecodedBatch
from ..storage import Storage, WriterBusy
from .deps import authenticate_request, get_settings, get_storage
from .responses import OTLP, OTLP_REQUEST_BODY

logger = logging.getLogger("aither.server")
router = APIRouter()


async def _read_body(request: Request, limit: int) -> bytearray:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise OtlpRequestError(413, f"request body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise OtlpRequestError(413, f"request body is larger than {limit} bytes")
    return body  # no bytes() copy: zlib, json and protobuf all read a bytearray


def _decode(payload: bytes | bytearray, encoding: Encoding) -> DecodedBatch:
    try:
        return decode_export_request(parse_request(payload, encoding))
    except RecursionError:  # parse_request bounds nesting; this is the last line of defence
        raise OtlpRequestError(400, "request body is nested too deeply") from None


def _error(status: int, message: str, encoding: Encoding, headers: dict[str, str] | None = None) -> Response:
    return Response(
        encode_status(status, message, encoding),
        status_code=status,
        media_type=encoding.value,
        headers=headers,
    )


@router.post(
    "/v1/traces",
    summary="OTLP/HTTP trace export",
    description="Accepts an OTLP ExportTraceServiceRequest as application/x-protobuf or "
    "application/json, optionally gzip-encoded. Needs a key with the write scope.",
    responses=OTLP,
    openapi_extra={"requestBody": OTLP_REQUEST_BODY},
    tags=["ingest"],
)
async def export_traces(request: Request) -> Response:
    storage: Storage = get_storage(request)
    settings = get_settings(request)
    content_type = request.headers.get("content-type")
    encoding = response_encoding(content_type)
    try:
        principal = await run_in_threadpool(authenticate_request, request)
        require_scope(principal, SCOPE_WRITE)
    except AuthError as error:
        return _error(error.status, error.message, encoding, error.headers)
    try:
        body_encoding(content_type)
        body = await _read_body(request, settings.max_body_bytes)
        payload = decompress(body, request.headers.get("content-encoding"), settings.max_body_bytes)
        batch = await run_in_threadpool(_decode, payload, encoding)
        future = storage.writer.submit(storage.ingest_job(principal.org_id, batch, time.time_ns()))
        # wait_for cancels the wrapper on timeout, which cancels the job if it is still queued
        result = await asyncio.wait_for(asyncio.wrap_future(future), settings.ingest_timeout)
    except OtlpRequestError as error:
        return _error(error.status, error.message, encoding)
    except WriterBusy as error:
        return _error(503, str(error), encoding, {"Retry-After": "1"})
    except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
        logger.warning(
            "aither server: spans not committed within %ss (is another process holding the "
            "database's write lock?); answered 503",
            settings.ingest_timeout,
        )
        return _error(
            503, "the database is busy (locked or slow); retry shortly", encoding, {"Retry-After": "2"}
        )
    except OperationalError as error:
        logger.error("aither server: could not store spans: %s", error)
        return _error(503, "the database is unavailable; retry shortly", encoding, {"Retry-After": "5"})
    except Exception as error:
        logger.exception("aither server: could not store spans")
        return _error(500, f"could not store the spans: {type(error).__name__}", encoding)
    message = "; ".join(batch.warnings)
    if batch.rejected:
        message = f"{batch.rejected} spans had no valid trace id, span id or time" + (
            f"; {message}" if message else ""
        )
    logger.debug("stored %d spans (%d replayed)", result.spans, result.duplicates)
    return Response(encode_response(batch.rejected, message, encoding), media_type=encoding.value)
