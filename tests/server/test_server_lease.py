"""The lease of the once-only work: one holder, expiry and takeover, fencing, and the outbox claims.

Two "servers" here are two engines on one database (a SQLite file, or a real PostgreSQL
cluster where many threads race for the lease at once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from pg_cluster import postgres_cluster
from sqlalchemy.engine import Engine

from aither.server.alerts.outbox import IN_FLIGHT_LOST, claim, claimable
from aither.server.lease import PERIODIC, LeaseKeeper, LeaseLost, acquire, fence, read, release
from aither.server.storage.engine import create_engine, migrate
from aither.server.storage.schema import alert_deliveries

S = 1_000_000_000


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = create_engine(url)
    migrate(first)
    second = create_engine(url)
    yield first, second
    first.dispose()
    second.dispose()


def _acquire(engine: Engine, holder: str, now_ns: int, ttl_s: float = 10.0) -> int | None:
    with engine.begin() as connection:
        return acquire(connection, PERIODIC, holder, ttl_s, now_ns)


def test_one_holder_renews_another_takes_over_after_expiry_with_a_new_token(engines) -> None:  # type: ignore[no-untyped-def]
    a, b = engines
    now = time.time_ns()
    assert _acquire(a, "a", now) == 1
    assert _acquire(b, "b", now + 1 * S) is None  # held and not expired
    assert _acquire(a, "a", now + 5 * S) == 1  # renewing keeps the token
    assert _acquire(b, "b", now + 14 * S) is None  # renewed at +5 s: lasts until +15 s
    assert _acquire(b, "b", now + 16 * S) == 2  # expired: taken over, token + 1
    assert _acquire(a, "a", now + 17 * S) is None  # the old holder can't renew it back
    with a.connect() as connection:
        row = read(connection, PERIODIC)
    assert row is not None and row["holder"] == "b" and row["token"] == 2


def test_a_paused_old_holder_is_fenced_off(engines) -> None:  # type: ignore[no-untyped-def]
    a, b = engines
    now = time.time_ns()
    old = _acquire(a, "a", now)
    assert old == 1
    assert _acquire(b, "b", now + 11 * S) == 2
    with a.begin() as connection:
        connection.execute(sa.text("CREATE TABLE fenced_writes (token INTEGER)"))

    def write(engine: Engine, token: int) -> None:
        with engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO fenced_writes VALUES (:t)"), {"t": token})
            fence(connection, PERIODIC, token)  # raises after the write: it rolls back

    with pytest.raises(LeaseLost):
        write(a, old)
    write(b, 2)
    with a.connect() as connection:
        assert [row[0] for row in connection.execute(sa.text("SELECT token FROM fenced_writes"))] == [2]


def test_release_hands_the_lease_over_at_once(engines) -> None:  # type: ignore[no-untyped-def]
    a, b = engines
    now = time.time_ns()
    assert _acquire(a, "a", now) == 1
    with a.begin() as connection:
        release(connection, PERIODIC, "a")
    assert _acquire(b, "b", now + 1) == 2


def test_keepers_one_holds_and_a_dead_ones_lease_moves_within_the_ttl(engines) -> None:  # type: ignore[no-untyped-def]
    a, b = engines
    first = LeaseKeeper(a, ttl_s=0.6, holder="first").start()
    second = LeaseKeeper(b, ttl_s=0.6, holder="second").start()
    try:
        assert first.token() == 1 and second.token() is None
        # "kill" the holder: its thread stops renewing and it never releases
        first._stop.set()
        assert first._thread is not None
        first._thread.join(5)
        assert second.acquired.wait(10), "the lease did not move to the live server"
        assert second.token() == 2
        assert first.token() is None  # it stops acting on its own after 80 % of the TTL
        with b.connect() as connection:
            row = read(connection, PERIODIC)
        assert row is not None and row["holder"] == "second"
    finally:
        second.stop()


def _delivery(engine: Engine, **values: object) -> int:
    row = {
        "org_id": "org_1",
        "channel_id": "file:hook",
        "channel_name": "hook",
        "channel_kind": "webhook",
        "anomaly_id": 1,
        "event": "opened",
        "severity": "high",
        "title": "t",
        "status": "pending",
        "attempts": 0,
        "created_at_ns": 1,
        "updated_at_ns": 1,
        "notice": "{}",
        **values,
    }
    with engine.begin() as connection:
        key = connection.execute(alert_deliveries.insert().values(row)).inserted_primary_key
    assert key is not None
    return int(key[0])


def test_outbox_rows_are_claimed_once_and_a_takeover_resends_only_what_is_safe(engines) -> None:  # type: ignore[no-untyped-def]
    a, b = engines
    fresh = _delivery(a)
    never_tried = _delivery(a, claim_token=1)
    waiting_retry = _delivery(a, claim_token=1, attempts=1, next_attempt_at_ns=5)
    in_flight = _delivery(a, claim_token=1, attempts=1)
    with a.begin() as connection:
        rows = {row["id"]: row for row in claimable(connection, 1, 10)}
        assert set(rows) == {fresh}  # token 1's own claims are not offered back to it
        assert claim(connection, rows[fresh], 1, 2)
    with b.begin() as connection:  # the same row, read before the claim: the second claim loses
        assert not claim(connection, {**rows[fresh], "claim_token": None}, 2, 3)
    with b.begin() as connection:  # holder 2 takes over holder 1's rows
        offered = {row["id"]: row for row in claimable(connection, 2, 10)}
        assert set(offered) == {fresh, never_tried, waiting_retry, in_flight}
        taken = {i for i in offered if claim(connection, offered[i], 2, 4)}
    assert taken == {fresh, never_tried, waiting_retry}
    with a.connect() as connection:
        lost = connection.execute(sa.select(alert_deliveries).where(alert_deliveries.c.id == in_flight))
        row = lost.mappings().one()
    assert row["status"] == "failed" and row["last_error"] == IN_FLIGHT_LOST


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_cluster() as url:
        engine = create_engine(url)
        migrate(engine)
        engine.dispose()
        yield url


@pytest.mark.postgres
def test_on_postgresql_exactly_one_of_many_racing_servers_takes_the_lease(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        now = time.time_ns()
        for round_number in range(3):  # a fresh lease (the INSERT), then takeovers (the UPDATE)
            at = now + round_number * 20 * S
            start = threading.Barrier(8)

            def race(index: int, at: int = at, start: threading.Barrier = start) -> int | None:
                start.wait(10)
                return _acquire(engine, f"server-{round_number}-{index}", at)

            with ThreadPoolExecutor(8) as pool:
                won = [token for token in pool.map(race, range(8)) if token is not None]
            assert won == [round_number + 1]
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM leases"))
        engine.dispose()


async def test_window_rules_run_only_on_the_holder(storage, send, spans) -> None:  # type: ignore[no-untyped-def]
    detection = storage.detection
    detection.lease = lambda: None  # another server holds the lease
    start = time.time_ns()
    failing = [
        spans.prediction("flaky", 1, start_ns=start + i * 1_000_000, error="boom" if i % 2 else None)
        for i in range(40)
    ]
    await send(*failing)

    def rules() -> set[str]:
        with storage.read() as connection:
            return {row[0] for row in connection.execute(sa.text("SELECT rule FROM anomalies"))}

    detection.tick(storage.engine)
    assert "model_errors" not in rules()  # not the holder: the window rules did not run
    with storage.engine.begin() as connection:
        token = acquire(connection, PERIODIC, "this-server", 10.0, time.time_ns())
    detection.lease = lambda: token
    detection.tick(storage.engine)
    assert "model_errors" in rules()
    assert detection.errors == 0


def test_retention_prunes_only_on_the_holder(storage) -> None:  # type: ignore[no-untyped-def]
    from aither.server.detection.retention import RetentionLoop

    holder = threading.Event()
    asked = threading.Semaphore(0)

    def lease() -> int | None:
        asked.release()
        return 1 if holder.is_set() else None

    loop = RetentionLoop(storage, retention_s=30 * 86_400, every_s=0.01, lease=lease).start()
    try:
        for _ in range(3):  # it looked three times, and pruned none of them
            assert asked.acquire(timeout=10)
        assert loop.runs == 0 and not loop.ran.is_set()
        holder.set()
        assert loop.ran.wait(10), "the holder did not prune"
    finally:
        loop.stop()
