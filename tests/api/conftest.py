from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aither.server import EmbeddedServer, ServerSettings

ADMIN_KEY = "aith_api_tests_admin_key_0123456789"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    """The real server (uvicorn on 127.0.0.1, a free port) in a thread, for this module."""
    home: Path = tmp_path_factory.mktemp("api-server")
    settings = ServerSettings(
        home=home,
        database_url=f"sqlite:///{home / 'aither.db'}",
        port=0,
        init_api_key=ADMIN_KEY,
        announce=False,
        write_credentials=False,
    )
    with EmbeddedServer(settings) as running:
        yield running
