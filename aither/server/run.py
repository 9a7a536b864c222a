"""Running the server: :func:`serve` for ``aither server``, :class:`EmbeddedServer` for a thread.

Both bind the socket themselves before the app starts, so that port 0 (any free port) works
and the credentials file names the port actually in use.
"""

from __future__ import annotations

import gc
import socket
import sys
import threading
import time
from dataclasses import replace
from types import TracebackType
from typing import Any

import uvicorn

from .app import create_app
from .bootstrap import BootstrapResult
from .config import ServerSettings
from .storage import Storage


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _AnnouncingServer(uvicorn.Server):
    """Says where it serves on stderr, once, when it has started (its lifespan startup, with the
    first-start bootstrap, done): the line a script or a test waits for, with the port that
    ``--port 0`` took."""

    def __init__(self, config: uvicorn.Config, base_url: str) -> None:
        super().__init__(config)
        self._base_url = base_url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            print(f"aither server: serving on {self._base_url}", file=sys.stderr, flush=True)


GC_THRESHOLD = (50_000, 20, 10)
"""The ``aither server`` process's collector thresholds (CPython's default: 700, 10, 10)."""


def tune_gc() -> None:
    """Set the garbage collector of a server process for ingest.

    Ingest allocates a few dozen objects per span (the decoded rows, their dicts and strings),
    nearly all freed by reference counting; with the default thresholds the collector still
    ran about every 700 allocations and, with batches of thousands of spans queued, a full
    collection walked them all: a fifth of the server's CPU at 5,000 spans/s. Objects alive
    after start (modules, the app) are frozen out of collections, and the young generation is
    collected every 50,000 allocations: cyclic garbage still goes, a little later.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)


def serve(settings: ServerSettings, *, log_level: str = "info") -> None:
    """Run the server in the foreground until interrupted (``aither server``).

    The database is opened and migrated before the port is bound, so a wrong URL or an
    unreachable database fails here, with its own message, before anything listens.
    """
    storage = Storage.for_settings(settings)
    try:
        sock = bind(settings.host, settings.port)
        settings = replace(settings, port=sock.getsockname()[1])
        config = uvicorn.Config(
            create_app(settings, storage), log_level=log_level, lifespan="on", access_log=False
        )
        server = _AnnouncingServer(config, settings.base_url)
        tune_gc()  # this process is the server's alone (an embedded server leaves its host's be)
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it shut down for
            pass
        finally:
            sock.close()
    finally:
        storage.close()


class EmbeddedServer:
    """The server on a background thread of this process, on a free port by default.

    Example::

        with EmbeddedServer(ServerSettings.from_env(home=tmp, port=0)) as server:
            client = aither.Client(api_key=server.api_key, base_url=server.base_url)

    ``api_key`` is the admin key the first start created (None when the database already had
    an organisation). Thread-safe to stop from any thread.
    """

    def __init__(self, settings: ServerSettings, *, log_level: str = "warning") -> None:
        self.settings = settings
        self.log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._app: Any = None
        self._storage: Storage | None = None

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    @property
    def app(self) -> Any:
        """The running FastAPI app (its ``state`` holds the storage and the alert sink)."""
        return self._app

    @property
    def bootstrap(self) -> BootstrapResult | None:
        result: BootstrapResult | None = self._app.state.bootstrap if self._app is not None else None
        return result

    @property
    def api_key(self) -> str | None:
        result = self.bootstrap
        return result.api_key if result is not None else None

    def start(self, timeout: float = 60.0) -> EmbeddedServer:
        storage = Storage.for_settings(self.settings)
        try:
            sock = bind(self.settings.host, self.settings.port)
        except OSError:
            storage.close()
            raise
        self._storage = storage
        self.settings = replace(self.settings, port=sock.getsockname()[1])
        self._app = create_app(self.settings, storage)
        config = uvicorn.Config(
            self._app, log_level=self.log_level, lifespan="on", access_log=False, log_config=None
        )
        server = uvicorn.Server(config)
        self._server = server

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # reported by start() or stop()
                self._error = exc
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name="aither-embedded-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the aither server did not start: {self._error or 'timed out'}")
            self._thread.join(0.01)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._storage is not None:
            self._storage.close()
            self._storage = None

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
