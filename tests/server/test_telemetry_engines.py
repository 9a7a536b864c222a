"""The same stream, the same answers, on every engine: SQLite, PostgreSQL, ClickHouse 18.16
(a real ``clickhouse-server`` started here) and chDB (ClickHouse 26.x in-process).

One stream of OTLP exports (bytes built once, so ids and times match) goes to the real app on
each engine; the label join (labels before predictions, replays once, placement by model),
metrics, stats, the predictions list and LLM totals must equal SQLite's answers. Each engine
is a real database process (or chDB's engine in this one); a missing one is skipped, saying why.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from otlp_builder import PROTOBUF, Spans, body, ids, new_trace_id

from aither.schema import semconv as sc
from aither.server import ServerSettings, Storage, create_app
from aither.server.bootstrap import bootstrap
from aither.server.detection import retention, shared
from aither.server.storage.schema import organizations
from aither.server.storage.writer import CallableJob

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import clickhouse_server  # noqa: E402
from test_server_postgres import postgres_url  # noqa: E402, F401 - the module's PostgreSQL fixture

KEY = "aith_engines_test_admin_key_0000001"


def _stream() -> list[bytes]:
    """Exports in order: a replayed one, labels before their predictions, two models, LLM calls."""
    spans = Spans()
    spans.now_ns = 1_790_000_000_000_000_000  # fixed, so every engine gets the same bytes
    t0 = spans.now_ns
    fraud = spans.prediction("fraud", [1, 0, 1, 1], duration_ms=4, start_ns=t0)
    trace, span = ids(fraud)
    early_trace = new_trace_id()
    early_label = spans.label(early_trace, 0, model="fraud", start_ns=t0 + 5_000_000_000)
    first = body(
        fraud, spans.label(trace, [1, 0, 0, 1], target=span, start_ns=t0 + 2_000_000_000), early_label
    )
    late = spans.prediction("fraud", [0], trace_id=early_trace, duration_ms=2, start_ns=t0 + 3_000_000_000)
    shared = new_trace_id()
    price = spans.prediction(
        "price", [10.0, 20.0], trace_id=shared, version="2", duration_ms=7, start_ns=t0 + 100
    )
    other = spans.prediction("fraud", [1], trace_id=shared, duration_ms=1, start_ns=t0 + 1)
    price_label = spans.label(shared, [12.0, 17.0], model="price", start_ns=t0 + 9_000_000_000)
    calls = [
        spans.span(
            "chat gpt",
            {
                sc.GEN_AI_REQUEST_MODEL: model,
                sc.GEN_AI_RESPONSE_MODEL: model,
                sc.GEN_AI_PROVIDER_NAME: "openai",
                sc.GEN_AI_USAGE_INPUT_TOKENS: 10 * (i + 1),
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
                sc.ENDUSER_ID: user,
            },
            start_ns=t0 + i * 1_000_000,
            duration_ms=100 + i,
        )
        for i, (model, user) in enumerate([("gpt-4o", "ann"), ("gpt-4o", "bob"), ("gpt-4o-mini", "ann")])
    ]
    failed = spans.span("chat gpt", {sc.GEN_AI_REQUEST_MODEL: "gpt-4o"}, start_ns=t0 + 9, error="timeout")
    # a row labelled again: the newer label wins, an older one loses, on every engine
    newer = spans.label(trace, [1], target=span, row_indices=[2], start_ns=t0 + 20_000_000_000)
    older = spans.label(trace, [0], target=span, row_indices=[0], start_ns=t0 + 1_000_000_000)
    # a label placed as its trace's only prediction moves (ambiguous) when a second one arrives
    lone_trace = new_trace_id()
    lone = spans.prediction("solo", [1], trace_id=lone_trace, start_ns=t0 + 200)
    lone_label = spans.label(lone_trace, 1, start_ns=t0 + 4_000_000_000)
    second = spans.prediction("duo", [0], trace_id=lone_trace, start_ns=t0 + 300)
    return [
        first,
        first,
        body(late),
        body(price, other, price_label),
        body(*calls, failed),
        body(*calls),
        body(newer, older),
        body(lone, lone_label),
        body(second),
    ]


STREAM = _stream()
WINDOW = {"since": "2026-09-20T00:00:00Z", "until": "2026-09-23T00:00:00Z"}


def api_client(storage: Storage, settings: ServerSettings, key: str = KEY) -> httpx.AsyncClient:
    """An HTTP client of the server's app on ``storage``, in process, with ``key``."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, storage)),
        base_url="http://engines.test",
        headers={"Authorization": f"Bearer {key}"},
    )


