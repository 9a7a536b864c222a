"""The management client against the real server: typed results, scopes, errors, sync and async."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import httpx
import pytest

import aither
import aither.api as api
from aither._client import close_default
from aither.api import (
    APIKey,
    AsyncManagementClient,
    CreatedAPIKey,
    ManagementClient,
    Organization,
    Usage,
    User,
)
from aither.exceptions import (
    APIError,
    AuthenticationError,
    ConfigError,
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
)


@pytest.fixture
def admin(server) -> ManagementClient:  # type: ignore[no-untyped-def]
    with ManagementClient(api_key=server.api_key, base_url=server.base_url) as client:
        yield client


def test_org_user_and_usage_are_typed_and_frozen(admin: ManagementClient) -> None:
    org = admin.org.get()
    assert isinstance(org, Organization)
    assert (org.name, org.plan) == ("default", "self-hosted")
    assert org.created_at.tzinfo is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        org.name = "x"  # type: ignore[misc]
    me = admin.user.me()
    assert isinstance(me, User)
    assert (me.email, me.name, me.role) == ("admin@localhost", "Admin", "admin")
    usage = admin.org.usage()
    assert isinstance(usage, Usage)
    assert usage.period_start < dt.datetime.now(dt.timezone.utc) < usage.period_end
    assert usage.api_calls >= 3
    assert {f.name for f in dataclasses.fields(Usage)} >= {
        "api_calls",
        "predictions",
        "labels",
        "spans",
        "period_start",
        "period_end",
    }


def test_api_keys_create_list_revoke(admin: ManagementClient, server) -> None:  # type: ignore[no-untyped-def]
    created = admin.api_keys.create(name="reporting", scopes=["read"])
    assert isinstance(created, CreatedAPIKey)
    assert created.secret.startswith("aith_")
    assert created.secret not in repr(created)
    assert (created.name, created.scopes, created.revoked) == ("reporting", ("read",), False)
    listed = admin.api_keys.list()
    assert all(type(key) is APIKey for key in listed)
    assert created.id in {key.id for key in listed}
    with ManagementClient(api_key=created.secret, base_url=server.base_url) as reporter:
        assert reporter.models.list() == ()
        with pytest.raises(PermissionDenied) as denied:
            reporter.api_keys.list()
        assert denied.value.status_code == 403
        assert "admin" in str(denied.value)
        with pytest.raises(PermissionDenied):
            reporter.api_keys.create(name="escalate", scopes=["read", "write"])
        revoked = admin.api_keys.revoke(key_id=created.id)
        assert revoked.revoked and revoked.revoked_at is not None
        with pytest.raises(AuthenticationError) as refused:
            reporter.org.get()
        assert refused.value.status_code == 401
        assert "revoked" in str(refused.value)


def test_errors_map_to_the_exception_tree(admin: ManagementClient, server) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound):
        admin.api_keys.revoke(key_id="key_0000000000000000")
    with pytest.raises(NotFound):
        admin.models.metrics("no-such-model")
    with pytest.raises(NotFound):
        admin.traces.get("ab" * 16)
    with pytest.raises(APIError) as invalid:
        admin.traces.get("not-a-trace")
    assert invalid.value.status_code == 400
    admin.user.create(email="dup@example.com")
    with pytest.raises(Conflict):
        admin.user.create(email="dup@example.com")
    with ManagementClient(api_key="aith_wrong_key_000000000000", base_url=server.base_url) as wrong:
        with pytest.raises(AuthenticationError, match="invalid API key"):
            wrong.org.get()
    with pytest.raises(ValueError, match="scopes"):
        admin.api_keys.create(name="x", scopes=["root"])
    with pytest.raises(ValueError, match="scopes"):
        admin.api_keys.create(name="x", scopes="read")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, AuthenticationError),
        (403, PermissionDenied),
        (404, NotFound),
        (409, Conflict),
        (429, RateLimited),
        (500, ServerError),
        (503, ServerError),
        (418, APIError),
    ],
)
def test_every_status_maps_to_its_exception(status: int, kind: type[APIError]) -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(status, json={"detail": f"status {status}"})
    )
    with httpx.Client(transport=transport) as http:
        client = ManagementClient(api_key="aith_x", base_url="http://mock", http_client=http)
        with pytest.raises(kind) as raised:
            client.org.get()
    assert type(raised.value) is kind
    assert raised.value.status_code == status
    assert f"status {status}" in str(raised.value)


def test_unreachable_server_and_garbage_answers_are_server_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(refuse)) as http:
        client = ManagementClient(api_key="aith_x", base_url="http://127.0.0.1:9", http_client=http)
        with pytest.raises(ServerError, match="could not reach the aither server") as raised:
            client.org.get()
    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    garbage = httpx.MockTransport(lambda request: httpx.Response(200, content=b"<html>"))
    with httpx.Client(transport=garbage) as http:
        with pytest.raises(ServerError, match="not JSON"):
            ManagementClient(api_key="aith_x", base_url="http://mock", http_client=http).org.get()
    wrong_shape = httpx.MockTransport(lambda request: httpx.Response(200, json={"unexpected": 1}))
    with httpx.Client(transport=wrong_shape) as http:
        with pytest.raises(ServerError, match="unexpected answer"):
            ManagementClient(api_key="aith_x", base_url="http://mock", http_client=http).org.get()


def test_validation_errors_read_as_one_line() -> None:
    detail = [{"loc": ["body", "name"], "msg": "String should have at least 1 character", "type": "x"}]
    transport = httpx.MockTransport(lambda request: httpx.Response(422, json={"detail": detail}))
    with httpx.Client(transport=transport) as http:
        client = ManagementClient(api_key="aith_x", base_url="http://mock", http_client=http)
        with pytest.raises(APIError, match="name: String should have at least 1 character"):
            client.user.me()


def test_injected_http_client_sends_the_key_and_is_not_closed() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"id": "org_1", "name": "n", "plan": "p", "created_at": "2026-01-02T03:04:05Z"}
        )

    with httpx.Client(transport=httpx.MockTransport(answer), base_url="http://injected") as http:
        with ManagementClient(api_key="aith_secret", http_client=http) as client:
            org = client.org.get()
        assert not http.is_closed
    assert org.created_at == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert seen[0].headers["authorization"] == "Bearer aith_secret"
    assert str(seen[0].url) == "http://injected/api/v1/org"


def test_module_namespaces_follow_the_default_client(server) -> None:  # type: ignore[no-untyped-def]
    close_default()
    try:
        aither.init(api_key=server.api_key, base_url=server.base_url)
        assert api.org.get().name == "default"
        assert api.user.me().email == "admin@localhost"
        key = api.api_keys.create(name="via-namespace", scopes=["write"])
        assert key.id in {k.id for k in api.api_keys.list()}
        assert api.api_keys.revoke(key_id=key.id).revoked
        aither.init(api_key="aith_not_a_key_000000000", base_url=server.base_url)
        with pytest.raises(AuthenticationError):
            api.org.get()
    finally:
        close_default()


def test_credentials_file_is_used_when_nothing_is_configured(server, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    close_default()
    monkeypatch.setenv("AITHER_HOME", str(tmp_path))
    (tmp_path / "credentials.json").write_text(
        json.dumps({"api_key": server.api_key, "base_url": server.base_url})
    )
    try:
        with ManagementClient() as client:
            assert client.base_url == server.base_url
            assert client.org.get().name == "default"
        assert api.org.usage().api_calls > 0
    finally:
        close_default()


def test_missing_key_is_a_config_error(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    close_default()
    monkeypatch.setenv("AITHER_HOME", str(tmp_path))  # no credentials file there
    with pytest.raises(ConfigError):
        ManagementClient(base_url="http://127.0.0.1:4680")


async def test_async_twin_against_the_server(server) -> None:  # type: ignore[no-untyped-def]
    async with AsyncManagementClient(api_key=server.api_key, base_url=server.base_url) as client:
        assert (await client.org.get()).name == "default"
        assert (await client.user.me()).role == "admin"
        usage = await client.org.usage()
        assert usage.period_start < usage.period_end
        created = await client.api_keys.create(name="async", scopes=["read", "write"])
        assert created.scopes == ("read", "write")
        assert created.id in {key.id for key in await client.api_keys.list()}
        assert (await client.api_keys.revoke(created.id)).revoked
        with pytest.raises(NotFound):
            await client.api_keys.revoke("key_missing")
        assert (await client.models.list()) == ()
        assert (await client.predictions.list()).items == ()
        assert (await client.llm_calls.list(injection=True)).items == ()


async def test_async_twin_with_an_injected_asgi_client(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = "aith_asgi_injected_admin_key_000"
    from aither.server import ServerSettings, Storage, create_app
    from aither.server.bootstrap import bootstrap

    settings = ServerSettings(
        home=tmp_path, database_url=f"sqlite:///{tmp_path / 'a.db'}", init_api_key=key, announce=False
    )
    storage = Storage.open(settings.database_url)
    bootstrap(storage, settings)
    try:
        transport = httpx.ASGITransport(app=create_app(settings, storage))
        async with httpx.AsyncClient(transport=transport, base_url="http://asgi") as http:
            client = AsyncManagementClient(api_key=key, http_client=http)
            reader = await client.api_keys.create(name="r", scopes=["read"])
            limited = AsyncManagementClient(api_key=reader.secret, http_client=http)
            assert (await limited.user.me()).email == "admin@localhost"
            with pytest.raises(PermissionDenied):
                await limited.api_keys.list()
    finally:
        storage.close()


async def test_predictions_iter_walks_every_page_sync_and_async(server) -> None:  # type: ignore[no-untyped-def]
    sdk = aither.Client(api_key=server.api_key, base_url=server.base_url, flush_interval=0.05)
    try:
        sent = [sdk.log_prediction("paged", {"row": index}, index) for index in range(5)]
        assert sdk.flush(timeout=10)
    finally:
        sdk.close()
    with ManagementClient(api_key=server.api_key, base_url=server.base_url) as client:
        newest_first = [p.trace_id for p in client.predictions.list(model="paged", limit=100).items]
        assert sorted(newest_first) == sorted(sent)
        assert [p.trace_id for p in client.predictions.iter(model="paged", limit=2)] == newest_first
        second_page = client.predictions.list(model="paged", limit=2).next_cursor
        assert second_page is not None
        from_cursor = client.predictions.iter(model="paged", limit=2, cursor=second_page)
        assert [p.trace_id for p in from_cursor] == newest_first[2:]
    async with AsyncManagementClient(api_key=server.api_key, base_url=server.base_url) as aclient:
        walked = [p.trace_id async for p in aclient.predictions.iter(model="paged", limit=2)]
    assert walked == newest_first
