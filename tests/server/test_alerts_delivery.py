"""The dispatcher against real receivers: each channel's wire format, retries, filters, and a
channel that hangs. Real SQLite storage; the delivery log is read back from it."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alert_receivers import HookReceiver, SilentServer, notice, smtp_server

from aither.server import Storage
from aither.server.alerts.config import ChannelConfig, parse_channel
from aither.server.alerts.dispatch import AlertDispatcher
from aither.server.alerts.formats import verify
from aither.server.storage.schema import alert_deliveries, organizations

SECRET = "whsec_0123456789abcdef0123456789"
LINK_BASE = "http://aither.example:4680"


@pytest.fixture
def org_id(storage: Storage) -> str:
    with storage.read() as connection:
        return str(connection.execute(sa.select(organizations.c.id)).scalar_one())


def channel(name: str, kind: str, **keys: Any) -> ChannelConfig:
    config = parse_channel({"name": name, "type": kind, "backoff_s": 0.01, **keys})
    return ChannelConfig(**{**config.__dict__, "id": f"file:{name}", "source": "file"})


@pytest.fixture
def dispatcher(storage: Storage) -> Iterator[AlertDispatcher]:
    running = AlertDispatcher(storage, link_base=LINK_BASE).start()
    yield running
    running.stop(timeout=2)
    assert running.stats()["errors"] == 0  # no failure of our own, logged and hidden


def deliveries(storage: Storage) -> list[dict[str, Any]]:
    with storage.read() as connection:
        rows = connection.execute(sa.select(alert_deliveries).order_by(alert_deliveries.c.id)).mappings()
        return [dict(row) for row in rows]


def test_webhook_posts_the_notice_signed_with_the_channel_secret(
    dispatcher: AlertDispatcher, storage: Storage, org_id: str
) -> None:
    with HookReceiver() as receiver:
        dispatcher.set_channels([channel("ops", "webhook", url=receiver.url, secret=SECRET)])
        sent = notice(org_id)
        dispatcher.submit(sent)
        assert dispatcher.flush(15)
        [request] = receiver.wait_for(1)

    timestamp, signature = request.headers["x-aither-timestamp"], request.headers["x-aither-signature"]
    # the receiver's check, written out as the docs tell users to
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    assert verify(SECRET, timestamp, request.body, signature, now=time.time())
    assert not verify(SECRET, timestamp, request.body + b" ", signature, now=time.time())
    assert not verify("another secret", timestamp, request.body, signature, now=time.time())
    assert not verify(SECRET, timestamp, request.body, signature, now=int(timestamp) + 301)  # a replay
    assert request.headers["x-aither-event"] == "opened"
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "id": 7,
        "org_id": org_id,
        "event": "opened",
        "rule": "latency_spike",
        "anomaly_type": "latency_spike",
        "severity": "high",
        "detection_method": "z_score",
        "title": "Latency spike on fraud_detector",
        "message": "p95 latency 840 ms against a baseline of 120 ms",
        "recommended_action": "Check the model host's CPU and recent deploys.",
        "target": {"service": "scoring-api", "model": "fraud_detector", "version": "1.2.3"},
        "count": 3,
        "first_seen": "2026-12-03T09:30:00+00:00",
        "last_seen": "2026-12-03T09:35:00+00:00",
        "status": "open",
        "evidence": {"observed_ms": 840.0, "baseline_ms": 120.0, "z": 6.2},
        "link": f"{LINK_BASE}/api/v1/anomalies/7",
    }
    [row] = deliveries(storage)
    assert request.headers["x-aither-delivery"] == str(row["id"])
    assert {k: row[k] for k in ("org_id", "channel_id", "channel_kind", "anomaly_id", "event", "status")} == {
        "org_id": org_id,
        "channel_id": "file:ops",
        "channel_kind": "webhook",
        "anomaly_id": 7,
        "event": "opened",
        "status": "delivered",
    }
    assert (row["attempts"], row["http_status"], row["last_error"]) == (1, 200, None)
    assert row["delivered_at_ns"] is not None


def test_slack_gets_an_incoming_webhook_message(dispatcher: AlertDispatcher, org_id: str) -> None:
    with HookReceiver() as receiver:
        dispatcher.set_channels([channel("team", "slack", url=receiver.url)])
        dispatcher.submit(notice(org_id, severity="critical"))
        [request] = receiver.wait_for(1)

    message = request.json()
    assert message["text"] == (
        ":rotating_light: [CRITICAL] opened: Latency spike on fraud_detector "
        "(service=scoring-api, model=fraud_detector, version=1.2.3)"
    )
    blocks = message["blocks"]
    assert [block["type"] for block in blocks] == ["header", "section", "section", "section", "actions"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Latency spike on fraud_detector"}
    fields = [field["text"] for field in blocks[2]["fields"]]
    assert "*Severity*\ncritical" in fields
    assert "*Target*\nservice=scoring-api, model=fraud_detector, version=1.2.3" in fields
    assert blocks[3]["text"]["text"] == "*Recommended action:* Check the model host's CPU and recent deploys."
    assert blocks[4]["elements"][0]["url"] == f"{LINK_BASE}/api/v1/anomalies/7"


def test_pagerduty_trigger_then_resolve_with_one_dedup_key(dispatcher: AlertDispatcher, org_id: str) -> None:
    with HookReceiver() as receiver:
        dispatcher.set_channels(
            [channel("pager", "pagerduty", routing_key="R0UTINGKEY123", url=receiver.url)]
        )
        dispatcher.submit(notice(org_id))
        receiver.wait_for(1)  # in order: the resolve must not overtake the trigger
        dispatcher.submit(notice(org_id, event="resolved", status="resolved"))
        trigger, resolve = (request.json() for request in receiver.wait_for(2))

    assert trigger["routing_key"] == "R0UTINGKEY123"
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == f"aither-{org_id}-7"
    payload = trigger["payload"]
    assert payload["summary"] == (
        "Latency spike on fraud_detector (service=scoring-api, model=fraud_detector, version=1.2.3)"
    )
    assert (payload["severity"], payload["source"], payload["class"]) == (
        "error",
        "scoring-api",
        "latency_spike",
    )
    assert payload["custom_details"]["recommended_action"] == "Check the model host's CPU and recent deploys."
    assert payload["custom_details"]["evidence"] == {"observed_ms": 840.0, "baseline_ms": 120.0, "z": 6.2}
    assert trigger["links"] == [{"href": f"{LINK_BASE}/api/v1/anomalies/7", "text": "Open in aither"}]
    assert resolve == {
        "routing_key": "R0UTINGKEY123",
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }


def test_email_arrives_at_a_real_smtp_server(
    dispatcher: AlertDispatcher, storage: Storage, org_id: str
) -> None:
    with smtp_server() as (sink, port):
        dispatcher.set_channels(
            [
                channel(
                    "mail",
                    "email",
                    host="127.0.0.1",
                    port=port,
                    security="none",
                    to=["oncall@example.com", "ml@example.com"],
                    **{"from": "aither@example.com"},
                )
            ]
        )
        dispatcher.submit(notice(org_id))
        assert dispatcher.flush(15)
        assert sink.arrived.wait(5)

    [(sender, recipients, message)] = sink.messages
    assert (sender, recipients) == ("aither@example.com", ["oncall@example.com", "ml@example.com"])
    assert message["Subject"] == "[aither] [HIGH] opened: Latency spike on fraud_detector"
    body = message.get_content()
    assert "p95 latency 840 ms against a baseline of 120 ms" in body
    assert "Recommended action: Check the model host's CPU and recent deploys." in body
    assert f"{LINK_BASE}/api/v1/anomalies/7" in body
    [row] = deliveries(storage)
    assert (row["status"], row["attempts"]) == ("delivered", 1)


def test_email_logs_in_and_never_falls_back_to_plain_text(storage: Storage, org_id: str) -> None:
    mail = {"host": "127.0.0.1", "to": "oncall@example.com", "from": "aither@example.com", "max_attempts": 3}
    dispatcher = AlertDispatcher(storage).start()
    try:
        with smtp_server(login=("aither", "s3cret")) as (sink, port):
            dispatcher.set_channels(
                [
                    channel(
                        "right",
                        "email",
                        port=port,
                        security="none",
                        username="aither",
                        password="s3cret",
                        **mail,
                    ),
                    channel(
                        "wrong",
                        "email",
                        port=port,
                        security="none",
                        username="aither",
                        password="guess",
                        **mail,
                    ),
                    # this test server offers no STARTTLS: refuse, don't send in the clear
                    channel("tls", "email", port=port, security="starttls", **mail),
                ]
            )
            dispatcher.submit(notice(org_id))
            assert dispatcher.flush(15)
    finally:
        dispatcher.stop(timeout=2)
    assert len(sink.messages) == 1
    rows = {row["channel_name"]: row for row in deliveries(storage)}
    assert (rows["right"]["status"], rows["right"]["attempts"]) == ("delivered", 1)
    assert (rows["wrong"]["status"], rows["wrong"]["attempts"]) == (
        "failed",
        1,
    )  # a refused login isn't retried
    assert rows["wrong"]["last_error"].startswith("SMTP login refused: 535")
    assert (rows["tls"]["status"], rows["tls"]["attempts"]) == ("failed", 1)
    assert "security='starttls'" in rows["tls"]["last_error"]


def test_a_500_is_retried_and_every_attempt_is_logged(
    dispatcher: AlertDispatcher, storage: Storage, org_id: str
) -> None:
    with HookReceiver(script=[(500, {}), (502, {})]) as receiver:
        dispatcher.set_channels([channel("ops", "webhook", url=receiver.url, secret=SECRET)])
        dispatcher.submit(notice(org_id))
        assert dispatcher.flush(15)
        requests = receiver.wait_for(3)

    assert len({request.headers["x-aither-delivery"] for request in requests}) == 1  # one delivery, 3 tries
    [row] = deliveries(storage)
    assert (row["status"], row["attempts"], row["http_status"]) == ("delivered", 3, 200)
    assert dispatcher.stats()["retried"] == 2


def test_429_retry_after_is_honoured(dispatcher: AlertDispatcher, storage: Storage, org_id: str) -> None:
    with HookReceiver(script=[(429, {"Retry-After": "1"})]) as receiver:
        dispatcher.set_channels([channel("ops", "webhook", url=receiver.url, secret=SECRET)])
        dispatcher.submit(notice(org_id))
        assert dispatcher.flush(15)
        first, second = receiver.wait_for(2)

    # a lower bound only: the backoff alone would have been ~10 ms
    assert second.at - first.at >= 1.0
    [row] = deliveries(storage)
    assert (row["status"], row["attempts"]) == ("delivered", 2)


def test_a_client_error_fails_at_once_and_retries_stop_at_max_attempts(
    dispatcher: AlertDispatcher, storage: Storage, org_id: str
) -> None:
    with (
        HookReceiver(script=[(400, {})] + [(503, {})] * 3) as bad,
        HookReceiver(script=[(503, {})] * 3) as down,
    ):
        dispatcher.set_channels(
            [
                channel("bad", "webhook", url=bad.url, secret=SECRET),
                channel("down", "slack", url=down.url, max_attempts=3),
            ]
        )
        dispatcher.submit(notice(org_id))
        assert dispatcher.flush(15)
        assert len(bad.requests) == 1
        assert len(down.requests) == 3

    rows = {row["channel_name"]: row for row in deliveries(storage)}
    assert (rows["bad"]["status"], rows["bad"]["attempts"], rows["bad"]["http_status"]) == ("failed", 1, 400)
    assert rows["bad"]["last_error"] == "HTTP 400: nope"
    assert (rows["down"]["status"], rows["down"]["attempts"], rows["down"]["http_status"]) == (
        "failed",
        3,
        503,
    )
    assert dispatcher.stats()["failed"] == 2


def test_severity_rule_and_type_filters(dispatcher: AlertDispatcher, storage: Storage, org_id: str) -> None:
    with HookReceiver() as receiver:
        dispatcher.set_channels(
            [
                channel("high", "slack", url=receiver.url + "/high", min_severity="high"),
                channel("pii", "slack", url=receiver.url + "/pii", rules=["pii_detected"]),
                channel("security", "slack", url=receiver.url + "/sec", anomaly_types=["security_threat"]),
                channel("off", "slack", url=receiver.url + "/off", enabled=False),
            ]
        )
        dispatcher.submit(notice(org_id, id=1, severity="medium"))
        dispatcher.submit(notice(org_id, id=2, severity="critical"))
        dispatcher.submit(
            notice(org_id, id=3, severity="low", rule="pii_detected", anomaly_type="security_threat")
        )
        assert dispatcher.flush(15)

    got = sorted((row["channel_name"], row["anomaly_id"]) for row in deliveries(storage))
    assert got == [("high", 2), ("pii", 3), ("security", 3)]
    assert sorted(request.path for request in receiver.requests) == ["/hook/high", "/hook/pii", "/hook/sec"]


def test_submit_never_blocks_a_full_queue_drops_and_counts(storage: Storage, org_id: str) -> None:
    idle = AlertDispatcher(storage, max_queued=5)  # not started: nothing takes from the queue
    for index in range(50):
        idle.submit(notice(org_id, id=index))
    assert idle.stats()["submitted"] == 5
    assert idle.stats()["dropped"] == 45
    idle.stop(timeout=1)
    idle.submit(notice(org_id))  # after stop: dropped, never raised
    assert idle.stats()["dropped"] == 46


def test_a_hanging_channel_holds_up_no_other_channel_and_stop_keeps_its_deadline(
    storage: Storage, org_id: str
) -> None:
    dispatcher = AlertDispatcher(storage, link_base=LINK_BASE).start()
    with SilentServer() as silent, HookReceiver() as receiver:
        dispatcher.set_channels(
            [
                channel("hangs", "webhook", url=silent.url, secret=SECRET, timeout_s=60),
                channel("works", "webhook", url=receiver.url, secret=SECRET),
            ]
        )
        for index in range(3):
            dispatcher.submit(notice(org_id, id=index))
        assert silent.accepted.wait(10)
        assert len(receiver.wait_for(3)) == 3
        assert not dispatcher.flush(0.2)  # the hanging one is still at its first attempt
        dispatcher.stop(timeout=0.5)  # returns though the attempt in flight does not
        rows = deliveries(storage)

    hanging = [row for row in rows if row["channel_name"] == "hangs"]
    assert {row["status"] for row in rows if row["channel_name"] == "works"} == {"delivered"}
    # the one in flight is still pending; the two queued behind it were given up, and say so
    assert sorted(row["status"] for row in hanging) == ["failed", "failed", "pending"]
    assert {row["last_error"] for row in hanging if row["status"] == "failed"} == {
        "the server stopped before delivery"
    }


def test_a_backed_up_channel_logs_the_overflow_as_failed_at_once(storage: Storage, org_id: str) -> None:
    dispatcher = AlertDispatcher(storage, max_queued_per_channel=1).start()
    with SilentServer() as silent:
        dispatcher.set_channels([channel("hangs", "webhook", url=silent.url, secret=SECRET, timeout_s=60)])
        for index in range(4):
            dispatcher.submit(notice(org_id, id=index))
        assert silent.accepted.wait(10)
        deadline = time.monotonic() + 10
        while len(rows := deliveries(storage)) < 4 and time.monotonic() < deadline:
            silent.accepted.wait(0.01)  # (already set) a pause between reads of the log
        dispatcher.stop(timeout=0.5)

    assert len(rows) == 4  # every notice has its row
    overflow = [row for row in rows if row["status"] == "failed"]
    # one in flight, at most one queued, the rest overflowed (2 or 3: by when the worker took the first)
    assert 2 <= len(overflow) <= 3
    assert {row["last_error"] for row in overflow} == {"not sent: the channel's queue was full"}
    assert {row["status"] for row in rows if row not in overflow} == {"pending"}
    assert dispatcher.stats()["failed"] == len(overflow)


def test_the_alerts_migration_downgrades_and_upgrades_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from alembic import command
    from alembic.config import Config

    from aither.server.storage.engine import MIGRATIONS, create_engine, current_revision, migrate

    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        migrate(engine)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0005-1")  # relative: the chain before 0005 may be re-linked
        assert "alert_channels" not in sa.inspect(engine).get_table_names()
        assert current_revision(engine) != "0005"
        migrate(engine)
        assert {"alert_channels", "alert_deliveries"} <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