NOW_NS = 1_790_000_010_000_000_000
"""Event time 10 s after the stream's start, its calls all within the window rules' last
seconds: when the window rules run."""
ANOMALY = ("rule", "kind", "service", "model", "version", "environment", "severity", "status", "count")


def _window_rules(storage: Storage) -> list[Any]:
    """One tick of the window rules at :data:`NOW_NS`, on the writer (as its own ticks run),
    reading the latest calls from the store as the lease holder of several servers does; returns
    what that read found (per target, the calls), which must be the same on every engine."""

    def tick(connection: sa.Connection) -> list[Any]:
        (org_id,) = connection.execute(sa.select(organizations.c.id)).scalars()
        storage.detection.evaluate(connection, org_id, NOW_NS)
        recent = shared.recent_calls(connection, org_id, NOW_NS, storage.detection.telemetry)
        held = recent.held().items()
        return sorted((key, [dataclasses.astuple(call) for call in calls]) for key, calls in held)

    return storage.writer.run(tick)


async def _send_in_one_transaction(storage: Storage, http: httpx.AsyncClient) -> None:
    """Every export of the stream queued, in order, behind a job that holds the writer, so the
    writer takes them together: one transaction, one telemetry write (the replayed export too)."""
    release = threading.Event()
    blocker = storage.writer.submit(CallableJob(lambda _: release.wait(30)))
    deadline = time.monotonic() + 30
    while not blocker.running():
        assert time.monotonic() < deadline, "the writer did not take the holding job"
        await asyncio.sleep(0.01)
    batches = storage.writer.batches
    posts = []
    for payload in STREAM:
        weight = storage.writer.queued_weight
        posts.append(asyncio.ensure_future(http.post("/v1/traces", content=payload, headers=PROTOBUF)))
        while storage.writer.queued_weight == weight:  # queued: the next export goes behind it
            assert time.monotonic() < deadline, "an export was not queued"
            await asyncio.sleep(0.01)
    release.set()
    for response in await asyncio.gather(*posts):
        assert response.status_code == 200, response.content
    assert storage.writer.batches == batches + 2  # the holding job's, then the stream's


