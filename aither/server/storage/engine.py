"""Database engines: SQLite tuned for one writer and many readers, PostgreSQL as it comes.

SQLite runs in WAL mode, so readers never wait for the writer and the writer never waits for
readers; every write goes through the one :class:`~.writer.BatchWriter` thread, so two of
the server's writers never meet. Another process can still hold the write lock (a ``sqlite3``
shell in a transaction): the writer then waits up to ``busy_timeout``, while ingest answers
503 once its own, shorter bound (``ingest_timeout``) has passed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine, make_url

from ...exceptions import ConfigError

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseURLError(ConfigError):
    """The database URL can't be used; the message says why."""


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # takes effect only in a new, empty file: retention's deletes then hand pages back
        # with incremental_vacuum; older files reuse the freed pages. Asked only of an empty
        # file, since on one in use it waits for the write lock (a reader must not).
        if cursor.execute("PRAGMA page_count").fetchone()[0] == 0:
            cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache per connection, not 2
        cursor.execute("PRAGMA temp_store=MEMORY")
    finally:
        cursor.close()


def create_engine(url: str) -> Engine:
    """An engine for ``url``: ``sqlite:///path/aither.db`` or ``postgresql+psycopg://...``."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise DatabaseURLError(
            f"database URL {url!r} is not valid; use sqlite:///path/aither.db or "
            "postgresql+psycopg://user:password@host/dbname"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or parsed.query.get("mode") == "memory":
            raise DatabaseURLError(
                f"database URL {url!r} is an in-memory SQLite database; the server needs a file "
                "that its writer and readers share: sqlite:///path/aither.db"
            )
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            parsed.set(database=str(Path(database).expanduser())),
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=16,
        )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":  # psycopg 3 is the driver we ship the extra for
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return sa.create_engine(parsed, pool_pre_ping=True, pool_size=8, max_overflow=16)
        except ModuleNotFoundError as exc:
            raise DatabaseURLError(
                f"the PostgreSQL driver is not installed ({exc.name}); pip install 'aither[postgres]'"
            ) from exc
    raise DatabaseURLError(f"database URL {url!r}: aither supports sqlite and postgresql, not {backend!r}")


_STARTUP_LOCK = 0x616974686572  # "aither": PostgreSQL advisory lock key of migrations and bootstrap


def serialise_startup(connection: Connection) -> None:
    """Several servers starting at once on one PostgreSQL: the first to get here migrates (or
    bootstraps) and the others wait for its commit, then find the work done. Held to the end of
    ``connection``'s transaction; a no-op on SQLite, whose write lock serialises already."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _STARTUP_LOCK})


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is there already)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        serialise_startup(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
