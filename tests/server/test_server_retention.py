"""Retention: pruning deletes in batches through the writer, keeps labels and rollups consistent,
and a SQLite file under steady load with pruning stops growing."""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing

import pytest
from otlp_builder import PROTOBUF, body

from aither.exceptions import ConfigError
from aither.server import ServerSettings
from aither.server.detection.retention import RetentionLoop, prune

DAY = 86_400 * 1_000_000_000


def _file_size(settings: ServerSettings) -> int:
    path = settings.database_url.removeprefix("sqlite:///")
    return os.path.getsize(path) + (os.path.getsize(path + "-wal") if os.path.exists(path + "-wal") else 0)


async def test_a_pruned_sqlite_file_stops_growing(client, spans, settings, storage) -> None:  # type: ignore[no-untyped-def]
    path = settings.database_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental, set before tables
    sizes = []
    for _ in range(5):
        old = spans.now_ns - 8 * DAY
        batch = [spans.prediction("fraud", [1, 0] * 20, start_ns=old + i) for i in range(400)]
        for start in range(0, len(batch), 200):
            response = await client.post(
                "/v1/traces", content=body(*batch[start : start + 200]), headers=PROTOBUF
            )
            assert response.status_code == 200
        # small batches: each is its own writer job, so ingest jobs queue between them
        deleted = prune(storage, time.time_ns() - 7 * DAY, batch_rows=150)
        assert deleted.deleted["predictions"] == 400 and deleted.deleted["spans"] == 400
        with storage.engine.begin() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        sizes.append(_file_size(settings))
    # the first rounds size the file; after that the freed pages are reused (or handed back)
    assert max(sizes[2:]) <= sizes[1] * 1.1, sizes


def test_the_retention_loop_prunes_in_the_background(storage) -> None:  # type: ignore[no-untyped-def]
    from aither.server.ingest.records import DecodedBatch, LlmCallRecord
    from aither.server.storage.ingest import IngestJob

    with storage.read() as connection:
        org_id = connection.exec_driver_sql("SELECT id FROM organizations").scalar_one()
    old = time.time_ns() - 40 * DAY
    calls = [
        LlmCallRecord(
            f"{i:032x}", f"{i:016x}", "chat", "chat", "openai", "m", None, 1, 1, 0.1, None, old, 5.0, False
        )
        for i in range(3)
    ]
    storage.writer.submit(IngestJob(org_id, DecodedBatch(llm_calls=calls), time.time_ns())).result(10)
    loop = RetentionLoop(storage, retention_s=30 * 86_400, every_s=0.05).start()
    try:
        assert loop.ran.wait(10), "the retention loop did not run"
    finally:
        loop.stop()
    with storage.read() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM llm_calls").scalar_one() == 0
        assert connection.exec_driver_sql("SELECT count(*) FROM rollups").scalar_one() == 0


def test_retention_and_rules_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = ServerSettings.from_env(home=tmp_path, retention="30d")
    assert settings.retention_s == 30 * 86_400 and settings.rules_path is None
    with pytest.raises(ConfigError, match="under an hour"):
        ServerSettings.from_env(home=tmp_path, retention="10m")
    with pytest.raises(ConfigError, match="not a duration"):
        ServerSettings.from_env(home=tmp_path, retention="forever")
    with pytest.raises(ConfigError, match="does not exist"):
        ServerSettings.from_env(home=tmp_path, rules=tmp_path / "missing.toml")