async def _answers(
    storage: Storage,
    settings: ServerSettings,
    batched: bool = False,
    after: Mapping[int, Callable[[], Any]] | None = None,
) -> dict[str, Any]:
    """The answers to every read after the stream (``after``: what to run once export i is in)."""
    # as with several servers: the clocks and latest calls come from the store (on ClickHouse,
    # from ClickHouse), never from this server's memory
    storage.detection.shared = True
    async with api_client(storage, settings) as http:
        if batched:
            await _send_in_one_transaction(storage, http)
        for index, payload in enumerate(STREAM if not batched else ()):
            response = await http.post("/v1/traces", content=payload, headers=PROTOBUF)
            assert response.status_code == 200, response.content
            if after and index in after:
                after[index]()
        recent = _window_rules(storage)

        async def get(path: str, **params: Any) -> Any:
            response = await http.get(path, params=params)
            assert response.status_code == 200, (path, response.text)
            return response.json()

        page = await get("/api/v1/predictions", limit=2)
        rest = await get("/api/v1/predictions", limit=10, cursor=page["next_cursor"])
        labels = await get("/api/v1/labels", limit=3)
        more_labels = await get("/api/v1/labels", limit=50, cursor=labels["next_cursor"])
        traces = {}
        for item in page["items"] + rest["items"]:
            traces[item["trace_id"]] = await get(f"/api/v1/traces/{item['trace_id']}")
        for call in (await get("/api/v1/llm-calls"))["items"][:1]:
            traces[call["trace_id"]] = await get(f"/api/v1/traces/{call['trace_id']}")
        first_call = await get("/api/v1/llm-calls", limit=1, provider="openai")
        next_calls = await get(
            "/api/v1/llm-calls", limit=10, provider="openai", cursor=first_call["next_cursor"]
        )
        return {
            "traces": traces,
            "models": await get("/api/v1/models"),
            "models_in_window": await get("/api/v1/models", **WINDOW),
            "labels": labels["items"] + more_labels["items"],
            "ambiguous": await get("/api/v1/labels", status="ambiguous"),
            "fraud_labels": await get("/api/v1/labels", model="fraud"),
            "solo": await get("/api/v1/models/solo/metrics"),
            "fraud": await get("/api/v1/models/fraud/metrics"),
            "fraud_test_env": await get("/api/v1/models/fraud/metrics", environment="test", **WINDOW),
            "price": await get("/api/v1/models/price/metrics", version="2"),
            "predictions": page["items"] + rest["items"],
            "labelled": await get("/api/v1/predictions", labelled="true"),
            "unlabelled": await get("/api/v1/predictions", labelled="false", model="fraud"),
            "llm_calls": await get("/api/v1/llm-calls"),
            "errors": await get("/api/v1/llm-calls", error="true"),
            "llm_pages": first_call["items"] + next_calls["items"],
            "ann_mini": await get("/api/v1/llm-calls", user_id="ann", model="gpt-4o-mini", error="false"),
            "unflagged": await get("/api/v1/llm-calls", pii="false", injection="false", **WINDOW),
            "risky": await get("/api/v1/llm-calls", risk="medium"),
            "price_v2": await get("/api/v1/predictions", model="price", version="2", error="false"),
            "by_user": await get("/api/v1/llm-calls/totals", group_by="user"),
            "by_model": await get("/api/v1/llm-calls/totals", group_by="model", **WINDOW),
            "stats": await get("/api/v1/stats", **WINDOW),
            "recent": recent,
            # counted per request, or once per organisation and transaction when batched
            "usage": {
                name: value
                for name, value in (await get("/api/v1/org/usage")).items()
                if name not in ("api_calls", "org_id")
            },
            **await _dashboard(get),
            "anomalies": sorted(
                tuple(anomaly[name] for name in ANOMALY) for anomaly in await get("/api/v1/anomalies")
            ),
        }


# windows whose bucket edges cut minutes: one without a whole minute, one with
EDGES = {"since": "2026-09-21T14:12:50Z", "until": "2026-09-21T14:13:35Z", "buckets": 7}
MINUTES = {"since": "2026-09-21T14:12:30Z", "until": "2026-09-21T14:14:10Z", "buckets": 7}
EARLY = {"since": "1969-12-31T23:00:00Z", "until": "2026-09-22T00:00:00Z", "buckets": 5}  # before 1970


async def _dashboard(get: Any) -> dict[str, Any]:
    """The dashboard's answers: overviews, series (with the quality of labelled rows), latest."""
    out = {"dashboard_latest": await get("/api/v1/dashboard/latest")}
    windows = {"day": {**WINDOW, "buckets": 24}, "edges": EDGES, "minutes": MINUTES, "early": EARLY}
    for name, window in windows.items():
        out[f"overview_{name}"] = await get("/api/v1/dashboard/overview", **window)
        for model in ("fraud", "price"):
            out[f"series_{model}_{name}"] = await get("/api/v1/dashboard/series", model=model, **window)
        out[f"series_llm_{name}"] = await get("/api/v1/dashboard/series", source="llm", **window)
    out["series_price_v2"] = await get("/api/v1/dashboard/series", model="price", version="2", **MINUTES)
    mini = {"source": "llm", "model": "gpt-4o-mini"}
    out["series_llm_mini"] = await get("/api/v1/dashboard/series", **mini, **WINDOW)
    return out


