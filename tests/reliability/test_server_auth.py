"""Failed sign-ins are rate-limited per address (429 + Retry-After); valid keys never are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from aither.server import ServerSettings, Storage, create_app
from aither.server.auth import FailedSignIns

from . import server_fixtures as fx
from .server_fixtures import PROTOBUF, Spans, body

storage = fx.storage
BURST = 5
WRONG = {"Authorization": "Bearer aith_wrong_key_0000000000000000000000"}


@pytest.fixture
def settings(tmp_path: Path) -> ServerSettings:
    return fx.make_settings(tmp_path, auth_failure_burst=BURST, auth_failure_rate=6.0)


def _client(settings: ServerSettings, storage: Storage, address: str) -> httpx.AsyncClient:
    app = create_app(settings, storage)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 40000)),
        base_url=fx.BASE_URL,
        headers={"Authorization": f"Bearer {fx.ADMIN_KEY}"},
    )


@pytest.fixture
async def client(settings: ServerSettings, storage: Storage) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(settings, storage, "192.0.2.7") as http:
        yield http


async def test_wrong_keys_get_429_after_the_burst_and_valid_keys_still_pass(
    client: httpx.AsyncClient,
) -> None:
    statuses = [(await client.get("/api/v1/org", headers=WRONG)).status_code for _ in range(500)]
    assert statuses[:BURST] == [401] * BURST
    assert set(statuses[BURST:]) == {429}
    throttled = await client.get("/api/v1/org", headers=WRONG)
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 10  # 6 per minute: one back every 10 s
    assert "too many failed sign-ins" in throttled.json()["detail"]

    assert (await client.get("/api/v1/org")).status_code == 200  # the valid key from the same address
    spans = Spans()
    export = await client.post("/v1/traces", content=body(spans.span("ok", {})), headers=PROTOBUF)
    assert export.status_code == 200
    refused = await client.post(
        "/v1/traces", content=body(spans.span("no", {})), headers={**PROTOBUF, **WRONG}
    )
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


async def test_missing_keys_count_as_failures(client: httpx.AsyncClient) -> None:
    anonymous = {"Authorization": ""}
    statuses = [(await client.get("/api/v1/org", headers=anonymous)).status_code for _ in range(BURST + 2)]
    assert statuses == [401] * BURST + [429, 429]


async def test_one_app_counts_each_address_on_its_own(settings: ServerSettings, storage: Storage) -> None:
    app = create_app(settings, storage)

    async def statuses(address: str, count: int) -> list[int]:
        transport = httpx.ASGITransport(app=app, client=(address, 1234))
        async with httpx.AsyncClient(transport=transport, base_url=fx.BASE_URL, headers=WRONG) as http:
            return [(await http.get("/api/v1/users")).status_code for _ in range(count)]

    assert await statuses("203.0.113.1", BURST + 1) == [401] * BURST + [429]
    assert await statuses("203.0.113.2", BURST) == [401] * BURST


def test_the_bucket_refills_and_memory_is_bounded() -> None:
    now = [0.0]
    limiter = FailedSignIns(burst=2, per_minute=60.0, max_addresses=100, clock=lambda: now[0])
    assert [limiter.failed("a") for _ in range(3)] == [None, None, 1]
    now[0] += 1.0  # one failure earned back per second
    assert limiter.failed("a") is None
    assert limiter.failed("a") == 1
    now[0] += 60.0
    assert [limiter.failed("a") for _ in range(3)] == [None, None, 1]  # never more than the burst
    for index in range(1_000):
        limiter.failed(f"10.0.{index // 256}.{index % 256}")
    assert len(limiter) == 100
    assert limiter.failed("a") is None  # forgotten: a full bucket again
