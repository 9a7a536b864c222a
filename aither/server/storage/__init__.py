"""Storage: the schema, migrations, the batched writer, and the reads behind the API.

:class:`Storage` ties them together: one engine (SQLite or PostgreSQL), migrated at open,
one :class:`~.writer.BatchWriter` thread for every write, and a :class:`~.usage.UsageMeter`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection, Engine

from ..detection.engine import Detection, attach
from ..drift.monitor import monitor_for
from .engine import DatabaseURLError, create_engine, migrate
from .usage import UsageMeter
from .writer import DEFAULT_LIMITS, BatchWriter, WriterBusy, WriterLimits

if TYPE_CHECKING:
    from ..config import ServerSettings
    from ..ingest.records import DecodedBatch
    from ..telemetry import TelemetryStore, TelemetryWrites
    from .writer import WriteJob

__all__ = ["DatabaseURLError", "Storage", "WriterBusy", "WriterLimits"]


class Storage:
    """The database of one server. Thread-safe: reads on pooled connections, writes on the writer."""

    def __init__(
        self,
        engine: Engine,
        *,
        limits: WriterLimits = DEFAULT_LIMITS,
        telemetry: TelemetryStore | None = None,
    ) -> None:
        self.engine = engine
        self.telemetry = telemetry
        """Where telemetry lives when not in ``engine`` (``--telemetry-db``), else None."""
        self._telemetry_writes: TelemetryWrites | None = None
        if telemetry is not None:  # the writer's hook that batches the telemetry store's writes
            from ..telemetry import TelemetryWrites

            self._telemetry_writes = TelemetryWrites(telemetry)
        self.meter = UsageMeter()
        self.detection = Detection()
        self.detection.telemetry = telemetry
        attach(engine, self.detection)
        monitor_for(engine).telemetry = telemetry  # drift reads labelled rows there
        self.writer = BatchWriter(engine, limits=limits, periodic=self._periodic)

    def _periodic(self, engine: Engine) -> None:
        """The writer's once-a-second work: usage counts, then the window rules."""
        try:
            self.meter.flush(engine)
        finally:
            self.detection.tick(engine)

    @classmethod
    def open(
        cls, database_url: str, *, limits: WriterLimits = DEFAULT_LIMITS, telemetry_url: str | None = None
    ) -> Storage:
        """Connect, run the migrations (of the telemetry store too), and start the writer."""
        engine = create_engine(database_url)
        telemetry = None
        try:
            migrate(engine)
            if telemetry_url is not None:
                from ..telemetry import open_telemetry_store

                telemetry = open_telemetry_store(telemetry_url)
        except Exception:
            engine.dispose()
            raise
        storage = cls(engine, limits=limits, telemetry=telemetry)
        storage.writer.start()
        return storage

    @classmethod
    def for_settings(cls, settings: ServerSettings) -> Storage:
        """:meth:`open` with a server's settings: its database, queue bounds and telemetry store."""
        limits = WriterLimits(settings.max_queued_spans, settings.max_batch_spans)
        return cls.open(settings.database_url, limits=limits, telemetry_url=settings.telemetry_url)

    def ingest_job(self, org_id: str, batch: DecodedBatch, received_at_ns: int) -> WriteJob:
        """The writer's job that stores an export request, wherever telemetry lives."""
        if self.telemetry is not None:
            from ..telemetry import TelemetryIngestJob

            assert self._telemetry_writes is not None
            return TelemetryIngestJob(self.telemetry, org_id, batch, received_at_ns, self._telemetry_writes)
        from .ingest import IngestJob

        return IngestJob(org_id, batch, received_at_ns)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for queries (never for writes: those go through :attr:`writer`)."""
        with self.engine.connect() as connection:
            yield connection

    def close(self, timeout: float = 30.0) -> None:
        """Finish queued writes, write the pending usage counts, and close the pool."""
        self.writer.stop(timeout)
        try:
            self.meter.flush(self.engine)
        finally:
            self.engine.dispose()
            if self.telemetry is not None:
                self.telemetry.close()