def _settings(
    tmp_path: Path, database_url: str, telemetry_url: str | None = None, **extra: Any
) -> ServerSettings:
    return ServerSettings(
        home=tmp_path,
        database_url=database_url,
        telemetry_url=telemetry_url,
        init_api_key=KEY,
        announce=False,
        write_credentials=False,
        **extra,
    )


@pytest.fixture(scope="module")
def clickhouse_url() -> Iterator[str]:
    pytest.importorskip("clickhouse_driver")
    if clickhouse_server.binary() is None:
        pytest.skip("clickhouse-server is not installed (apt-get install clickhouse-server)")
    server = clickhouse_server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def sharded_clickhouse_url() -> Iterator[str]:
    """Two 18.16 servers, each a shard of the cluster ``two``; the URL names the first."""
    pytest.importorskip("clickhouse_driver")
    if clickhouse_server.binary() is None:
        pytest.skip("clickhouse-server is not installed (apt-get install clickhouse-server)")
    servers = clickhouse_server.start_cluster("two")
    yield f"{servers[0].url}?cluster=two"
    for server in servers:
        server.stop()


def _open_engine(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, **extra: Any
) -> Iterator[tuple[Storage, ServerSettings]]:
    """A storage on engine ``kind``, bootstrapped (``extra``: more server settings)."""
    sqlite = f"sqlite:///{tmp_path / 'aither.db'}"
    if kind == "sqlite":
        settings = _settings(tmp_path, sqlite, **extra)
    elif kind == "postgresql":
        settings = _settings(tmp_path, request.getfixturevalue("postgres_url"), **extra)
    elif kind in ("clickhouse", "clickhouse-sharded", "clickhouse-batched"):
        # a database per test, so each starts empty on the one module-wide server (or cluster)
        fixture = "sharded_clickhouse_url" if kind == "clickhouse-sharded" else "clickhouse_url"
        url = request.getfixturevalue(fixture).replace("/aither", f"/t{abs(hash(tmp_path)) % 10**9}")
        settings = _settings(tmp_path, sqlite, url, **extra)
    else:
        pytest.importorskip("chdb", reason="chdb (ClickHouse 26.x in-process) is not installed")
        settings = _settings(tmp_path, sqlite, f"chdb://{tmp_path / 'chdb'}", **extra)
    storage = Storage.open(settings.database_url, telemetry_url=settings.telemetry_url)
    bootstrap(storage, settings)
    yield storage, settings
    storage.close()
    if kind == "postgresql":
        from aither.server.storage.engine import create_engine
        from aither.server.storage.schema import metadata

        cleanup = create_engine(settings.database_url)
        with cleanup.begin() as connection:  # leave an empty database for the next test
            for table in reversed(metadata.sorted_tables):
                connection.execute(table.delete())
        cleanup.dispose()


@pytest.fixture(
    params=["sqlite", "postgresql", "clickhouse", "clickhouse-sharded", "chdb", "clickhouse-batched"]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Storage, ServerSettings, bool]]:
    """An engine, and whether the stream goes in one writer transaction (``-batched``: the
    telemetry store then takes every export in one write, as under load)."""
    for storage, settings in _open_engine(request, tmp_path, request.param):
        yield storage, settings, request.param.endswith("-batched")


@pytest.fixture(params=["clickhouse", "clickhouse-sharded", "chdb"])
def telemetry_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Storage, ServerSettings]]:
    yield from _open_engine(request, tmp_path, request.param)


def _rows_by_shard(storage: Storage) -> list[dict[str, tuple[int, int]]]:
    """On sharded ClickHouse, per shard and table: the rows in its local table, and those of
    them whose sharding key names another shard (two shards of weight 1: the key's hash mod 2
    is the shard's index). Nothing on one server."""
    shards = getattr(storage.telemetry, "shards", None)
    if shards is None:
        return []
    from aither.server.telemetry.schema import SHARDING_KEYS

    tables = ("spans", "predictions", "prediction_traces", "llm_calls", "labels", "label_rows")
    return [
        {
            table: node.execute(
                f"SELECT count(), countIf({SHARDING_KEYS[table]} % 2 != {index}) FROM {node.database}.{table}"
            )[0]
            for table in tables
        }
        for index, node in enumerate(shards.nodes)
    ]


