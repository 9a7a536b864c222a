"""The LLM rollups equal the raw ``llm_calls`` rows, and ``/api/v1/llm-calls/totals`` read
from them equals the totals computed from the rows, on SQLite and PostgreSQL.

Random LLM calls (several users, services, providers and models; errors; calls without a
cost or tokens or user) go through the real ingest path in shuffled batches, some sent twice.
After each batch both rollup tables must equal the aggregate of ``llm_calls``; at the end, and
again after a retention prune at a cutoff inside a minute, the totals for every group over
several windows (partial minutes, whole hours, open ends) must equal those from the rows.
"""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from otlp_builder import PROTOBUF, Spans, body, ids
from test_server_label_rollups import _traffic as label_traffic
from test_server_postgres import postgres_url  # noqa: F401  (the throwaway cluster, module-scoped)

from aither import semconv as sc
from aither.server import ServerSettings, Storage, create_app
from aither.server.detection import rollups
from aither.server.detection.retention import prune
from aither.server.detection.rollups import Rollup, histogram_quantile
from aither.server.storage import llm_rollups as lr_mod
from aither.server.storage.schema import label_rows, llm_calls, llm_rollups, llm_rollups_hourly

KEY = "aith_llm_rollups_test_key_000000001"
MINUTE = 60 * 10**9
HOUR = 60 * MINUTE
SECOND = 10**9
GROUPS = ("user", "service", "model", "provider", "session")
RAW = {"user": "user_id", "service": "service", "model": "request_model", "provider": "provider"}


def _traffic(rng: random.Random, spans: Spans, start_ns: int) -> list[list[Span]]:
    """LLM calls over three hours, in shuffled batches."""
    items = []
    for index in range(240):
        attrs: dict[str, Any] = {
            sc.AITHER_SCHEMA_VERSION: sc.SCHEMA_VERSION,
            sc.AITHER_SPAN_KIND: sc.SPAN_KIND_LLM,
            sc.GEN_AI_OPERATION_NAME: sc.GEN_AI_OPERATION_CHAT,
            sc.GEN_AI_PROVIDER_NAME: rng.choice(["openai", "anthropic"]),
            sc.GEN_AI_REQUEST_MODEL: rng.choice(["gpt-4o-mini", "gpt-4o", "claude-sonnet"]),
        }
        if rng.random() < 0.9:
            attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = rng.randrange(1, 2000)
            attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = rng.randrange(1, 500)
        if rng.random() < 0.8:  # costs in 1/1024ths: sums are exact in any order
            attrs[sc.AITHER_COST_USD] = rng.randrange(1, 4096) / 1024
        if rng.random() < 0.8:
            attrs[sc.ENDUSER_ID] = rng.choice(["ada", "bob", "cy", "dee"])
        if rng.random() < 0.5:
            attrs[sc.SESSION_ID] = f"s{rng.randrange(6)}"
        if rng.random() < 0.5:
            attrs[sc.SERVICE_NAME] = rng.choice(["gateway", "batch"])
        time_ns = start_ns + rng.randrange(180 * MINUTE)
        error = "boom" if rng.random() < 0.15 else None
        items.append(spans.span(f"chat {index}", attrs, start_ns=time_ns, error=error))
    rng.shuffle(items)
    return [items[start : start + 20] for start in range(0, len(items), 20)]


def _raw(connection: sa.Connection, org_id: str, unit: int) -> dict[tuple[Any, ...], list[Any]]:
    """The rollup rows as aggregated here from ``llm_calls`` (per minute or per hour)."""
    c = llm_calls.c
    query = sa.select(
        c.time_ns, c.service, c.provider, c.request_model, c.user_id, c.is_error, c.input_tokens,
        c.output_tokens, c.cost_usd,
    ).where(c.org_id == org_id)  # fmt: skip
    out: dict[tuple[Any, ...], list[Any]] = {}
    for time_ns, service, provider, model, user, error, tokens_in, tokens_out, cost in connection.execute(
        query
    ):
        key = (time_ns - time_ns % unit, service or "", provider or "", model or "", user or "")
        sums = out.setdefault(key, [0, 0, 0, 0, 0.0, 0])
        sums[0] += 1
        sums[1] += bool(error)
        sums[2] += tokens_in or 0
        sums[3] += tokens_out or 0
        sums[4] += cost or 0.0
        sums[5] += cost is None
    return out


def _stored(connection: sa.Connection, org_id: str, table: sa.Table) -> dict[tuple[Any, ...], list[Any]]:
    t = table.c
    query = sa.select(
        t.minute_ns, t.service, t.provider, t.model, t.user_id, t.calls, t.errors, t.input_tokens,
        t.output_tokens, t.cost_usd, t.unpriced,
    ).where(t.org_id == org_id)  # fmt: skip
    return {tuple(row[:5]): [*row[5:]] for row in connection.execute(query)}


def _assert_rollups_equal_rows(storage: Storage, org_id: str) -> int:
    with storage.read() as connection:
        minutes = _raw(connection, org_id, MINUTE)
        assert _stored(connection, org_id, llm_rollups) == minutes
        assert _stored(connection, org_id, llm_rollups_hourly) == _raw(connection, org_id, HOUR)
    return sum(sums[0] for sums in minutes.values())


