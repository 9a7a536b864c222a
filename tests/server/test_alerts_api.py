"""The alerts API: channels CRUD with scopes and masked secrets, the test button, the delivery
log; and the whole path through a real running server (uvicorn, lifespan, dispatcher)."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from alert_receivers import HookReceiver, SilentServer, notice
from otlp_builder import PROTOBUF, Spans, body

from aither.server import EmbeddedServer, ServerSettings
from aither.server.alerts import NullSink

SECRET = "whsec_0123456789abcdef0123456789"
MakeKey = Callable[..., Awaitable[str]]


def webhook(url: str, **keys: Any) -> dict[str, Any]:
    return {"name": "ops", "type": "webhook", "url": url, "secret": SECRET, "backoff_s": 0.01, **keys}


async def test_channels_crud_masks_secrets(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/v1/alerts/channels", json=webhook("https://hooks.example.com/a"))
    assert created.status_code == 201, created.text
    channel = created.json()
    assert channel["id"].startswith("chn_")
    assert channel["settings"] == {"url": "https://hooks.example.com/a", "secret": "****6789"}
    assert SECRET not in created.text
    assert (channel["type"], channel["source"], channel["min_severity"], channel["enabled"]) == (
        "webhook",
        "api",
        "low",
        True,
    )

    pager = await client.post(
        "/api/v1/alerts/channels", json={"name": "pager", "type": "pagerduty", "routing_key": "R0UTINGKEY"}
    )
    assert pager.status_code == 201, pager.text
    assert pager.json()["settings"] == {
        "routing_key": "****",  # short secrets show nothing at all
        "url": "https://events.pagerduty.com/v2/enqueue",
        "source": "aither",
    }

    listed = await client.get("/api/v1/alerts/channels")
    assert [c["name"] for c in listed.json()] == ["ops", "pager"]
    assert SECRET not in listed.text
    assert "R0UTINGKEY" not in listed.text

    # a GET's masked secret sent back unchanged keeps the secret
    patched = await client.patch(
        f"/api/v1/alerts/channels/{channel['id']}",
        json={"min_severity": "critical", "rules": ["pii_detected"], "secret": "****6789"},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["min_severity"], patched.json()["rules"]) == ("critical", ["pii_detected"])
    assert patched.json()["settings"]["secret"] == "****6789"

    duplicate = await client.post("/api/v1/alerts/channels", json=webhook("https://hooks.example.com/b"))
    assert duplicate.status_code == 409
    renamed = await client.patch(f"/api/v1/alerts/channels/{channel['id']}", json={"name": "pager"})
    assert renamed.status_code == 409

    # header values are masked too; a masked one sent back keeps its value, a new one is taken
    token = "Bearer receiver-token-0123456789"
    with_headers = await client.patch(
        f"/api/v1/alerts/channels/{channel['id']}", json={"headers": {"Authorization": token, "X-Team": "ml"}}
    )
    assert with_headers.json()["settings"]["headers"] == {"Authorization": "****6789", "X-Team": "****"}
    assert token not in with_headers.text
    again = await client.patch(
        f"/api/v1/alerts/channels/{channel['id']}",
        json={"headers": {"Authorization": "****6789", "X-Team": "data"}, "name": "ops"},
    )
    assert again.status_code == 200, again.text
    with HookReceiver() as receiver:
        await client.patch(f"/api/v1/alerts/channels/{channel['id']}", json={"url": receiver.url})
        sent = await client.post(f"/api/v1/alerts/channels/{channel['id']}/test")
        [request] = receiver.wait_for(1)
    assert sent.json()["status"] == "delivered"
    assert (request.headers["authorization"], request.headers["x-team"]) == (token, "data")
    stamp = request.headers["x-aither-timestamp"]  # and the secret survived every PATCH
    expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-aither-signature"] == f"sha256={expected}"

    deleted = await client.delete(f"/api/v1/alerts/channels/{channel['id']}")
    assert deleted.status_code == 200
    assert (await client.delete(f"/api/v1/alerts/channels/{channel['id']}")).status_code == 404
    assert (await client.patch(f"/api/v1/alerts/channels/{channel['id']}", json={})).status_code == 404
    assert [c["name"] for c in (await client.get("/api/v1/alerts/channels")).json()] == ["pager"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x", "type": "sms"}, "type must be one of webhook, slack, pagerduty, email"),
        ({"name": "x", "type": "webhook", "url": "https://h.example"}, "secret is required"),
        ({"name": "x", "type": "webhook", "url": "ftp://h", "secret": "s"}, "url must be an http"),
        (
            {"name": "x", "type": "slack", "url": "https://h", "min_severity": "urgent"},
            "min_severity must be",
        ),
        ({"name": "x", "type": "slack", "url": "https://h", "colour": "red"}, "unknown key 'colour'"),
        (
            {"name": "x", "type": "slack", "url": "https://h", "max_attempts": 0},
            "max_attempts must be between",
        ),
        (
            {"name": "x", "type": "email", "host": "smtp", "from": "a@b", "to": "nobody"},
            "to must be an e-mail",
        ),
        (
            {"name": "x", "type": "slack", "url": "https://h", "anomaly_types": ["nope"]},
            "anomaly_types has unknown",
        ),
        ({"id": "chn_mine", "name": "x", "type": "slack", "url": "https://h"}, "id is chosen by the server"),
    ],
)
async def test_bad_channels_are_422_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], message: str
) -> None:
    response = await client.post("/api/v1/alerts/channels", json=body)
    assert response.status_code == 422
    assert message in response.json()["detail"][0]["msg"]


async def test_a_bad_patch_is_422_and_changes_nothing(client: httpx.AsyncClient) -> None:
    channel = (await client.post("/api/v1/alerts/channels", json=webhook("https://h.example/a"))).json()
    for change in ({"type": "slack"}, {"timeout_s": -1}, {"url": 5}, {"id": "chn_x"}):
        response = await client.patch(f"/api/v1/alerts/channels/{channel['id']}", json=change)
        assert response.status_code == 422, (change, response.text)
    [after] = (await client.get("/api/v1/alerts/channels")).json()
    assert after == channel


async def test_scopes_read_keys_see_deliveries_only(client: httpx.AsyncClient, make_key: MakeKey) -> None:
    channel = (await client.post("/api/v1/alerts/channels", json=webhook("https://h.example/a"))).json()
    read = {"Authorization": f"Bearer {await make_key('read')}"}
    write = {"Authorization": f"Bearer {await make_key('write')}"}
    assert (
        await client.post("/api/v1/alerts/channels", json=webhook("https://h/b"), headers=read)
    ).status_code == 403
    assert (await client.get("/api/v1/alerts/channels", headers=read)).status_code == 403
    path = f"/api/v1/alerts/channels/{channel['id']}"
    assert (await client.patch(path, json={"enabled": False}, headers=read)).status_code == 403
    assert (await client.delete(path, headers=read)).status_code == 403
    assert (await client.post(path + "/test", headers=read)).status_code == 403
    assert (await client.get("/api/v1/alerts/deliveries", headers=read)).status_code == 200
    assert (await client.get("/api/v1/alerts/deliveries", headers=write)).status_code == 403
    assert (await client.get("/api/v1/alerts/deliveries", headers={"Authorization": ""})).status_code == 401


async def test_the_test_button_sends_once_and_logs_it(client: httpx.AsyncClient) -> None:
    with HookReceiver(script=[(503, {})]) as receiver:
        channel = (await client.post("/api/v1/alerts/channels", json=webhook(receiver.url))).json()
        failed = await client.post(f"/api/v1/alerts/channels/{channel['id']}/test")
        delivered = await client.post(f"/api/v1/alerts/channels/{channel['id']}/test")
        first, second = receiver.wait_for(2)

    assert failed.status_code == 200, failed.text
    assert {k: failed.json()[k] for k in ("status", "attempts", "http_status", "event", "channel_id")} == {
        "status": "failed",
        "attempts": 1,
        "http_status": 503,
        "event": "test",
        "channel_id": channel["id"],
    }
    assert (delivered.json()["status"], delivered.json()["http_status"]) == ("delivered", 200)
    sent = second.json()
    assert (sent["id"], sent["title"]) == (0, "Test notice for channel ops")
    stamp = second.headers["x-aither-timestamp"]
    expected = hmac.new(SECRET.encode(), f"{stamp}.".encode() + second.body, hashlib.sha256).hexdigest()
    assert second.headers["x-aither-signature"] == f"sha256={expected}"

    log = (await client.get("/api/v1/alerts/deliveries")).json()
    assert [(d["status"], d["event"]) for d in log["items"]] == [("delivered", "test"), ("failed", "test")]
    only_failed = (await client.get("/api/v1/alerts/deliveries", params={"status": "failed"})).json()
    assert [d["id"] for d in only_failed["items"]] == [failed.json()["id"]]
    other = (await client.get("/api/v1/alerts/deliveries", params={"channel": "chn_other"})).json()
    assert other["items"] == []
    page = (await client.get("/api/v1/alerts/deliveries", params={"limit": 1})).json()
    assert [d["id"] for d in page["items"]] == [delivered.json()["id"]]
    rest = (
        await client.get("/api/v1/alerts/deliveries", params={"limit": 1, "cursor": page["next_cursor"]})
    ).json()
    assert ([d["id"] for d in rest["items"]], rest["next_cursor"]) == ([failed.json()["id"]], None)
    assert (await client.get("/api/v1/alerts/deliveries", params={"status": "lost"})).status_code == 400
    assert (await client.get("/api/v1/alerts/deliveries", params={"cursor": "x1"})).status_code == 400
    assert (await client.post("/api/v1/alerts/channels/chn_nope/test")).status_code == 404
    assert (await client.patch("/api/v1/alerts/channels/file:ops", json={})).status_code == 409


# --- through a real running server -------------------------------------------------------------

KEY = "aith_alerts_e2e_admin_key_0123456789"


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
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


def api(server: EmbeddedServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)


def test_a_notice_submitted_to_the_apps_sink_reaches_the_channel(server: EmbeddedServer) -> None:
    with HookReceiver(script=[(500, {})]) as receiver, api(server) as http:
        org_id = http.get("/api/v1/org").json()["id"]
        created = http.post("/api/v1/alerts/channels", json=webhook(receiver.url, min_severity="medium"))
        assert created.status_code == 201, created.text
        sink = server.app.state.alert_sink
        sink.submit(notice(org_id, id=41, severity="low"))  # below the channel's filter
        sink.submit(notice("org_of_someone_else", id=43))  # another organisation's channels only
        sink.submit(notice(org_id, id=42))
        assert sink.flush(15)
        first, second = receiver.wait_for(2)
        log = http.get("/api/v1/alerts/deliveries").json()["items"]
        workers = [t for t in threading.enumerate() if t.name.startswith("aither-alerts-")]
        assert workers  # the router, and the channel's worker

        server.stop()  # the lifespan stops the dispatcher, then closes the storage
        assert isinstance(server.app.state.alert_sink, NullSink)
        assert not [t for t in workers if t.is_alive()]

    assert len(receiver.requests) == 2
    assert first.json()["id"] == second.json()["id"] == 42
    assert second.json()["link"] == f"{server.base_url}/api/v1/anomalies/42"
    [delivery] = log
    assert {
        k: delivery[k] for k in ("channel_id", "anomaly_id", "event", "status", "attempts", "http_status")
    } == {
        "channel_id": created.json()["id"],
        "anomaly_id": 42,
        "event": "opened",
        "status": "delivered",
        "attempts": 2,
        "http_status": 200,
    }


def test_ingest_keeps_going_while_a_channel_hangs(server: EmbeddedServer) -> None:
    spans = Spans()
    with SilentServer() as silent, api(server) as http:
        org_id = http.get("/api/v1/org").json()["id"]
        hanging = webhook(silent.url, timeout_s=120)
        assert http.post("/api/v1/alerts/channels", json=hanging).status_code == 201
        sink = server.app.state.alert_sink
        for index in range(20):
            sink.submit(notice(org_id, id=index))
        assert silent.accepted.wait(10)  # the channel's worker is now stuck in its first attempt

        deadline = time.monotonic() + 60
        stored = 0
        for _ in range(50):
            response = http.post(
                "/v1/traces", content=body(spans.prediction("fraud_detector")), headers=PROTOBUF
            )
            assert response.status_code == 200, response.text
            stored += 1
        assert time.monotonic() < deadline, "ingest did not finish while the channel hung"
        predictions = http.get("/api/v1/predictions", params={"limit": 1000}).json()["items"]
        pending = http.get("/api/v1/alerts/deliveries", params={"status": "pending"}).json()["items"]

    assert stored == 50
    assert len(predictions) == 50
    # every notice was routed and logged; none delivered, none lost (detection may add its own:
    # 50 predictions in a few seconds is a request-rate anomaly)
    ours = [row for row in pending if row["title"] == "Latency spike on fraud_detector"]
    assert len(ours) == 20
