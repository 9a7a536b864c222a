from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from otlp_builder import PROTOBUF, Spans, body

from aither.server import ServerSettings, Storage, create_app
from aither.server.bootstrap import bootstrap
from aither.server.storage.engine import create_engine
from aither.server.storage.schema import metadata

ADMIN_KEY = "aith_test_admin_key_0123456789abcdef"


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    return ServerSettings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'aither.db'}",
        init_api_key=ADMIN_KEY,
        announce=False,
        write_credentials=False,
    )


@pytest.fixture
def storage(settings: ServerSettings) -> Iterator[Storage]:
    store = Storage.open(settings.database_url)
    bootstrap(store, settings)
    yield store
    store.close()


@pytest.fixture
def app(settings: ServerSettings, storage: Storage):  # type: ignore[no-untyped-def]
    return create_app(settings, storage)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://aither.test",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ) as http:
        yield http


@pytest.fixture
def spans() -> Spans:
    return Spans()


Send = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def send(client: httpx.AsyncClient) -> Send:
    """POST spans to /v1/traces as protobuf and check the answer is 200."""

    async def post(*items: Span, expect: int = 200) -> httpx.Response:
        response = await client.post("/v1/traces", content=body(*items), headers=PROTOBUF)
        assert response.status_code == expect, response.content
        return response

    return post


@pytest.fixture
def make_key(client: httpx.AsyncClient) -> Callable[..., Awaitable[str]]:
    """Create a key with the given scopes through the API; returns its secret."""

    async def create(*scopes: str, name: str = "test") -> str:
        response = await client.post("/api/v1/api-keys", json={"name": name, "scopes": list(scopes)})
        assert response.status_code == 201, response.text
        return str(response.json()["secret"])

    return create


def table_counts(settings: ServerSettings) -> dict[str, int]:
    """Rows per table, read straight from the SQLite file (not through the server)."""
    path = settings.database_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as connection:
        return {
            table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("spans", "predictions", "labels", "label_rows", "llm_calls", "operations")
        }


@pytest.fixture
def counts(settings: ServerSettings) -> Callable[[], dict[str, int]]:
    return lambda: table_counts(settings)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Storage, ServerSettings]]:
    """A bootstrapped storage on SQLite, then on a real PostgreSQL (the test module imports the
    ``postgres_url`` fixture), with the module's ``KEY`` as its admin key; PostgreSQL is left
    empty for the next test."""
    url = (
        f"sqlite:///{tmp_path / 'aither.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    settings = ServerSettings(
        home=tmp_path,
        database_url=url,
        init_api_key=request.module.KEY,
        announce=False,
        write_credentials=False,
    )
    storage = Storage.open(url)
    bootstrap(storage, settings)
    yield storage, settings
    storage.close()
    if request.param == "postgresql":
        engine = create_engine(url)
        with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                connection.execute(table.delete())
        engine.dispose()
