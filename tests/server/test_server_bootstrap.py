"""First start: organisation, admin and key; the credentials file; reproducible init values."""

from __future__ import annotations

import io
import json
import stat
from dataclasses import replace

import pytest
import sqlalchemy as sa

from aither.exceptions import ConfigError
from aither.schema.credentials import read_credentials
from aither.server import ServerSettings, Storage
from aither.server.auth import hash_key
from aither.server.bootstrap import announce, first_start


def _open(settings: ServerSettings) -> Storage:
    return Storage.open(settings.database_url)


def test_first_start_generates_a_key_and_writes_credentials(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = ServerSettings(
        home=tmp_path / "home", database_url=f"sqlite:///{tmp_path / 'a.db'}", port=4999, announce=False
    )
    storage = _open(settings)
    try:
        result = first_start(storage, settings)
        assert result.created and result.generated
        assert result.api_key is not None and result.api_key.startswith("aith_")
        path = settings.credentials_path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert json.loads(path.read_text()) == {
            "api_key": result.api_key,
            "base_url": "http://127.0.0.1:4999",
        }
        assert read_credentials(path) == {"api_key": result.api_key, "base_url": "http://127.0.0.1:4999"}
        with storage.read() as connection:
            rows = connection.execute(sa.text("SELECT key_hash, tail, scopes FROM api_keys")).all()
            org = connection.execute(sa.text("SELECT name FROM organizations")).scalar()
            email = connection.execute(sa.text("SELECT email FROM users")).scalar()
        # only the hash and a short tail are stored
        assert rows == [(hash_key(result.api_key), result.api_key[-4:], "admin read write")]
        assert (org, email) == ("default", "admin@localhost")
        again = first_start(storage, settings)
        assert not again.created
        assert again.api_key is None
        assert json.loads(path.read_text())["api_key"] == result.api_key
    finally:
        storage.close()


def test_announce_shows_the_generated_key_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = ServerSettings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'a.db'}", announce=False)
    storage = _open(settings)
    try:
        result = first_start(storage, settings)
        out = io.StringIO()
        announce(result, settings, out)
        assert result.api_key is not None
        assert out.getvalue().count(result.api_key) == 1
        assert "shown once" in out.getvalue()
        later = io.StringIO()
        announce(first_start(storage, settings), settings, later)
        assert later.getvalue() == ""
    finally:
        storage.close()


def test_init_values_from_the_environment(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AITHER_INIT_ORG", "acme")
    monkeypatch.setenv("AITHER_INIT_ADMIN_EMAIL", "ops@acme.test")
    monkeypatch.setenv("AITHER_INIT_API_KEY", "aith_reproducible_key_for_ci_0001")
    settings = replace(ServerSettings.from_env(home=tmp_path), announce=False)
    assert settings.database_url == f"sqlite:///{tmp_path / 'aither.db'}"
    storage = _open(settings)
    try:
        result = first_start(storage, settings)
        assert (result.created, result.generated, result.api_key) == (
            True,
            False,
            "aith_reproducible_key_for_ci_0001",
        )
        assert not settings.credentials_path.exists()  # the script knows its key already
        with storage.read() as connection:
            assert connection.execute(sa.text("SELECT name FROM organizations")).scalar() == "acme"
            assert connection.execute(sa.text("SELECT email FROM users")).scalar() == "ops@acme.test"
            assert connection.execute(sa.text("SELECT key_hash FROM api_keys")).scalar() == hash_key(
                "aith_reproducible_key_for_ci_0001"
            )
    finally:
        storage.close()


@pytest.mark.parametrize("bad", ["short", "has a space in it, long enough"])
def test_bad_init_key_is_a_config_error(tmp_path, monkeypatch, bad: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AITHER_INIT_API_KEY", bad)
    with pytest.raises(ConfigError, match="AITHER_INIT_API_KEY"):
        ServerSettings.from_env(home=tmp_path)


def test_settings_precedence_and_validation(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AITHER_HOME", str(tmp_path / "envhome"))
    monkeypatch.setenv("AITHER_SERVER_PORT", "5001")
    settings = ServerSettings.from_env()
    assert (settings.home, settings.port, settings.host) == (tmp_path / "envhome", 5001, "127.0.0.1")
    assert ServerSettings.from_env(port=0).port == 0
    monkeypatch.setenv("AITHER_SERVER_PORT", "99999")
    with pytest.raises(ConfigError, match="between 0 and 65535"):
        ServerSettings.from_env()
    assert replace(settings, host="0.0.0.0").base_url == "http://127.0.0.1:5001"
    assert replace(settings, host="::").base_url == "http://[::1]:5001"


def test_settings_from_the_environment_are_read_by_type_within_bounds(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'aither.db'}"
    assert ServerSettings.from_env(home=tmp_path) == ServerSettings(home=tmp_path, database_url=url)
    for variable, value in [
        ("AITHER_MAX_QUEUED_SPANS", "7"),
        ("AITHER_INGEST_TIMEOUT", "0.5"),
        ("AITHER_AUTH_TRACKED", "5"),
        ("AITHER_INIT_ORG", "acme"),
        ("AITHER_UI_SESSION_HOURS", "2160"),
    ]:
        monkeypatch.setenv(variable, value)
    settings = ServerSettings.from_env(home=tmp_path)
    read = (settings.max_queued_spans, settings.ingest_timeout, settings.auth_tracked_addresses)
    assert read == (7, 0.5, 5) and (settings.init_org, settings.ui_session_hours) == ("acme", 2160)
    for variable, value, message in [
        ("AITHER_UI_SESSION_HOURS", "2161", "AITHER_UI_SESSION_HOURS='2161' must be between 1 and 2160"),
        ("AITHER_MAX_BODY_BYTES", "10", "AITHER_MAX_BODY_BYTES='10' must be >= 1024"),
        ("AITHER_LEASE_TTL", "601", "AITHER_LEASE_TTL='601' must be between 0.5 and 600.0"),
        ("AITHER_AUTH_FAILURE_RATE", "y", "AITHER_AUTH_FAILURE_RATE='y' is not a number"),
    ]:
        with monkeypatch.context() as patch:
            patch.setenv(variable, value)
            with pytest.raises(ConfigError) as raised:
                ServerSettings.from_env(home=tmp_path)
        assert str(raised.value) == message


def test_a_later_start_on_another_port_updates_only_the_base_url(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = ServerSettings(
        home=tmp_path, database_url=f"sqlite:///{tmp_path / 'a.db'}", port=5000, announce=False
    )
    storage = _open(settings)
    try:
        key = first_start(storage, settings).api_key
        first_start(storage, replace(settings, port=5001))
        assert read_credentials(settings.credentials_path) == {
            "api_key": key,
            "base_url": "http://127.0.0.1:5001",
        }
        assert stat.S_IMODE(settings.credentials_path.stat().st_mode) == 0o600
    finally:
        storage.close()
