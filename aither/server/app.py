"""The app factory: ``create_app(settings, storage=...)`` builds the whole server as an ASGI app.

With ``storage`` given, the app uses it and leaves it open (tests pass their own); without,
the app opens the database at startup, runs the migrations and the first-start bootstrap,
and closes it at shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.concurrency import run_in_threadpool

from ..exceptions import ConfigError
from .alerts import AlertDispatcher, NullSink, parse_channels
from .auth import FailedSignIns
from .bootstrap import first_start
from .config import ServerSettings
from .dashboard import install as install_dashboard
from .detection import load_rules
from .detection.retention import RetentionLoop
from .detection.rules import read_rules_file
from .drift import monitor_for
from .lease import LeaseKeeper
from .routes import alerts, dashboard, detection, drift, management, otlp, query
from .routes.schemas import Health
from .storage import Storage, WriterBusy

logger = logging.getLogger("aither.server")


def server_version() -> str:
    try:
        return metadata.version("aither")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def create_app(settings: ServerSettings | None = None, storage: Storage | None = None) -> FastAPI:
    """The aither server as a FastAPI app (see ``docs/server.md`` for the routes)."""
    resolved = settings if settings is not None else ServerSettings.from_env()
    rules = load_rules(resolved.rules_path)
    try:  # the rules file's [[alerts.channels]], checked now so a bad one stops the start
        file_channels = parse_channels(
            read_rules_file(resolved.rules_path).get("alerts", {}) if resolved.rules_path else {}
        )
    except ValueError as exc:
        raise ConfigError(f"the rules file {resolved.rules_path!r}: {exc}") from None

    def wire(app: FastAPI, store: Storage) -> None:
        """Detection's rules and alert sink, read when an anomaly changes (the sink may be replaced)."""
        store.detection.rules = rules
        store.detection.load_rules(store.engine)  # changes made through the API, on top of the file
        store.detection.sink_source = lambda: getattr(app.state, "alert_sink", None)
        monitor_for(store.engine).settings = resolved.drift

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = app.state.storage is None
        if owned:
            app.state.storage = await run_in_threadpool(Storage.for_settings, resolved)
        wire(app, app.state.storage)
        # window rules, retention and alert delivery run on the lease's holder only, so several
        # servers can share the database (docs/deployment.md); alone, a server takes it at once
        lease = app.state.lease = await run_in_threadpool(
            LeaseKeeper(app.state.storage.engine, ttl_s=resolved.lease_ttl_s).start
        )
        app.state.storage.detection.lease = lease.token
        app.state.storage.detection.shared = app.state.storage.dialect != "sqlite"
        retention = (
            RetentionLoop(app.state.storage, resolved.retention_s, lease=lease.token).start()
            if resolved.retention_s is not None
            else None
        )
        # ClickHouse: the past hours' exact aggregates, which the reads over weeks read
        seal_loop = None
        if app.state.storage.telemetry is not None:  # imported here: ClickHouse is an extra
            from .telemetry.seal_loop import SealLoop

            seal_loop = SealLoop(app.state.storage.telemetry, lease.token).start()
        try:
            app.state.bootstrap = await run_in_threadpool(first_start, app.state.storage, resolved)
            dispatcher = AlertDispatcher(app.state.storage, link_base=resolved.base_url, lease=lease.token)
            dispatcher.set_channels(file_channels)
            app.state.alert_sink = dispatcher.start()
            yield
        finally:
            if retention is not None:
                await run_in_threadpool(retention.stop)
            if seal_loop is not None:
                await run_in_threadpool(seal_loop.stop)
            if isinstance(app.state.alert_sink, AlertDispatcher):  # before the storage it writes to
                await run_in_threadpool(app.state.alert_sink.stop)
                app.state.alert_sink = NullSink()
            await run_in_threadpool(lease.stop)  # hand the lease over now, not at its expiry
            app.state.storage.detection.lease = None
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
    app.state.failed_sign_ins = FailedSignIns(
        resolved.auth_failure_burst, resolved.auth_failure_rate, resolved.auth_tracked_addresses
    )
    app.state.storage = storage
    app.state.bootstrap = None
    app.state.alert_sink = NullSink()
    if storage is not None:
        wire(app, storage)
    _add_exception_handlers(app)
    app.include_router(otlp.router)
    app.include_router(query.router)
    app.include_router(management.router)
    app.include_router(detection.router)
    app.include_router(drift.router)
    app.include_router(alerts.router)
    app.include_router(dashboard.router)
    install_dashboard(app)  # the browser UI at / (aither/server/dashboard)

    @app.get("/healthz", response_model=Health, tags=["health"], summary="Liveness; no key needed")
    def health() -> Health:
        current: Storage | None = app.state.storage
        return Health(
            status="ok", version=server_version(), database=current.dialect if current else "closed"
        )

    return app


def _add_exception_handlers(app: FastAPI) -> None:
    """Database errors every route can meet, answered in one place rather than per route."""

    async def conflict(_request: Request, error: Exception) -> JSONResponse:
        # a unique constraint caught what a route's own check missed (a race, or a rule only
        # the database knows): the request conflicts with what is stored, nothing is lost
        logger.info("aither server: refused a write that conflicts with a stored row: %s", error)
        return JSONResponse({"detail": "conflicts with an existing record"}, status_code=409)

    async def unavailable(_request: Request, error: Exception) -> JSONResponse:
        logger.warning("aither server: the database is busy or unavailable: %s", error)
        return JSONResponse(
            {"detail": "the database is busy; retry shortly"}, status_code=503, headers={"Retry-After": "5"}
        )

    app.add_exception_handler(IntegrityError, conflict)
    app.add_exception_handler(OperationalError, unavailable)
    app.add_exception_handler(WriterBusy, unavailable)
