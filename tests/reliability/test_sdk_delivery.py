"""Delivery when the receiver misbehaves: down and back, silent, throttling, refusing, rejecting
part of a batch, frozen. Real local receivers (``sdk_receivers``); the ledger must balance."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

import aither

from .sdk_receivers import ACCEPT, RESET, FaultyReceiver, SilentReceiver, partial, status


@pytest.fixture
def faulty() -> Iterator[FaultyReceiver]:
    with FaultyReceiver() as r:
        yield r


def client_for(base_url: str, **settings: object) -> aither.Client:
    options: dict[str, object] = {"api_key": "k", "base_url": base_url, "flush_interval": 30.0}
    options.update(settings)
    return aither.Client(**options)  # type: ignore[arg-type]


def predict(client: aither.Client, n: int) -> None:
    tracked = client.wrap(lambda x: x, name="echo")
    for i in range(n):
        assert tracked(i) == i


def balanced(stats: aither.Stats) -> bool:
    return stats.created == stats.exported + stats.dropped + stats.failed + stats.queued


def test_backend_down_and_back_loses_nothing(faulty: FaultyReceiver) -> None:
    client = client_for(faulty.base_url, export_timeout=30.0)
    faulty.down()
    predict(client, 20)
    assert client.flush(0.3) is False  # refused: still queued, waiting for the receiver
    stats = client.stats()
    assert stats.queued == 20 and stats.failed == 0 and balanced(stats)
    faulty.up()
    assert client.flush(10) is True
    assert faulty.span_names == ["predict echo"] * 20
    assert client.stats() == aither.Stats(
        created=20, exported=20, dropped=0, failed=0, queued=0, queued_bytes=0, internal_errors=0
    )
    client.close()


def test_export_resumes_within_about_a_second_of_the_receiver_coming_back(faulty: FaultyReceiver) -> None:
    # Connections are reset while the receiver is "crashed", so its attempts can be counted.
    # OpenTelemetry's own loop tries twice at 0, 1 and 3 s, then waits 4 s: after six attempts
    # it would next try seconds later; aither's session tries at least every OUTAGE_POLL seconds.
    faulty.answer = RESET
    client = client_for(faulty.base_url, export_timeout=30.0, flush_interval=0.05)
    predict(client, 5)
    assert faulty.wait_for(lambda r: r.count("reset") >= 6, timeout=20)
    faulty.answer = ACCEPT
    assert client.flush(1.5) is True
    assert client.stats().exported == 5 and faulty.span_names == ["predict echo"] * 5
    client.close()


def test_a_silent_receiver_fails_the_export_at_its_timeout_and_flushes_leak_no_thread() -> None:
    with SilentReceiver() as silent:
        client = client_for(silent.base_url, export_timeout=1.0)
        predict(client, 3)
        assert client.flush(0.1) is False
        threads = threading.active_count()
        for _ in range(5):
            predict(client, 1)
            assert client.flush(0.1) is False
            assert threading.active_count() <= threads
        # The retry budget: the export gives up at export_timeout, well within this flush.
        client.flush(15)
        stats = client.stats()
        assert stats.queued == 0 and stats.failed == 8 and stats.exported == 0 and balanced(stats)
        client.close(0.5)


@pytest.mark.parametrize("code", [429, 503])
def test_retry_after_is_honoured_as_one_wait_not_a_poll(faulty: FaultyReceiver, code: int) -> None:
    faulty.answer = status(code, retry_after="1")
    client = client_for(faulty.base_url, export_timeout=10.0)
    predict(client, 4)
    done = threading.Thread(target=client.flush, args=(10,))
    done.start()
    assert faulty.wait_for(lambda r: r.count(str(code)) == 1)
    faulty.answer = ACCEPT
    done.join(10)
    assert not done.is_alive()
    # Exactly one refused request, then the retry after the wait asked for: nothing between.
    assert faulty.answers == [str(code), "200"]
    assert client.stats().exported == 4
    client.close()


def test_a_retry_after_past_the_export_timeout_fails_within_the_budget(faulty: FaultyReceiver) -> None:
    faulty.answer = status(503, retry_after="3600")
    client = client_for(faulty.base_url, export_timeout=1.0)
    predict(client, 3)
    assert client.flush(15) is False
    stats = client.stats()
    assert stats.failed == 3 and stats.queued == 0 and balanced(stats)
    assert faulty.answers == ["503"]
    client.close()


def test_a_receiver_down_past_the_export_timeout_fails_within_the_budget(faulty: FaultyReceiver) -> None:
    faulty.down()
    client = client_for(faulty.base_url, export_timeout=1.0)
    predict(client, 6)
    # Tried again and again inside the budget, then given up: failed, not queued for ever.
    assert client.flush(15) is False
    stats = client.stats()
    assert stats.failed == 6 and stats.queued == 0 and balanced(stats)
    client.close(0.5)


def test_a_gateway_without_retry_after_is_polled_until_the_receiver_is_back(faulty: FaultyReceiver) -> None:
    faulty.answer = status(502)
    client = client_for(faulty.base_url, export_timeout=30.0, flush_interval=0.05)
    predict(client, 2)
    assert faulty.wait_for(lambda r: r.count("502") >= 3)
    faulty.answer = ACCEPT
    assert client.flush(1.5) is True
    assert client.stats().exported == 2
    client.close()


@pytest.mark.parametrize("code", [400, 401, 413])
def test_non_retryable_statuses_fail_at_once_without_retries(faulty: FaultyReceiver, code: int) -> None:
    faulty.answer = status(code)
    client = client_for(faulty.base_url, export_timeout=30.0)
    predict(client, 5)
    assert client.flush(10) is False
    stats = client.stats()
    assert stats.failed == 5 and stats.exported == 0 and stats.queued == 0 and balanced(stats)
    assert faulty.answers == [str(code)]
    client.close()


@pytest.mark.parametrize("json_body", [False, True], ids=["protobuf", "json"])
def test_a_partial_success_counts_the_rejected_spans_as_failed(
    faulty: FaultyReceiver, json_body: bool, caplog: pytest.LogCaptureFixture
) -> None:
    faulty.answer = partial(7, "7 spans had no model name", json_body=json_body)
    client = client_for(faulty.base_url, batch_size=50)
    for _ in range(3):
        predict(client, 50)
        assert client.flush(10) is False  # not all of it was delivered
    stats = client.stats()
    assert (stats.created, stats.exported, stats.failed, stats.queued) == (150, 129, 21, 0)
    assert balanced(stats)
    lines = [r.getMessage() for r in caplog.records if r.name == "aither" and r.levelno >= logging.WARNING]
    assert len(lines) == 1 and "rejected 7 of its 50 spans: 7 spans had no model name" in lines[0]
    client.close()


def test_a_frozen_receiver_delays_delivery_and_loses_nothing_when_it_resumes(faulty: FaultyReceiver) -> None:
    faulty.pause()
    client = client_for(faulty.base_url, export_timeout=30.0)
    predict(client, 10)
    assert client.flush(0.3) is False
    assert client.stats().queued == 10
    predict(client, 10)  # more traffic while frozen: queued, not lost
    faulty.resume()
    assert client.flush(10) is True
    assert sorted(faulty.span_names) == ["predict echo"] * 20
    assert client.stats().exported == 20 and balanced(client.stats())
    client.close()
