"""The aither server: OTLP/HTTP ingest, storage, the label join, metrics, and the REST API.

Install with ``pip install 'aither[server]'`` and run ``aither server``; or embed it::

    from aither.server import EmbeddedServer, ServerSettings

    with EmbeddedServer(ServerSettings.from_env(home="/tmp/aither", port=0)) as server:
        print(server.base_url, server.api_key)

The SDK never imports this package (see DESIGN.md); it reads the credentials file instead.
"""

from __future__ import annotations

from ..schema.credentials import read_credentials
from .app import create_app
from .bootstrap import BootstrapResult
from .config import ServerSettings
from .run import EmbeddedServer, serve
from .storage import Storage

__all__ = [
    "BootstrapResult",
    "EmbeddedServer",
    "ServerSettings",
    "Storage",
    "create_app",
    "read_credentials",
    "serve",
]
