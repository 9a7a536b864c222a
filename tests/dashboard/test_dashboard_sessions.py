"""Dashboard sign-in over HTTP against a real server: the cookie's flags, CSRF on writes,
scopes, expiry, revocation and sign-out. No browser needed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from aither.server import EmbeddedServer, ServerSettings
from aither.server.sessions import COOKIE_NAME
from aither.server.storage.schema import ui_sessions

from .conftest import ADMIN_KEY


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    settings = ServerSettings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'aither.db'}",
        port=0,
        init_api_key=ADMIN_KEY,
        announce=False,
        write_credentials=False,
        ui_session_hours=6,
    )
    with EmbeddedServer(settings) as running:
        yield running


@pytest.fixture
def http(server: EmbeddedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


def sign_in(http: httpx.Client, key: str) -> tuple[dict[str, str], str, httpx.Response]:
    """(headers that carry the session cookie, the CSRF token, the sign-in response)."""
    response = http.post("/api/v1/session", json={"api_key": key})
    assert response.status_code == 200, response.text
    cookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    http.cookies.clear()  # send the cookie by hand, so each request says exactly what it carries
    return {"Cookie": f"{COOKIE_NAME}={cookie[COOKIE_NAME].value}"}, response.json()["csrf_token"], response


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_cookie_is_httponly_samesite_strict_and_expires(http: httpx.Client) -> None:
    _, csrf, response = sign_in(http, ADMIN_KEY)
    header = response.headers["set-cookie"]
    assert re.search(r"(?i)\bhttponly\b", header)
    assert re.search(r"(?i)samesite=strict", header)
    assert "Max-Age=21600" in header  # ui_session_hours=6
    assert "expires=" in header.lower()
    assert "Path=/" in header
    assert "secure" not in header.lower()  # plain http on 127.0.0.1; https gets Secure
    body = response.json()
    assert body["scopes"] == ["admin", "read", "write"] and len(csrf) >= 32
    assert ADMIN_KEY not in header  # the cookie is a session token, never the key


def test_session_cookie_reads_the_api_and_bearer_still_works(http: httpx.Client) -> None:
    cookie, csrf, _ = sign_in(http, ADMIN_KEY)
    assert http.get("/api/v1/models", headers=cookie).json() == []
    assert http.get("/api/v1/session", headers=cookie).json()["csrf_token"] == csrf
    assert http.get("/api/v1/models", headers=bearer(ADMIN_KEY)).status_code == 200
    assert http.get("/api/v1/models").status_code == 401


def test_wrong_key_gets_no_session(http: httpx.Client) -> None:
    response = http.post("/api/v1/session", json={"api_key": "aith_not_a_key_of_this_server"})
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert http.post("/api/v1/session", json={}).status_code == 422


def test_write_needs_the_csrf_header(http: httpx.Client) -> None:
    cookie, csrf, _ = sign_in(http, ADMIN_KEY)
    body = {"name": "from the dashboard", "scopes": ["read"]}
    missing = http.post("/api/v1/api-keys", json=body, headers=cookie)
    assert missing.status_code == 403 and "X-CSRF-Token" in missing.json()["detail"]
    wrong = http.post("/api/v1/api-keys", json=body, headers={**cookie, "X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    assert http.delete("/api/v1/session", headers=cookie).status_code == 403  # sign-out is a write too
    made = http.post("/api/v1/api-keys", json=body, headers={**cookie, "X-CSRF-Token": csrf})
    assert made.status_code == 201 and made.json()["secret"].startswith("aith_")
    names = [key["name"] for key in http.get("/api/v1/api-keys", headers=bearer(ADMIN_KEY)).json()]
    assert names.count("from the dashboard") == 1  # the refused writes left nothing


def test_read_scope_session_reads_but_cannot_manage_keys(http: httpx.Client) -> None:
    reader = http.post(
        "/api/v1/api-keys", json={"name": "viewer", "scopes": ["read"]}, headers=bearer(ADMIN_KEY)
    ).json()["secret"]
    cookie, csrf, response = sign_in(http, reader)
    assert response.json()["scopes"] == ["read"]
    assert http.get("/api/v1/models", headers=cookie).status_code == 200
    assert http.get("/api/v1/api-keys", headers=cookie).status_code == 403
    created = http.post(
        "/api/v1/api-keys", json={"name": "x", "scopes": ["read"]}, headers={**cookie, "X-CSRF-Token": csrf}
    )
    assert created.status_code == 403


def test_revoking_the_key_ends_its_sessions_at_once(http: httpx.Client) -> None:
    made = http.post(
        "/api/v1/api-keys", json={"name": "laptop", "scopes": ["read"]}, headers=bearer(ADMIN_KEY)
    ).json()
    cookie, _, _ = sign_in(http, made["secret"])
    assert http.get("/api/v1/models", headers=cookie).status_code == 200
    assert http.delete(f"/api/v1/api-keys/{made['id']}", headers=bearer(ADMIN_KEY)).status_code == 200
    refused = http.get("/api/v1/models", headers=cookie)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert http.get("/api/v1/session", headers=cookie).status_code == 401
    assert http.post("/api/v1/session", json={"api_key": made["secret"]}).status_code == 401


def test_expired_session_is_refused(server: EmbeddedServer, http: httpx.Client) -> None:
    cookie, _, _ = sign_in(http, ADMIN_KEY)
    engine = sa.create_engine(f"sqlite:///{server.settings.home / 'aither.db'}")
    try:
        with engine.begin() as connection:  # the clock moved past the expiry: same as waiting 6 hours
            changed = connection.execute(ui_sessions.update().values(expires_at_ns=1)).rowcount
    finally:
        engine.dispose()
    assert changed == 1
    refused = http.get("/api/v1/models", headers=cookie)
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]


def test_sign_out_deletes_the_session(server: EmbeddedServer, http: httpx.Client) -> None:
    cookie, csrf, _ = sign_in(http, ADMIN_KEY)
    out = http.delete("/api/v1/session", headers={**cookie, "X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert f'{COOKIE_NAME}=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    assert http.get("/api/v1/models", headers=cookie).status_code == 401
    engine = sa.create_engine(f"sqlite:///{server.settings.home / 'aither.db'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.select(sa.func.count()).select_from(ui_sessions)).scalar() == 0
    finally:
        engine.dispose()


def test_dashboard_page_and_assets_are_served(http: httpx.Client) -> None:
    page = http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/static/js/app.js">' in page.text
    for asset in ("/static/js/app.js", "/static/js/api.js", "/static/js/pages.js", "/static/js/ui.js"):
        response = http.get(asset)
        assert response.status_code == 200 and "javascript" in response.headers["content-type"], asset
    assert http.get("/static/css/app.css").headers["content-type"].startswith("text/css")
    assert http.get("/static/../config.py").status_code == 404


def test_session_lifetime_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from aither.exceptions import ConfigError

    assert ServerSettings.from_env(home=tmp_path).ui_session_hours == 12
    monkeypatch.setenv("AITHER_UI_SESSION_HOURS", "2")
    assert ServerSettings.from_env(home=tmp_path).ui_session_hours == 2
    monkeypatch.setenv("AITHER_UI_SESSION_HOURS", "0")
    with pytest.raises(ConfigError, match="AITHER_UI_SESSION_HOURS"):
        ServerSettings.from_env(home=tmp_path)
