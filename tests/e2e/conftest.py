from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aither.api import ManagementClient
from aither.server import EmbeddedServer, ServerSettings

KEY = "aith_e2e_admin_key_0123456789abcdef"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """A fresh real server: uvicorn on 127.0.0.1 and a free port, in a thread, on a SQLite file."""
    settings = ServerSettings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'aither.db'}",
        port=0,
        init_api_key=KEY,
        announce=False,
        write_credentials=False,
    )
    with EmbeddedServer(settings) as running:
        yield running


@pytest.fixture
def api(server: EmbeddedServer) -> Iterator[ManagementClient]:
    with ManagementClient(api_key=server.api_key, base_url=server.base_url) as client:
        yield client
