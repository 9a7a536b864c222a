"""Storage: migrations match the schema, SQLite runs in WAL mode, and the single writer batches,
isolates failures and never lets concurrent requests meet "database is locked"."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from contextlib import closing

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from otlp_builder import PROTOBUF, body, ids

from aither.server.storage import DatabaseURLError, Storage, WriterBusy
from aither.server.storage.engine import MIGRATIONS, create_engine, current_revision
from aither.server.storage.schema import metadata
from aither.server.storage.writer import BatchWriter, CallableJob, WriterLimits


def test_migrations_create_exactly_the_schema(storage) -> None:  # type: ignore[no-untyped-def]
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert current_revision(storage.engine) == head
    with storage.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    assert diff == []


def test_reopening_an_existing_database_keeps_its_data(settings, storage) -> None:  # type: ignore[no-untyped-def]
    storage.close()
    again = Storage.open(settings.database_url)
    try:
        with again.read() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM api_keys")).scalar() == 1
    finally:
        again.close()


def test_sqlite_runs_in_wal_mode(storage, settings) -> None:  # type: ignore[no-untyped-def]
    with storage.read() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://x/y", "not a url"])
def test_unusable_database_urls_say_why(url: str) -> None:
    with pytest.raises(DatabaseURLError):
        create_engine(url)


def _writer(tmp_path, **options) -> BatchWriter:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (v INTEGER UNIQUE)")
    writer = BatchWriter(engine, **options)
    writer.start()
    return writer


def _hold(writer: BatchWriter) -> threading.Event:
    """Occupy the writer thread until the returned event is set."""
    gate, running = threading.Event(), threading.Event()

    def wait(_connection: object) -> bool:
        running.set()
        return gate.wait(5)

    writer.submit(CallableJob(wait))
    assert running.wait(5)
    return gate


def _insert(value: int) -> CallableJob:
    return CallableJob(
        lambda connection: connection.exec_driver_sql(f"INSERT INTO t VALUES ({value})").rowcount
    )


def test_writer_batches_what_queued_up_into_one_transaction(tmp_path) -> None:  # type: ignore[no-untyped-def]
    writer = _writer(tmp_path)
    gate = _hold(writer)
    futures = [writer.submit(_insert(value)) for value in range(50)]
    gate.set()
    assert [future.result(5) for future in futures] == [1] * 50
    assert writer.batches == 2  # the held job, then the 50 queued ones together
    writer.stop()
    writer.engine.dispose()


def test_a_failing_job_fails_alone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    writer = _writer(tmp_path)
    gate = _hold(writer)
    good = [writer.submit(_insert(value)) for value in (1, 2)]
    duplicate = writer.submit(_insert(1))  # violates UNIQUE inside the same batch
    later = writer.submit(_insert(3))
    gate.set()
    assert [future.result(5) for future in (*good, later)] == [1, 1, 1]
    with pytest.raises(sa.exc.IntegrityError):
        duplicate.result(5)
    with writer.engine.connect() as connection:
        assert [row[0] for row in connection.exec_driver_sql("SELECT v FROM t ORDER BY v")] == [1, 2, 3]
    writer.stop()
    writer.engine.dispose()


def test_full_queue_refuses_and_stop_drains(tmp_path) -> None:  # type: ignore[no-untyped-def]
    writer = _writer(tmp_path, limits=WriterLimits(max_queued=2))
    gate = _hold(writer)
    queued = [writer.submit(_insert(1)), writer.submit(_insert(2))]
    with pytest.raises(WriterBusy):
        writer.submit(_insert(3))
    gate.set()
    writer.stop()
    assert [future.result(0) for future in queued] == [1, 1]
    with pytest.raises(WriterBusy):
        writer.submit(_insert(4))
    writer.engine.dispose()


async def test_concurrent_exports_and_reads_never_see_a_locked_database(
    client, spans, counts, storage
) -> None:
    async def export(index: int) -> int:
        prediction = spans.prediction(f"model{index % 3}", [1, 0, 1])
        payload = body(
            prediction, spans.label(ids(prediction)[0], [1, 1, 1]), spans.span("extra", {"i": index})
        )
        response = await client.post("/v1/traces", content=payload, headers=PROTOBUF)
        return response.status_code

    async def read(index: int) -> int:
        path = (
            "/api/v1/models",
            "/api/v1/predictions",
            "/api/v1/org/usage",
            "/api/v1/models/model0/metrics",
        )[index % 4]
        response = await client.get(path)
        return 200 if response.status_code in (200, 404) else response.status_code

    statuses = await asyncio.gather(*(export(i) for i in range(120)), *(read(i) for i in range(60)))
    assert set(statuses) == {200}
    assert counts() == {
        "spans": 360,
        "predictions": 120,
        "labels": 120,
        "label_rows": 360,
        "llm_calls": 0,
        "operations": 0,
    }
    assert storage.writer.batches < 120  # exports were batched together


def test_threads_writing_and_reading_at_once(storage, settings) -> None:  # type: ignore[no-untyped-def]
    """Many threads, each submitting writes and reading with its own connection."""
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for step in range(20):
                storage.writer.run(
                    lambda connection, v=worker * 100 + step: connection.exec_driver_sql(
                        f"INSERT INTO usage (org_id, period_start_ns, api_calls, spans, predictions, "
                        f"prediction_rows, labels, llm_calls, operations) "
                        f"SELECT id, {v}, 0, 0, 0, 0, 0, 0, 0 FROM organizations"
                    )
                )
                with storage.read() as connection:
                    connection.exec_driver_sql("SELECT count(*) FROM usage").scalar()
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    path = settings.database_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT count(*) FROM usage").fetchone()[0] == 160


def test_a_job_failing_with_an_operational_error_of_its_own_fails_alone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SQLite reports some bad statements as OperationalError too; they are the job's, not the database's."""
    writer = _writer(tmp_path)
    gate = _hold(writer)
    good = writer.submit(_insert(1))
    bad = writer.submit(CallableJob(lambda connection: connection.exec_driver_sql("SELECT * FROM missing")))
    gate.set()
    assert good.result(5) == 1
    with pytest.raises(sa.exc.OperationalError, match="no such table"):
        bad.result(5)
    writer.stop()
    writer.engine.dispose()


def test_a_batch_failing_on_a_locked_database_fails_whole_without_retrying_each_job(tmp_path) -> None:  # type: ignore[no-untyped-def]
    writer = _writer(tmp_path)
    gate = _hold(writer)
    applied: list[int] = []

    def counted(value: int) -> CallableJob:
        def apply(connection: sa.Connection) -> int:
            applied.append(value)
            return int(connection.exec_driver_sql(f"INSERT INTO t VALUES ({value})").rowcount)

        return CallableJob(apply)

    def locked(_connection: sa.Connection) -> None:
        # what the batch meets when another process holds the write lock past the busy timeout
        raise sa.exc.OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))

    futures = [writer.submit(counted(1)), writer.submit(CallableJob(locked)), writer.submit(counted(2))]
    gate.set()
    for future in futures:
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            future.result(5)
    assert applied == [1]  # the batch stopped at the lock; a job-by-job retry would read [1, 1, 2]
    with writer.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    writer.stop()
    writer.engine.dispose()
