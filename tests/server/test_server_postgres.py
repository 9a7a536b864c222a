"""The same server on PostgreSQL: a throwaway cluster on a free port, started and stopped here.

Skipped, saying which, only when the PostgreSQL binaries (initdb, pg_ctl), psycopg, or (as
root) the postgres account to run them as are missing; a cluster that is installed but does
not start fails the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from otlp_builder import PROTOBUF, Spans, body, ids, new_trace_id
from pg_cluster import postgres_cluster

from aither.server import ServerSettings, Storage, create_app
from aither.server.bootstrap import bootstrap
from aither.server.storage.engine import create_engine
from aither.server.storage.schema import metadata

pytestmark = pytest.mark.postgres

KEY = "aith_postgres_test_admin_key_000001"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def pg_storage(postgres_url: str, tmp_path) -> Iterator[tuple[Storage, ServerSettings]]:  # type: ignore[no-untyped-def]
    settings = ServerSettings(
        home=tmp_path, database_url=postgres_url, init_api_key=KEY, announce=False, write_credentials=False
    )
    storage = Storage.open(postgres_url)
    bootstrap(storage, settings)
    yield storage, settings
    storage.close()
    engine = create_engine(postgres_url)
    with engine.begin() as connection:  # leave an empty database for the next test
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


def test_migrations_on_postgres_match_the_schema(pg_storage) -> None:  # type: ignore[no-untyped-def]
    storage, _ = pg_storage
    assert storage.dialect == "postgresql"
    with storage.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


async def test_ingest_join_metrics_and_management_on_postgres(pg_storage) -> None:  # type: ignore[no-untyped-def]
    storage, settings = pg_storage
    app = create_app(settings, storage)
    spans = Spans()
    auth = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://pg", headers=auth
    ) as http:
        prediction = spans.prediction("fraud", [1, 0, 1, 1], duration_ms=4)
        trace_id, span_id = ids(prediction)
        early_trace = new_trace_id()
        early_label = spans.label(early_trace, 0, model="fraud")
        payload = body(prediction, spans.label(trace_id, [1, 0, 0, 1], target=span_id), early_label)
        for _ in range(2):  # a replay is stored once on PostgreSQL too
            assert (await http.post("/v1/traces", content=payload, headers=PROTOBUF)).status_code == 200
        late = spans.prediction("fraud", [0], trace_id=early_trace, duration_ms=2)
        assert (await http.post("/v1/traces", content=body(late), headers=PROTOBUF)).status_code == 200

        results = await asyncio.gather(
            *(
                http.post("/v1/traces", content=body(spans.prediction("burst", [i % 2])), headers=PROTOBUF)
                for i in range(40)
            )
        )
        assert {response.status_code for response in results} == {200}

        (version,) = (await http.get("/api/v1/models/fraud/metrics")).json()["versions"]
        assert (version["predictions"], version["rows"], version["labelled_rows"]) == (2, 5, 5)
        assert version["classification"]["accuracy"] == pytest.approx(4 / 5)
        assert version["latency_ms"]["p50"] == pytest.approx(3.0)  # percentile_cont of 2 ms and 4 ms
        models = {m["name"]: m["predictions"] for m in (await http.get("/api/v1/models")).json()}
        assert models == {"fraud": 2, "burst": 40}
        usage = (await http.get("/api/v1/org/usage")).json()
        assert (usage["spans"], usage["predictions"], usage["labels"]) == (44, 42, 2)
        trace = (await http.get(f"/api/v1/traces/{early_trace}")).json()
        assert [label["status"] for label in trace["labels"]] == ["joined"]

        created = (await http.post("/api/v1/api-keys", json={"name": "reader", "scopes": ["read"]})).json()
        reader = {"Authorization": f"Bearer {created['secret']}"}
        assert (await http.get("/api/v1/models", headers=reader)).status_code == 200
        assert (
            await http.post("/v1/traces", content=payload, headers={**PROTOBUF, **reader})
        ).status_code == 403
        assert (await http.delete(f"/api/v1/api-keys/{created['id']}")).status_code == 200
        assert (await http.get("/api/v1/models", headers=reader)).status_code == 401


async def test_nul_characters_and_huge_counts_are_stored_on_postgres_too(pg_storage) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL text can't hold NUL and its INTEGER is 32 bits; SQLite minds neither. Spans
    carrying them are stored, not answered with 500."""
    storage, settings = pg_storage
    app = create_app(settings, storage)
    spans = Spans()
    auth = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://pg", headers=auth
    ) as http:
        odd = spans.prediction("nul\x00model", ["cat\x00"], version="1\x00")
        odd.name = "predict nul\x00model"
        odd.status.message = "bad\x00status"
        label = spans.label(ids(odd)[0], "cat\x00")
        plain = spans.span("GET /\x00", {"http.route": "/\x00"})
        huge = spans.span("chat big", {"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 2**40})
        response = await http.post("/v1/traces", content=body(odd, label, plain, huge), headers=PROTOBUF)
        assert response.status_code == 200, response.content
        (call,) = (await http.get("/api/v1/llm-calls")).json()["items"]
        assert call["input_tokens"] is None  # past PostgreSQL's INTEGER: dropped, the call kept
        models = (await http.get("/api/v1/models")).json()
        assert [(m["name"], m["version"], m["labelled_rows"]) for m in models] == [
            ("nul\ufffdmodel", "1\ufffd", 1)
        ]
        (version,) = (await http.get("/api/v1/models/nul\ufffdmodel/metrics")).json()["versions"]
        assert version["classification"]["accuracy"] == 1.0
        trace = (await http.get(f"/api/v1/traces/{ids(plain)[0]}")).json()
        (stored,) = trace["spans"]
        assert (stored["name"], stored["attributes"]) == ("GET /\ufffd", {"http.route": "/\x00"})


async def test_rollups_anomalies_and_prune_on_postgres(pg_storage) -> None:  # type: ignore[no-untyped-def]
    """The rollup upsert (ON CONFLICT DO UPDATE), the one-open-anomaly constraint and pruning
    work on PostgreSQL as on SQLite."""
    storage, settings = pg_storage
    app = create_app(settings, storage)
    spans = Spans()
    auth = {"Authorization": f"Bearer {KEY}"}
    llm = {
        "aither.span.kind": "llm",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 20,
        "aither.cost.usd": 0.001,
        "aither.pii.detected": True,
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://pg", headers=auth
    ) as http:
        for _ in range(2):  # two requests in the same minute: the second upsert adds to the first
            payload = body(spans.span("chat", llm, duration_ms=100), spans.prediction("fraud", [1]))
            assert (await http.post("/v1/traces", content=payload, headers=PROTOBUF)).status_code == 200
        stats = (await http.get("/api/v1/stats")).json()
        assert (stats["llm"]["total"], stats["llm"]["total_tokens"], stats["llm"]["pii_events"]) == (
            2,
            240,
            2,
        )
        assert stats["llm"]["total_cost_usd"] == pytest.approx(0.002)
        assert [(m["model"], m["predictions"]) for m in stats["models"]] == [("fraud", 2)]
        (anomaly,) = (await http.get("/api/v1/anomalies")).json()
        assert (anomaly["rule"], anomaly["count"], anomaly["severity"]) == ("pii_detected", 2, "high")
        resolved = (await http.post(f"/api/v1/anomalies/{anomaly['id']}/resolve")).json()
        assert resolved["status"] == "resolved"
        old = spans.span("chat", llm, start_ns=spans.now_ns - 10 * 86_400 * 10**9)
        assert (await http.post("/v1/traces", content=body(old), headers=PROTOBUF)).status_code == 200
        assert len((await http.get("/api/v1/anomalies")).json()) == 2  # the resolved one, a new one
        pruned = (await http.post("/api/v1/prune", json={"older_than": "7d"})).json()["deleted"]
        assert (pruned["llm_calls"], pruned["spans"], pruned["rollups"]) == (1, 1, 1)


async def test_a_prediction_and_its_label_stored_at_once_by_two_servers_join(pg_storage) -> None:  # type: ignore[no-untyped-def]
    """Two servers (two storages, two writers, two apps) on one PostgreSQL; each prediction goes
    to one and its label to the other at the same moment: every label must end up joined."""
    storage, settings = pg_storage
    other = Storage.open(settings.database_url)
    spans = Spans()
    auth = {"Authorization": f"Bearer {KEY}"}
    try:
        clients = [
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(settings, store)),
                base_url="http://pg",
                headers=auth,
            )
            for store in (storage, other)
        ]
        pairs = []
        for _ in range(40):
            prediction = spans.prediction("paired", 1)
            trace_id, span_id = ids(prediction)
            pairs.append((prediction, spans.label(trace_id, 1, target=span_id)))
        for index, (prediction, label) in enumerate(pairs):
            first, second = clients[index % 2], clients[(index + 1) % 2]
            answers = await asyncio.gather(
                first.post("/v1/traces", content=body(prediction), headers=PROTOBUF),
                second.post("/v1/traces", content=body(label), headers=PROTOBUF),
            )
            assert [answer.status_code for answer in answers] == [200, 200]
        listed = (await clients[0].get("/api/v1/labels", params={"limit": 100})).json()["items"]
        for client in clients:
            await client.aclose()
    finally:
        other.close()
    assert len(listed) == 40
    assert {item["status"] for item in listed} == {"joined"}


