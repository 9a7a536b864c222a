"""A database another process holds locked: exports get 503 in time, readers keep answering,
and what the exporter sends again is stored exactly once."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from aither.server import ServerSettings, Storage
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
    # the exporter retries; a job the writer had started may have committed meanwhile
    replays = [await export(p) for p in payloads]
    assert [r.status_code for r in replays] == [200] * len(payloads)
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
