"""Accounts under pressure: Unicode e-mails compare caselessly, conflicts are 409, never 500."""

from __future__ import annotations

import sqlite3
import time
import unicodedata
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from aither.server import Storage
from aither.server.storage.accounts import create_user, email_key
from aither.server.storage.engine import MIGRATIONS, create_engine, migrate

from . import server_fixtures as fx

client, settings, storage = fx.client, fx.settings, fx.storage


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Élodie@acme.test", "Élodie@acme.test"),
        ("Élodie@acme.test", "élodie@ACME.test"),
        ("straße@acme.test", "STRASSE@acme.test"),
        ("Élodie@acme.test", unicodedata.normalize("NFD", "élodie@acme.test")),
    ],
)
async def test_the_same_address_in_another_case_is_409(
    client: httpx.AsyncClient, first: str, second: str
) -> None:
    created = await client.post("/api/v1/users", json={"email": first})
    assert created.status_code == 201, created.text
    again = await client.post("/api/v1/users", json={"email": second})
    assert again.status_code == 409, again.text
    emails = [user["email"] for user in (await client.get("/api/v1/users")).json()]
    assert emails == [fx.ADMIN_EMAIL, first]


async def test_a_unique_constraint_the_route_did_not_check_is_409(
    client: httpx.AsyncClient, storage: Storage
) -> None:
    """A write that races past a route's own check still ends as 409 (the app's one handler)."""
    org_id = (await client.get("/api/v1/org")).json()["id"]

    def insert_twice(connection: sa.Connection) -> None:
        for _ in range(2):
            create_user(connection, org_id, email="Ümit@acme.test", name="Ü", role="member", now_ns=1)

    with pytest.raises(sa.exc.IntegrityError):
        storage.writer.run(insert_twice)
    assert (await client.post("/api/v1/users", json={"email": "ümit@acme.test"})).status_code == 201
    assert (await client.post("/api/v1/users", json={"email": "ÜMIT@acme.test"})).status_code == 409


def test_migration_gives_existing_users_their_key_and_keeps_case_variants(tmp_path: Path) -> None:
    """A database from before 0006 may hold É… and é… side by side (SQLite's lower() let them in)."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    with closing(sqlite3.connect(tmp_path / "old.db")) as db, db:
        db.execute("INSERT INTO organizations VALUES ('org_1', 'o', 'self-hosted', 1)")
        for user_id, email in (
            ("usr_1", "Élodie@acme.test"),
            ("usr_2", "élodie@acme.test"),
            ("usr_3", "a@b"),
        ):
            db.execute(
                "INSERT INTO users (id, org_id, email, name, role, created_at_ns) "
                "VALUES (?, 'org_1', ?, 'n', 'member', ?)",
                (user_id, email, time.time_ns()),
            )
    migrate(engine)
    with engine.connect() as connection:
        keys = dict(connection.execute(sa.text("SELECT id, email_key FROM users")).all())
    engine.dispose()
    assert keys == {"usr_1": "élodie@acme.test", "usr_2": "élodie@acme.test#usr_2", "usr_3": "a@b"}
    assert email_key("Élodie@Acme.Test") == keys["usr_1"]