_baseline: dict[str, Any] = {}


async def _sqlite_answers(tmp_path: Path) -> dict[str, Any]:
    if not _baseline:
        settings = _settings(tmp_path, f"sqlite:///{tmp_path / 'baseline.db'}")
        storage = Storage.open(settings.database_url)
        bootstrap(storage, settings)
        try:
            _baseline.update(await _answers(storage, settings))
        finally:
            storage.close()
    return _baseline


def _rounded(value: Any) -> Any:
    """Floats to 9 significant digits: engines sum floats in different orders."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


@pytest.mark.slow
async def test_every_engine_gives_sqlites_answers(
    engine: tuple[Storage, ServerSettings, bool], tmp_path: Path
) -> None:
    storage, settings, batched = engine
    answers = await _answers(storage, settings, batched)
    expected = await _sqlite_answers(tmp_path / "baseline")

    # the answers themselves, so that a bug shared by every engine fails too
    (fraud,) = answers["fraud"]["versions"]
    assert (fraud["predictions"], fraud["rows"], fraud["labelled_rows"]) == (3, 6, 5)
    assert fraud["classification"]["accuracy"] == 1.0  # row 2 relabelled 1, row 0's older 0 lost
    assert answers["fraud"]["labels"]["joined"] == 1  # the early label found its late prediction
    assert answers["fraud"]["unattributed_labels"]["joined"] == 3  # placed by span id
    (price,) = answers["price"]["versions"]
    assert price["regression"]["mae"] == pytest.approx(2.5)
    assert [row["model_name"] for row in answers["labelled"]["items"]] == ["fraud", "price", "fraud"]
    assert answers["labelled"]["items"][2]["labels"] == {"0": 1, "1": 0, "2": 1, "3": 1}
    assert len(answers["predictions"]) == 6  # the replayed export stored once
    (solo,) = answers["solo"]["versions"]
    assert solo["labelled_rows"] == 0  # its label became ambiguous: the labelled row withdrawn
    assert answers["solo"]["unattributed_labels"]["ambiguous"] == 1
    assert len(answers["labels"]) == 6  # the replayed labels stored once
    assert len(answers["traces"]) == 5
    (price_trace,) = [p["trace_id"] for p in answers["predictions"] if p["model_name"] == "price"]
    shared = answers["traces"][price_trace]
    assert [span["name"] for span in shared["spans"]] == ["predict fraud", "predict price", "label price"]
    assert [label["status"] for label in shared["labels"]] == ["joined"]
    assert [label["status"] for label in answers["ambiguous"]["items"]] == ["ambiguous"]
    assert {m["name"]: m["labelled_rows"] for m in answers["models"]} == {
        "duo": 0, "fraud": 5, "price": 2, "solo": 0
    }  # fmt: skip
    assert {t["key"]: t["calls"] for t in answers["by_user"]["items"]} == {"ann": 2, "bob": 1, None: 1}
    assert answers["stats"]["llm"]["total"] == 4
    assert answers["errors"]["items"][0]["status"] == "error"
    assert len(answers["llm_pages"]) == 3  # the three calls that name their provider, paged by one
    assert [call["user_id"] for call in answers["ann_mini"]["items"]] == ["ann"]
    assert len(answers["unflagged"]["items"]) == 4  # calls never scanned count as not flagged
    assert [p["model_version"] for p in answers["price_v2"]["items"]] == ["2"]
    assert [call["risk_level"] for call in answers["risky"]["items"]] == ["medium"]
    # the window rules' read of the latest calls: each stored call of the last seconds, once
    assert sum(len(calls) for _, calls in answers["recent"]) == 4 + 6  # LLM calls, predictions
    assert [a[0] for a in answers["anomalies"]] == ["request_failure"]  # the failed call, once
    assert (answers["usage"]["spans"], answers["usage"]["predictions"]) == (16, 6)  # replays not counted
    # the dashboard: every window counts each prediction and call once, the labelled rows too
    for name in ("day", "edges", "minutes", "early"):
        overview = answers[f"overview_{name}"]
        assert {(m["name"], m["predictions"]) for m in overview["models"]} >= {("fraud", 3), ("price", 1)}
        assert sum(m["calls"] for m in overview["llm"]) == 4
        fraud_points = answers[f"series_fraud_{name}"]["points"]
        assert sum(p["labelled_rows"] or 0 for p in fraud_points) == 5
        assert sum(p["correct_rows"] or 0 for p in fraud_points) == 5
    assert [p["abs_error"] for p in answers["series_price_v2"]["points"] if p["abs_error"]] == [2.5]
    third_call_ns = 1_790_000_000_000_000_000 + 2_000_000
    assert answers["dashboard_latest"]["llm_calls_ns"] == third_call_ns

    for name, answer in expected.items():
        assert _rounded(answers[name]) == _rounded(answer), f"{name}: {answers[name]} != {answer}"

    by_shard = _rows_by_shard(storage)
    if by_shard:  # sharded: each row on its trace's shard only, the rows of both adding up
        assert len(by_shard) == 2
        assert all(misplaced == 0 for shard in by_shard for _, misplaced in shard.values()), by_shard
        assert sum(shard["predictions"][0] for shard in by_shard) == 6, by_shard
        assert sum(shard["labels"][0] for shard in by_shard) >= 6, by_shard


def test_migrations_are_recorded_and_applied_once(clickhouse_url: str) -> None:
    from aither.server.telemetry.clickhouse import ClickHouseStore
    from aither.server.telemetry.schema import MIGRATIONS

    url = clickhouse_url.replace("/aither", "/migrations_once")
    first = ClickHouseStore.open(url)
    try:
        assert first.migrations() == [version for version, _, _ in MIGRATIONS]
        assert first.migrate() == []  # nothing left to apply
        tables = {row[0] for row in first.x.execute("SHOW TABLES FROM migrations_once")}
        assert {"spans", "predictions", "labels", "label_rows", "llm_calls", "rollups"} <= tables
    finally:
        first.close()
    again = ClickHouseStore.open(url)  # a restart applies nothing and loses nothing
    try:
        assert again.migrations() == [version for version, _, _ in MIGRATIONS]
    finally:
        again.close()


def test_a_telemetry_url_of_another_kind_is_refused_up_front(tmp_path: Path) -> None:
    from aither.server.storage import DatabaseURLError

    with pytest.raises(DatabaseURLError, match="clickhouse://"):
        Storage.open(f"sqlite:///{tmp_path / 'a.db'}", telemetry_url="mysql://host/db")


async def test_a_clickhouse_outage_answers_503(tmp_path: Path) -> None:
    """With ClickHouse gone, ingest answers 503 with Retry-After, so the exporter keeps the spans
    and retries, and reads say so too (never a 500); relational reads are served on."""
    pytest.importorskip("clickhouse_driver")
    if clickhouse_server.binary() is None:
        pytest.skip("clickhouse-server is not installed (apt-get install clickhouse-server)")
    server = clickhouse_server.start()
    try:
        settings = _settings(tmp_path, f"sqlite:///{tmp_path / 'aither.db'}", server.url)
        storage = Storage.open(settings.database_url, telemetry_url=settings.telemetry_url)
        bootstrap(storage, settings)
        async with api_client(storage, settings) as http:
            assert (await http.get(f"/api/v1/traces/{'ab' * 16}")).status_code == 404
            assert (await http.get("/api/v1/anomalies")).status_code == 200  # relational: served
            server.stop()
            response = await http.post("/v1/traces", content=STREAM[0], headers=PROTOBUF)
            assert response.status_code == 503
            assert response.headers["Retry-After"]
            for path in ("/api/v1/predictions", "/api/v1/dashboard/overview"):
                response = await http.get(path)  # reads say so too, not 500
                assert response.status_code == 503, (path, response.text)
        storage.close()
    finally:
        server.stop()


async def test_retention_drops_whole_days_and_prune_an_organisations_rows(
    telemetry_engine: tuple[Storage, ServerSettings],
) -> None:
    storage, settings = telemetry_engine
    assert storage.telemetry is not None
    async with api_client(storage, settings) as http:
        for payload in STREAM[:4]:
            assert (await http.post("/v1/traces", content=payload, headers=PROTOBUF)).status_code == 200
        assert len((await http.get("/api/v1/predictions")).json()["items"]) == 4
        day_before = 1_790_000_000_000_000_000 - 86_400 * 10**9
        assert storage.telemetry.prune(day_before) == {}  # nothing that old: nothing dropped
        assert len((await http.get("/api/v1/predictions")).json()["items"]) == 4
        # retention, as its loop runs it: every organisation's days wholly before the cutoff
        deleted = retention.prune(storage, 1_790_000_000_000_000_000 + 2 * 86_400 * 10**9).deleted
        assert deleted["predictions"] >= 4 and deleted["rollups"] > 0
        assert (await http.get("/api/v1/predictions")).json()["items"] == []
        assert (await http.get("/api/v1/stats", params=WINDOW)).json()["llm"]["total"] == 0
        # an organisation's own prune (POST /api/v1/prune, aither prune): its rows, to the second
        for payload in STREAM[4:]:
            assert (await http.post("/v1/traces", content=payload, headers=PROTOBUF)).status_code == 200
        assert (await http.get("/api/v1/stats", params=WINDOW)).json()["llm"]["total"] == 4
        response = await http.post("/api/v1/prune", json={"older_than": "1h"})  # the stream is older
        assert response.status_code == 200, response.text
        assert response.json()["deleted"]["llm_calls"] >= 4
        assert (await http.get("/api/v1/predictions")).json()["items"] == []
        assert (await http.get("/api/v1/stats", params=WINDOW)).json()["llm"]["total"] == 0


def test_an_upgrade_backfills_what_the_label_join_reads(clickhouse_url: str) -> None:
    """A database at migration 1 holds a prediction; migration 2 (predictions by trace) is
    applied at the next start, and a label then finds that prediction."""
    from aither.server.ingest.records import LabelRecord
    from aither.server.telemetry.clickhouse import ClickHouseStore
    from aither.server.telemetry.labels import ClickHouseLabelJoin
    from aither.server.telemetry.schema import MIGRATIONS

    url = clickhouse_url.replace("/aither", "/upgrade")
    old = ClickHouseStore.open(url, up_to=1)
    try:
        assert old.migrations() == [1]
        old.x.insert(  # what a version-1 server stored
            "upgrade.predictions",
            (
                "org_id",
                "trace_id",
                "span_id",
                "id",
                "model_name",
                "output_rows",
                "prediction",
                "task",
                "time_ns",
                "latency_ms",
                "is_error",
            ),  # fmt: skip
            [
                (
                    "org",
                    "t" * 32,
                    "00000000000000aa",
                    170,
                    "m",
                    1,
                    '{"sample": [1]}',
                    "classification",
                    5,
                    1.0,
                    0,
                )
            ],
        )
    finally:
        old.close()
    new = ClickHouseStore.open(url)
    try:
        assert new.migrations() == [version for version, _, _ in MIGRATIONS]
        label = LabelRecord("t" * 32, "00000000000000bb", None, "m", "1", False, None, 9, values=[1])
        ClickHouseLabelJoin(new.x, "org", new._next_version()).join([], [label])
        assert new.label_status_counts("org", "m") == {"joined": 1}
        assert new.scored_rows("org", 0, 10) == {("m", ""): (1, 1, 1)}
    finally:
        new.close()


def test_the_server_command_stops_with_a_message_for_a_telemetry_db_it_cannot_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from aither.cli import main

    pytest.importorskip("clickhouse_driver")
    for url, said in (
        ("mysql://host/db", "use clickhouse://"),
        ("clickhouse://127.0.0.1:1/aither", "did not answer"),
    ):
        monkeypatch.setenv("AITHER_TELEMETRY_DB", url)  # the variable, as the flag's default
        assert main(["server", "--home", str(tmp_path), "--port", "0"]) == 1
        assert said in capsys.readouterr().err