def test_two_servers_adding_a_periods_first_usage_at_once_both_count(pg_storage) -> None:  # type: ignore[no-untyped-def]
    """The first usage row of a period, inserted by two servers' transactions at the same moment:
    the second waits for the first's commit, then adds to its row (no unique-key error, a 500)."""
    import threading
    import time

    import sqlalchemy as sa

    from aither.server.storage.schema import organizations
    from aither.server.storage.usage import add_usage, read_usage

    storage, _ = pg_storage
    period = 1_000_000_000  # a period no request of the test touched
    with storage.read() as connection:
        org_id = connection.execute(sa.select(organizations.c.id)).scalar_one()
    errors: list[BaseException] = []
    first = storage.engine.connect()
    transaction = first.begin()
    add_usage(first, org_id, period, {"spans": 3})
    (first_pid,) = first.exec_driver_sql("SELECT pg_backend_pid()").one()

    def second() -> None:
        try:
            with storage.engine.begin() as connection:
                add_usage(connection, org_id, period, {"spans": 4, "labels": 1})
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    thread = threading.Thread(target=second)
    thread.start()
    deadline = time.monotonic() + 30
    with storage.engine.connect() as watcher:  # until the second transaction waits on the first
        while not watcher.exec_driver_sql(
            "SELECT 1 FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND %(pid)s = ANY(pg_blocking_pids(pid))",
            {"pid": first_pid},
        ).first():
            assert time.monotonic() < deadline and thread.is_alive(), "the second insert did not wait"
            time.sleep(0.01)
    transaction.commit()
    first.close()
    thread.join(30)
    assert not thread.is_alive() and errors == []
    with storage.read() as connection:
        counts = read_usage(connection, org_id, period)
    assert (counts["spans"], counts["labels"]) == (7, 1)
