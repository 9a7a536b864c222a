"""A database another process holds locked: exports get 503 in time, readers keep answering,
and what the exporter sends again is stored exactly once."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aither.server import EmbeddedServer, ServerSettings, Storage
from aither.server.storage import WriterBusy

from . import server_fixtures as fx
from .server_fixtures import PROTOBUF, Spans, body, span_count

client, storage = fx.client, fx.storage
BOUND = 0.5


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    return fx.make_settings(tmp_path, ingest_timeout=BOUND)


@pytest.fixture
def write_lock(settings: ServerSettings) -> Iterator[sqlite3.Connection]:
    """Another connection holding SQLite's write lock (``BEGIN IMMEDIATE``) until released."""
    with closing(sqlite3.connect(fx.database_path(settings), timeout=0, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")
        yield holder
        if holder.in_transaction:
            holder.execute("ROLLBACK")


async def test_exports_get_503_in_time_and_replays_are_stored_once(
    client: httpx.AsyncClient, settings: ServerSettings, write_lock: sqlite3.Connection
) -> None:
    spans = Spans()
    payloads = [body(spans.span(f"s{i}", {}), spans.span(f"t{i}", {})) for i in range(6)]

    async def export(payload: bytes) -> httpx.Response:
        return await client.post("/v1/traces", content=payload, headers=PROTOBUF)

    # every export answers, well inside an exporter's 10 s timeout (the deadline only bounds a hang)
    answers = await asyncio.wait_for(asyncio.gather(*(export(p) for p in payloads)), 8)
    assert [a.status_code for a in answers] == [503] * len(payloads)
    assert all(int(a.headers["retry-after"]) > 0 for a in answers)

    reads = await asyncio.wait_for(
        asyncio.gather(client.get("/api/v1/predictions"), client.get("/api/v1/org/usage")), 8
    )
    assert [r.status_code for r in reads] == [200, 200]  # readers are not blocked by the lock

    write_lock.execute("ROLLBACK")

    # the exporter retries each 503 until it is stored; a job the writer had started may have
    # committed meanwhile. Right after the lock goes, the writer still has the refused
    # exports' jobs queued, so on a loaded machine a replay may itself be answered 503 once:
    # what must hold is that every replay is stored in the end, and each span only once.
    async def replay(payload: bytes) -> int:
        answer = await export(payload)
        while answer.status_code == 503:
            answer = await export(payload)
        return answer.status_code

    async def replay_all() -> list[int]:
        return [await replay(p) for p in payloads]

    assert await asyncio.wait_for(replay_all(), 60) == [200] * len(payloads)
    assert span_count(settings) == 2 * len(payloads)
    again = await export(payloads[0])
    assert again.status_code == 200
    assert span_count(settings) == 2 * len(payloads)


def test_a_management_write_gives_up_with_writer_busy(
    storage: Storage, write_lock: sqlite3.Connection
) -> None:
    """``writer.run`` raises WriterBusy (503 through the app's handler) instead of waiting on."""
    with pytest.raises(WriterBusy):
        storage.writer.run(lambda connection: connection.exec_driver_sql("DELETE FROM usage"), timeout=BOUND)


@pytest.mark.slow  # ~2-3 s: the exporter's own retry backoff
def test_the_real_exporter_gets_its_spans_stored_once_after_a_lock(tmp_path: Path) -> None:
    """The OpenTelemetry exporter, a real server, a lock held past the bound: the exporter is
    answered 503 in time, retries, and its spans are stored exactly once when the lock goes."""
    settings = fx.make_settings(tmp_path, port=0, ingest_timeout=BOUND)
    provider = TracerProvider()
    captured = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(captured))
    for index in range(5):
        with provider.get_tracer("locked").start_as_current_span(f"span {index}"):
            pass
    refused = threading.Event()

    class SeeRefusals(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "answered 503" in record.getMessage():
                refused.set()

    handler = SeeRefusals()
    logging.getLogger("aither.server").addHandler(handler)
    result: list[SpanExportResult] = []
    try:
        with EmbeddedServer(settings) as server:
            exporter = OTLPSpanExporter(
                endpoint=f"{server.base_url}/v1/traces",
                headers={"Authorization": f"Bearer {fx.ADMIN_KEY}"},
                timeout=10,
            )
            path = fx.database_path(settings)
            with closing(sqlite3.connect(path, timeout=0, isolation_level=None)) as holder:
                holder.execute("BEGIN IMMEDIATE")
                finished = captured.get_finished_spans()
                sender = threading.Thread(target=lambda: result.append(exporter.export(finished)))
                sender.start()
                assert refused.wait(8), "the server never answered 503 while the database was locked"
                holder.execute("ROLLBACK")
            sender.join(15)
            assert not sender.is_alive()
            exporter.shutdown()
    finally:
        logging.getLogger("aither.server").removeHandler(handler)
    assert result == [SpanExportResult.SUCCESS]
    assert span_count(settings) == 5
