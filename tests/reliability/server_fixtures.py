"""Fixtures for the server half of the reliability suite: a real app on a real SQLite file.

Test modules import the fixtures they use (``from .server_fixtures import ...``); the SDK half
of the suite has its own. ``otlp_builder`` comes from tests/server, the hand-built OTLP bodies
the server tests share.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "server"))

from otlp_builder import JSON, PROTOBUF, Spans, body, request  # noqa: E402

from aither.server import ServerSettings, Storage, create_app  # noqa: E402
from aither.server.auth import hash_key, key_tail  # noqa: E402
from aither.server.bootstrap import bootstrap  # noqa: E402
from aither.server.storage.accounts import create_key, create_organization, create_user  # noqa: E402

__all__ = ["JSON", "PROTOBUF", "Spans", "Storage", "body", "request"]

ADMIN_KEY = "aith_reliability_admin_key_0123456789"
ADMIN_EMAIL = "admin@localhost"
BASE_URL = "http://aither.test"


def make_settings(home: Path, **overrides: Any) -> ServerSettings:
    """Settings for a server in ``home`` with the admin key; ``overrides`` replace fields."""
    return ServerSettings(
        home=home,
        database_url=f"sqlite:///{home / 'aither.db'}",
        init_api_key=ADMIN_KEY,
        announce=False,
        write_credentials=False,
        **overrides,
    )


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    return make_settings(tmp_path)


@pytest.fixture
def storage(settings: ServerSettings) -> Iterator[Storage]:
    store = Storage.open(settings.database_url)
    bootstrap(store, settings)
    yield store
    store.close()


@pytest.fixture
async def client(settings: ServerSettings, storage: Storage) -> AsyncIterator[httpx.AsyncClient]:
    """The whole app in process (ASGI), with the admin key."""
    app = create_app(settings, storage)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE_URL,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ) as http:
        yield http


def database_path(settings: ServerSettings) -> str:
    return settings.database_url.removeprefix("sqlite:///")


def span_count(settings: ServerSettings) -> int:
    """Rows in the spans table, read straight from the SQLite file (not through the server)."""
    with closing(sqlite3.connect(database_path(settings))) as connection:
        count: int = connection.execute("SELECT count(*) FROM spans").fetchone()[0]
    return count


OTHER_KEY = "aith_reliability_other_org_0123456789"


async def other_organisation(storage: Storage) -> dict[str, str]:
    """A second organisation with an admin key of its own; returns that key's header."""

    def create(connection: Any) -> None:
        org = create_organization(connection, "other", "self-hosted", 1)
        user = create_user(connection, org["id"], email="boss@other.test", name="B", role="admin", now_ns=1)
        create_key(
            connection,
            org_id=org["id"],
            user_id=user["id"],
            name="other admin",
            key_hash=hash_key(OTHER_KEY),
            tail=key_tail(OTHER_KEY),
            scopes=frozenset({"read", "write", "admin"}),
            now_ns=1,
        )

    storage.writer.run(create)
    return {"Authorization": f"Bearer {OTHER_KEY}"}
