"""Organisation, usage, users and API keys: scopes, revocation and organisation boundaries."""

from __future__ import annotations

import time

import httpx
import pytest

from aither.server.auth import hash_key, key_tail
from aither.server.storage.accounts import create_key, create_organization, create_user

OTHER_KEY = "aith_other_org_admin_0123456789abcdef"


@pytest.fixture
def other_org(storage) -> str:  # type: ignore[no-untyped-def]
    """A second organisation with its own admin key; returns its key id."""

    def create(connection):  # type: ignore[no-untyped-def]
        now = time.time_ns()
        org = create_organization(connection, "other", "self-hosted", now)
        user = create_user(connection, org["id"], email="boss@other", name="Boss", role="admin", now_ns=now)
        return create_key(
            connection,
            org_id=org["id"],
            user_id=user["id"],
            name="other admin",
            key_hash=hash_key(OTHER_KEY),
            tail=key_tail(OTHER_KEY),
            scopes=frozenset({"read", "write", "admin"}),
            now_ns=now,
        )["id"]

    return str(storage.writer.run(create))


def _as(client: httpx.AsyncClient, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_org_user_and_usage(client, send, spans) -> None:
    org = (await client.get("/api/v1/org")).json()
    assert (org["name"], org["plan"]) == ("default", "self-hosted")
    assert org["id"].startswith("org_")
    me = (await client.get("/api/v1/users/me")).json()
    assert (me["email"], me["role"]) == ("admin@localhost", "admin")
    await send(spans.prediction("fraud", [1, 0]), spans.span("plain", {}))
    usage = (await client.get("/api/v1/org/usage")).json()
    assert (usage["spans"], usage["predictions"], usage["prediction_rows"], usage["labels"]) == (2, 1, 2, 0)
    assert usage["api_calls"] == 4  # org, me, the export and this call, counted exactly
    assert usage["period_start"] < usage["period_end"]
    assert (await client.get("/api/v1/org/usage")).json()["api_calls"] == 5


async def test_key_lifecycle(client) -> None:
    created = await client.post("/api/v1/api-keys", json={"name": "ci", "scopes": ["write"]})
    assert created.status_code == 201
    key = created.json()
    assert key["secret"].startswith("aith_")
    assert len(key["secret"]) > 40
    assert (key["name"], key["scopes"], key["tail"]) == ("ci", ["write"], key["secret"][-4:])
    listed = (await client.get("/api/v1/api-keys")).json()
    assert [k["name"] for k in listed] == ["admin", "ci"]
    assert all("secret" not in k for k in listed)
    assert key["secret"] not in (await client.get("/api/v1/api-keys")).text
    revoked = await client.delete(f"/api/v1/api-keys/{key['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    again = await client.delete(f"/api/v1/api-keys/{key['id']}")  # idempotent
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert (await client.get("/api/v1/org", headers=_as(client, key["secret"]))).status_code == 401


async def test_default_scopes_and_validation(client) -> None:
    created = (await client.post("/api/v1/api-keys", json={"name": "default"})).json()
    assert created["scopes"] == ["read", "write"]
    for body in ({"name": ""}, {"name": "x", "scopes": ["root"]}, {"name": "x", "scopes": []}, {}):
        response = await client.post("/api/v1/api-keys", json=body)
        assert response.status_code == 422, body


async def test_scopes_guard_every_route(client, make_key) -> None:
    reader, writer = await make_key("read"), await make_key("write")
    admin_only = await make_key("admin")
    cases = [
        ("GET", "/api/v1/models", {reader: 200, writer: 403, admin_only: 403}),
        ("GET", "/api/v1/org/usage", {reader: 200, writer: 403, admin_only: 200}),
        ("GET", "/api/v1/org", {reader: 200, writer: 200, admin_only: 200}),
        ("GET", "/api/v1/users/me", {reader: 200, writer: 200, admin_only: 200}),
        ("GET", "/api/v1/api-keys", {reader: 403, writer: 403, admin_only: 200}),
        ("GET", "/api/v1/users", {reader: 403, writer: 403, admin_only: 200}),
    ]
    for method, path, expected in cases:
        for key, status in expected.items():
            response = await client.request(method, path, headers=_as(client, key))
            assert response.status_code == status, (path, key[-4:])
    denied = await client.get("/api/v1/models", headers=_as(client, writer))
    assert denied.json()["detail"] == "this API key lacks the 'read' scope (it has: write)"


async def test_a_key_cannot_create_a_key_with_more_scopes(client, make_key) -> None:
    admin_only = await make_key("admin")
    response = await client.post(
        "/api/v1/api-keys",
        json={"name": "escalate", "scopes": ["admin", "write"]},
        headers=_as(client, admin_only),
    )
    assert response.status_code == 403
    assert "write" in response.json()["detail"]
    same = await client.post(
        "/api/v1/api-keys", json={"name": "same", "scopes": ["admin"]}, headers=_as(client, admin_only)
    )
    assert same.status_code == 201


async def test_ids_of_another_organisation_answer_404(client, other_org, send, spans) -> None:
    other = _as(client, OTHER_KEY)
    assert (await client.delete(f"/api/v1/api-keys/{other_org}")).status_code == 404
    assert (await client.get("/api/v1/org", headers=other)).json()["name"] == "other"
    prediction = spans.prediction("fraud", [1])
    await send(prediction)
    trace_id = prediction.trace_id.hex()
    assert (await client.get(f"/api/v1/traces/{trace_id}")).status_code == 200
    assert (await client.get(f"/api/v1/traces/{trace_id}", headers=other)).status_code == 404
    assert (await client.get("/api/v1/models", headers=other)).json() == []
    assert (await client.get("/api/v1/models/fraud/metrics", headers=other)).status_code == 404
    assert [k["name"] for k in (await client.get("/api/v1/api-keys", headers=other)).json()] == [
        "other admin"
    ]
    mine = (await client.get("/api/v1/api-keys")).json()
    assert (await client.delete(f"/api/v1/api-keys/{mine[0]['id']}", headers=other)).status_code == 404
    assert (await client.get("/api/v1/org")).status_code == 200  # still valid
    assert (await client.delete("/api/v1/api-keys/key_doesnotexist")).status_code == 404
    assert (await client.delete("/api/v1/api-keys/%00%27;drop")).status_code == 404


async def test_users(client) -> None:
    created = await client.post("/api/v1/users", json={"email": "ana@example.com", "name": "Ana"})
    assert created.status_code == 201
    user = created.json()
    assert (user["email"], user["name"], user["role"]) == ("ana@example.com", "Ana", "member")
    conflict = await client.post("/api/v1/users", json={"email": "ANA@example.com"})
    assert conflict.status_code == 409
    assert (await client.post("/api/v1/users", json={"email": "not an email"})).status_code == 422
    key = (
        await client.post("/api/v1/api-keys", json={"name": "ana", "scopes": ["read"], "user_id": user["id"]})
    ).json()
    me = (await client.get("/api/v1/users/me", headers=_as(client, key["secret"]))).json()
    assert me["email"] == "ana@example.com"
    missing = await client.post("/api/v1/api-keys", json={"name": "x", "user_id": "usr_missing"})
    assert missing.status_code == 404
    assert [u["email"] for u in (await client.get("/api/v1/users")).json()] == [
        "admin@localhost",
        "ana@example.com",
    ]


async def test_last_used_is_tracked(client, make_key) -> None:
    secret = await make_key("read")
    listed = {k["tail"]: k for k in (await client.get("/api/v1/api-keys")).json()}
    assert listed[secret[-4:]]["last_used_at"] is None
    await client.get("/api/v1/models", headers=_as(client, secret))
    listed = {k["tail"]: k for k in (await client.get("/api/v1/api-keys")).json()}
    assert listed[secret[-4:]]["last_used_at"] is not None
