"""The app factory: ``create_app(settings, storage=...)`` builds the whole server as an ASGI app.

With ``storage`` given, the app uses it and leaves it open (tests pass their own); without,
the app opens the database at startup, runs the migrations and the first-start bootstrap,
and closes it at shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from .alerts.notice import NullSink
from .bootstrap import first_start
from .config import ServerSettings
from .detection import load_rules
from .detection.retention import RetentionLoop
from .drift import monitor_for
from .routes import detection, drift, management, otlp, query
from .routes.schemas import Health
from .storage import Storage


def server_version() -> str:
    try:
        return metadata.version("aither")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def create_app(settings: ServerSettings | None = None, storage: Storage | None = None) -> FastAPI:
    """The aither server as a FastAPI app (see ``docs/server.md`` for the routes)."""
    resolved = settings if settings is not None else ServerSettings.from_env()
    rules = load_rules(resolved.rules_path)

    def wire(app: FastAPI, store: Storage) -> None:
        """Detection's rules and alert sink, read when an anomaly changes (the sink may be replaced)."""
        store.detection.rules = rules
        store.detection.sink_source = lambda: getattr(app.state, "alert_sink", None)
        monitor_for(store.engine).settings = resolved.drift

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = app.state.storage is None
        if owned:
            app.state.storage = await run_in_threadpool(
                Storage.open,
                resolved.database_url,
                max_queued_spans=resolved.max_queued_spans,
                max_batch_spans=resolved.max_batch_spans,
            )
        wire(app, app.state.storage)
        retention = (
            RetentionLoop(app.state.storage, resolved.retention_s).start()
            if resolved.retention_s is not None
            else None
        )
        try:
            app.state.bootstrap = await run_in_threadpool(first_start, app.state.storage, resolved)
            yield
        finally:
            if retention is not None:
                await run_in_threadpool(retention.stop)
            if owned:
                await run_in_threadpool(app.state.storage.close)
                app.state.storage = None

    app = FastAPI(
        title="aither",
        version=server_version(),
        summary="Watch ML models and LLM calls in production.",
        description="OTLP/HTTP ingest at `/v1/traces`; queries and management under `/api/v1`. "
        "Authenticate with `Authorization: Bearer <API key>`.",
        lifespan=lifespan,
    )
    app.state.settings = resolved
    app.state.storage = storage
    app.state.bootstrap = None
    if getattr(app.state, "alert_sink", None) is None:
        app.state.alert_sink = NullSink()
    if storage is not None:
        wire(app, storage)
    app.include_router(otlp.router)
    app.include_router(query.router)
    app.include_router(management.router)
    app.include_router(detection.router)
    app.include_router(drift.router)

    @app.get("/healthz", response_model=Health, tags=["health"], summary="Liveness; no key needed")
    def health() -> Health:
        current: Storage | None = app.state.storage
        return Health(
            status="ok", version=server_version(), database=current.dialect if current else "closed"
        )

    return app