def _raw_totals(storage: Storage, org_id: str, group_by: str, since: int | None, until: int | None) -> Any:
    """The totals as computed here from the rows, in the API's shape and order."""
    c = llm_calls.c
    column = c.session_id if group_by == "session" else c[RAW[group_by]]
    clauses = [c.org_id == org_id]
    clauses += [c.time_ns >= since] if since is not None else []
    clauses += [c.time_ns < until] if until is not None else []
    query = sa.select(column, c.is_error, c.input_tokens, c.output_tokens, c.cost_usd).where(*clauses)
    out: dict[Any, list[Any]] = {}
    with storage.read() as connection:
        for key, error, tokens_in, tokens_out, cost in connection.execute(query):
            sums = out.setdefault(key, [0, 0, 0, 0, 0.0, 0])
            sums[0] += 1
            sums[1] += bool(error)
            sums[2] += tokens_in or 0
            sums[3] += tokens_out or 0
            sums[4] += cost or 0.0
            sums[5] += cost is None
    rows = [(key, *sums) for key, sums in out.items()]
    rows.sort(key=lambda row: (-row[5], -row[1], row[0] is None, row[0] or ""))
    return rows


def _iso(ns: int) -> str:
    import datetime as dt

    moment = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=ns // 1000)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


async def _assert_totals_equal_rows(
    http: httpx.AsyncClient, storage: Storage, org_id: str, windows: list[tuple[int | None, int | None]]
) -> int:
    compared = 0
    for since, until in windows:
        params: dict[str, Any] = {"limit": 1000}
        if since is not None:
            params["since"] = _iso(since)
        if until is not None:
            params["until"] = _iso(until)
        # the API takes microseconds: compare with the rows over the window it was given
        since_us = None if since is None else since // 1000 * 1000
        until_us = None if until is None else until // 1000 * 1000
        for group_by in GROUPS:
            response = await http.get("/api/v1/llm-calls/totals", params={**params, "group_by": group_by})
            assert response.status_code == 200, response.text
            got = [
                (
                    t["key"],
                    t["calls"],
                    t["errors"],
                    t["input_tokens"],
                    t["output_tokens"],
                    t["cost_usd"],
                    t["unpriced"],
                )
                for t in response.json()["items"]
            ]
            assert got == _raw_totals(storage, org_id, group_by, since_us, until_us), (group_by, since, until)
            compared += len(got)
    return compared


async def test_llm_rollups_equal_the_llm_calls(backend: tuple[Storage, ServerSettings]) -> None:
    storage, settings = backend
    app = create_app(settings, storage)
    rng = random.Random(20261203)
    spans = Spans()
    start_ns = spans.now_ns - spans.now_ns % HOUR - 4 * HOUR + 7 * SECOND
    sent: list[list[Span]] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://aither.test",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as http:
        org_id = (await http.get("/api/v1/org")).json()["id"]
        for batch in _traffic(rng, spans, start_ns):
            replay = rng.random() < 0.3 and sent
            for payload in [batch, rng.choice(sent)] if replay else [batch]:
                response = await http.post("/v1/traces", content=body(*payload), headers=PROTOBUF)
                assert response.status_code == 200, response.text
            sent.append(batch)
            _assert_rollups_equal_rows(storage, org_id)
        assert _assert_rollups_equal_rows(storage, org_id) == 240  # replays added nothing
        windows: list[tuple[int | None, int | None]] = [
            (None, None),
            (start_ns + 17 * MINUTE + 3 * SECOND, start_ns + 150 * MINUTE + 41 * SECOND),
            (start_ns - 7 * SECOND + HOUR, start_ns - 7 * SECOND + 3 * HOUR),  # whole hours
            (start_ns + 30 * SECOND, start_ns + 50 * SECOND),  # inside one minute
            (start_ns + 95 * MINUTE + 1_000, None),
            (None, start_ns + 130 * MINUTE + 1_000),
        ]
        assert await _assert_totals_equal_rows(http, storage, org_id, windows) > 50

        cutoff = start_ns + 90 * MINUTE + 29 * SECOND  # inside a minute: that minute is recomputed
        result = prune(storage, cutoff)
        assert result.deleted.get("llm_calls", 0) > 0
        remaining = _assert_rollups_equal_rows(storage, org_id)
        assert 0 < remaining < 240
        assert await _assert_totals_equal_rows(http, storage, org_id, windows) > 20


async def test_backfill_builds_the_rollups_of_stored_calls(backend: tuple[Storage, ServerSettings]) -> None:
    """What migration 0012 runs on an upgraded database: the rollups from the calls alone."""
    storage, settings = backend
    app = create_app(settings, storage)
    spans = Spans()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://aither.test",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as http:
        org_id = (await http.get("/api/v1/org")).json()["id"]
        batch = _traffic(random.Random(7), spans, spans.now_ns - 3 * HOUR)[:3]
        response = await http.post("/v1/traces", content=body(*sum(batch, [])), headers=PROTOBUF)
        assert response.status_code == 200, response.text
    with storage.read() as connection:
        kept = _stored(connection, org_id, llm_rollups)
        kept_hours = _stored(connection, org_id, llm_rollups_hourly)
    assert sum(sums[0] for sums in kept.values()) == 60
    with storage.engine.begin() as connection:
        connection.execute(llm_rollups.delete())
        connection.execute(llm_rollups_hourly.delete())
        lr_mod.backfill(connection)
    with storage.read() as connection:
        assert _stored(connection, org_id, llm_rollups) == kept
        assert _stored(connection, org_id, llm_rollups_hourly) == kept_hours


def _raw_scored(storage: Storage, org_id: str, since: int, until: int) -> dict[tuple[str, str | None], Any]:
    """Per model version: labelled rows, right classes and rows with a true class, from the rows."""
    out: dict[tuple[str, str | None], list[int]] = {}
    r = label_rows.c
    query = sa.select(r.model_name, r.model_version, r.pred_class, r.label_class).where(
        r.org_id == org_id, r.pred_time_ns >= since, r.pred_time_ns < until
    )
    with storage.read() as connection:
        for model, version, predicted, true in connection.execute(query):
            sums = out.setdefault((model, version), [0, 0, 0])
            sums[0] += 1
            sums[1] += predicted is not None and predicted == true
            sums[2] += true is not None
    return {
        key: (rows, correct / classified if classified else None)
        for key, (rows, correct, classified) in out.items()
    }


async def test_stats_accuracy_from_label_rollups_equals_the_label_rows(
    backend: tuple[Storage, ServerSettings],
) -> None:
    """``/api/v1/stats`` reads accuracy from the label rollups: the same as from the rows, for
    windows with partial minutes, including labels without a true class."""
    storage, settings = backend
    app = create_app(settings, storage)
    rng = random.Random(15)
    spans = Spans()
    start_ns = spans.now_ns - spans.now_ns % MINUTE - 4 * HOUR + 7 * SECOND
    batches = label_traffic(rng, spans, start_ns) + _traffic(rng, spans, start_ns)
    for index in range(6):  # labels whose value has no class (null): labelled, not classified
        prediction = spans.prediction("clf", [1], start_ns=start_ns + index * 17 * MINUTE)
        batches.append([prediction, spans.label(ids(prediction)[0], None, start_ns=spans.now_ns)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://aither.test",
        headers={"Authorization": f"Bearer {KEY}"},
    ) as http:
        org_id = (await http.get("/api/v1/org")).json()["id"]
        for batch in batches:
            response = await http.post("/v1/traces", content=body(*batch), headers=PROTOBUF)
            assert response.status_code == 200, response.text
        with storage.read() as connection:
            unclassified = connection.execute(
                sa.select(sa.func.count()).where(label_rows.c.label_class.is_(None))
            ).scalar_one()
        assert unclassified >= 6
        compared = 0
        for since, until in [
            (start_ns - HOUR, spans.now_ns + HOUR),
            (start_ns + 17 * MINUTE + 3 * SECOND, start_ns + 150 * MINUTE + 41 * SECOND),
            (start_ns + 53 * MINUTE - 7 * SECOND, start_ns + 113 * MINUTE - 7 * SECOND),
            (start_ns + 30 * SECOND, start_ns + 50 * SECOND),
        ]:
            response = await http.get("/api/v1/stats", params={"since": _iso(since), "until": _iso(until)})
            assert response.status_code == 200, response.text
            got = {
                (m["model"], m["version"]): (m["labelled_rows"], m["accuracy"])
                for m in response.json()["models"]
                if m["labelled_rows"]
            }
            assert got == _raw_scored(storage, org_id, since, until), (since, until)
            compared += len(got)
            _assert_sums_equal_minutes(response.json(), storage, org_id, since, until)
        assert compared > 6


def _assert_sums_equal_minutes(
    stats: dict[str, Any], storage: Storage, org_id: str, since: int, until: int
) -> None:
    """The stats' volume, errors, latency, cost and tokens (summed in SQL, whole hours from the
    hourly rollups) equal the sums of the window's per-minute rollups."""
    llm, models = Rollup(), {}
    with storage.read() as connection:
        for key, rollup in rollups.read(connection, org_id, since, until):
            if key[1] == "llm":
                llm.merge(rollup)
            else:
                models.setdefault((key[3], key[4] or None), Rollup()).merge(rollup)
    got = stats["llm"]
    assert (got["total"], got["failed"], got["total_tokens"]) == (llm.count, llm.errors, llm.tokens)
    assert got["total_cost_usd"] == pytest.approx(llm.cost_usd)
    assert got["p95_latency_ms"] == histogram_quantile(llm.histogram, 0.95)
    assert llm.count > 0 or until - since < MINUTE
    for model in stats["models"]:
        expected = models.pop((model["model"], model["version"]))
        assert (model["predictions"], model["errors"]) == (expected.count, expected.errors)
        assert model["avg_latency_ms"] == pytest.approx(expected.latency_sum_ms / expected.count)
        assert model["p95_latency_ms"] == histogram_quantile(expected.histogram, 0.95)
    assert not models
