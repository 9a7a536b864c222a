"""Detection in the server: event rules as spans are stored, window rules over rollups, one open
anomaly per condition, acknowledge and resolve, risk per call, rules, stats and pruning.

Spans carry explicit timestamps; the server judges by event time, so simulated minutes replay fast.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from otlp_builder import PROTOBUF, request

from aither.exceptions import ConfigError
from aither.schema import semconv as sc
from aither.server.alerts import NullSink
from aither.server.detection import load_rules
from aither.server.detection.anomalies import Target
from aither.server.detection.rollups import Rollup, histogram_quantile, latency_bucket
from aither.server.detection.rules import RuleSet
from aither.server.detection.windows import RecentCall, window_hit

SECOND = 1_000_000_000
MINUTE = 60 * SECOND


def chat(**extra: Any) -> dict[str, Any]:
    return {
        sc.AITHER_SCHEMA_VERSION: sc.SCHEMA_VERSION,
        sc.AITHER_SPAN_KIND: sc.SPAN_KIND_LLM,
        sc.GEN_AI_OPERATION_NAME: sc.GEN_AI_OPERATION_CHAT,
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 100,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 50,
        sc.AITHER_COST_USD: 0.001,
        sc.AITHER_PII_DETECTED: False,
        sc.AITHER_INJECTION_SCORE: 0.0,
        sc.AITHER_INJECTION_DETECTED: False,
        **extra,
    }


async def post(client: httpx.AsyncClient, spans: list[Any], service: str = "support") -> None:
    for start in range(0, len(spans), 500):
        message = request(spans[start : start + 500], service=service)
        response = await client.post("/v1/traces", content=message.SerializeToString(), headers=PROTOBUF)
        assert response.status_code == 200, response.text


async def anomalies(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/anomalies", params=params)
    assert response.status_code == 200, response.text
    return list(response.json())


async def wait_for(
    client: httpx.AsyncClient, found: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Anomalies once ``found`` holds for them; the writer ticks the window rules every second."""
    deadline = time.monotonic() + timeout
    while True:
        items = await anomalies(client, limit=1000)
        if found(items):
            return items
        assert time.monotonic() < deadline, f"timed out; anomalies: {items}"
        await _yield()


async def _yield() -> None:
    import asyncio

    await asyncio.sleep(0.05)  # a poll interval inside a deadline, not a synchronisation


def by_rule(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["rule"]: item for item in items}


async def test_pii_and_injection_open_anomalies_as_they_are_stored(client, spans, app) -> None:  # type: ignore[no-untyped-def]
    await post(
        client,
        [
            spans.span("chat gpt-4o-mini", chat()),
            spans.span(
                "chat gpt-4o-mini",
                chat(**{sc.AITHER_PII_DETECTED: True, sc.AITHER_PII_INPUT_PREFIX + "email": 1}),
            ),
            spans.span(
                "chat gpt-4o-mini",
                chat(**{sc.AITHER_INJECTION_SCORE: 0.9, sc.AITHER_INJECTION_DETECTED: True}),
            ),
        ],
    )
    # event rules run in the ingest transaction: readable as soon as the export is answered
    found = by_rule(await anomalies(client))
    assert set(found) == {"pii_detected", "prompt_injection"}
    pii, injection = found["pii_detected"], found["prompt_injection"]
    assert (pii["severity"], pii["anomaly_type"], pii["status"]) == ("high", "security_threat", "open")
    assert pii["recommended_action"] == "Implement PII scrubbing and review data handling policies"
    assert (injection["severity"], injection["detection_method"]) == ("critical", "threshold")
    assert (pii["service"], pii["model"], pii["kind"], pii["count"]) == ("support", "gpt-4o-mini", "llm", 1)
    risks = (await client.get("/api/v1/llm-calls", params={"risk": "high"})).json()["items"]
    assert sorted(item["risk_level"] for item in risks) == ["critical", "high"]
    every = (await client.get("/api/v1/llm-calls")).json()["items"]
    assert sorted(item["risk_level"] for item in every) == ["critical", "high", "low"]
    sink: NullSink = app.state.alert_sink
    assert sorted((n.rule, n.event, n.severity) for n in sink.notices) == [
        ("pii_detected", "opened", "high"),
        ("prompt_injection", "opened", "critical"),
    ]
    assert critical_only(await anomalies(client, severity="critical")) == ["prompt_injection"]


def critical_only(items: list[dict[str, Any]]) -> list[str]:
    return [item["rule"] for item in items]


async def test_a_persisting_condition_is_one_anomaly_until_resolved(client, spans, app) -> None:  # type: ignore[no-untyped-def]
    pii = chat(**{sc.AITHER_PII_DETECTED: True})
    for _ in range(3):
        await post(client, [spans.span("chat", pii), spans.span("chat", pii)])
    (only,) = await anomalies(client)
    assert (only["rule"], only["count"]) == ("pii_detected", 6)
    acked = (await client.post(f"/api/v1/anomalies/{only['id']}/acknowledge")).json()
    assert acked["status"] == "acknowledged" and acked["acknowledged_at"] is not None
    await post(client, [spans.span("chat", pii)])
    (still,) = await anomalies(client)
    assert (still["id"], still["status"], still["count"]) == (only["id"], "acknowledged", 7)
    resolved = (await client.post(f"/api/v1/anomalies/{only['id']}/resolve")).json()
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    await post(client, [spans.span("chat", pii)])
    newer, older = await anomalies(client)
    assert newer["id"] != older["id"] and (newer["status"], newer["count"]) == ("open", 1)
    events = [(n.id, n.event) for n in app.state.alert_sink.notices]
    assert events == [(only["id"], "opened"), (only["id"], "resolved"), (newer["id"], "opened")]
    missing = await client.post("/api/v1/anomalies/999999/resolve")
    assert missing.status_code == 404


async def test_event_rule_anomalies_resolve_after_the_quiet_period(client, spans, app) -> None:  # type: ignore[no-untyped-def]
    start = time.time_ns() - 30 * MINUTE
    await post(client, [spans.span("chat", chat(**{sc.AITHER_PII_DETECTED: True}), start_ns=start)])
    # later traffic moves the event clock past the 5-minute quiet period
    await post(client, [spans.span("chat", chat(), start_ns=start + 10 * MINUTE)])
    items = await wait_for(client, lambda items: bool(items) and items[0]["status"] == "resolved")
    assert [n.event for n in app.state.alert_sink.notices] == ["opened", "resolved"]
    assert items[0]["rule"] == "pii_detected"


def test_drift_anomalies_are_left_to_drift_and_event_ones_resolve_by_quiet(storage) -> None:  # type: ignore[no-untyped-def]
    from aither.server.detection import anomalies as store
    from aither.server.detection.anomalies import Hit
    from aither.server.drift.rules import INPUT_DRIFT

    org_id, now = "org-drift", 10 * 3600 * SECOND
    target = Target("prediction", "", "fraud", "1", "")
    pii = RuleSet().rules["pii_detected"]
    with storage.engine.begin() as connection:
        store.record(connection, org_id, Hit(INPUT_DRIFT, target, now, "drift", {}), now)
        store.record(connection, org_id, Hit(pii, Target("llm", "s", "m"), now, "pii", {}), now)
    later = now + 3600 * SECOND  # far past the quiet period, and no hit since
    with storage.engine.begin() as connection:
        storage.detection.evaluate(connection, org_id, later)
    with storage.read() as connection:
        status = {row["rule"]: row["status"] for row in store.list_rows(connection, org_id, limit=10)}
    assert status == {"input_drift": "open", "pii_detected": "resolved"}


async def test_request_rate_and_error_rate_fire_within_the_current_minute(client, spans) -> None:  # type: ignore[no-untyped-def]
    start = time.time_ns() - 2 * 3600 * SECOND
    start -= start % MINUTE
    quiet = [spans.span("chat", chat(), start_ns=start + i * 6 * SECOND) for i in range(100)]  # 10/min
    await post(client, quiet)
    # 20 s into a minute: 80 calls, half failing (a rate of 240/min and 50 % errors)
    burst_start = start + 11 * MINUTE
    burst = [
        spans.span("chat", chat(), start_ns=burst_start + i * SECOND // 4, error="boom" if i % 2 else None)
        for i in range(80)
    ]
    await post(client, burst)
    items = by_rule(
        await wait_for(client, lambda items: {"high_request_rate", "high_error_rate"} <= set(by_rule(items)))
    )
    assert items["high_request_rate"]["severity"] == "medium"
    assert items["high_request_rate"]["evidence"]["requests_per_minute"] > 50
    assert items["high_error_rate"]["severity"] == "critical"
    assert items["high_error_rate"]["evidence"]["error_rate"] > 0.1
    assert items["model_errors"]["model"] == "gpt-4o-mini"
    assert items["request_failure"]["count"] == 40


async def test_an_error_burst_opens_high_error_rate_within_15_s_of_its_start(client, spans) -> None:  # type: ignore[no-untyped-def]
    start = time.time_ns() - 2 * 3600 * SECOND
    start -= start % MINUTE
    # 20 minutes at 30 calls/min without failures: the 5-minute window alone won't pass 10 %
    await post(client, [spans.span("chat", chat(), start_ns=start + i * 2 * SECOND) for i in range(600)])
    burst_start = start + 20 * MINUTE + 40 * SECOND  # late in a minute: the minute is mostly clean
    # the burst's first 10 s at 1 call/s, 40 % failing
    failing = (1, 3, 6, 8)
    burst = [
        spans.span("chat", chat(), start_ns=burst_start + i * SECOND, error="boom" if i in failing else None)
        for i in range(10)
    ]
    await post(client, burst)
    items = by_rule(await wait_for(client, lambda items: "high_error_rate" in by_rule(items)))
    opened = items["high_error_rate"]
    delay = dt.datetime.fromisoformat(opened["first_seen"]).timestamp() - burst_start / SECOND
    assert 0 <= delay <= 15, delay  # event time: the org's clock is the newest span's time
    assert opened["evidence"]["window_seconds"] == 15
    assert (opened["evidence"]["errors"], opened["evidence"]["calls"]) == (4, 10)


def test_an_error_burst_needs_enough_calls_and_must_stand_out_from_the_baseline() -> None:
    rule = RuleSet().rules["high_error_rate"]
    target = Target("llm", "support")
    now = 3600 * SECOND

    def calls(*errors: bool) -> list[RecentCall]:
        return [RecentCall(now - (len(errors) - i) * SECOND, 100.0, None, 0, e) for i, e in enumerate(errors)]

    assert window_hit(rule, target, {}, calls(False, True), now) is None  # 1 of 2 is not a rate
    assert window_hit(rule, target, {}, calls(True, True), now) is None  # nor 2 of 2
    assert window_hit(rule, target, {}, calls(False, True, False, True), now) is not None
    # a target that fails 8 % of the time all hour: 2 failures in 4 calls are not surprising
    noisy = {now - m * MINUTE - now % MINUTE: Rollup(count=25, errors=2) for m in range(2, 60)}
    assert window_hit(rule, target, noisy, calls(False, True, False, True), now) is None


async def test_spikes_are_judged_against_a_robust_baseline(client, spans) -> None:  # type: ignore[no-untyped-def]
    start = time.time_ns() - 3 * 3600 * SECOND
    start -= start % MINUTE
    calm = [
        spans.span("chat", chat(), start_ns=start + i * 10 * SECOND, duration_ms=100 + (i % 7) * 10)
        for i in range(6 * 30)
    ]
    # one slow outlier in the baseline does not shift the median
    calm.append(spans.span("chat", chat(), start_ns=start + 5 * MINUTE, duration_ms=4000))
    await post(client, calm)
    spike_at = start + 30 * MINUTE + 5 * SECOND
    hot = {sc.GEN_AI_USAGE_INPUT_TOKENS: 2000, sc.AITHER_COST_USD: 0.05}
    await post(
        client,
        [spans.span("chat", chat(**hot), start_ns=spike_at + i * SECOND, duration_ms=900) for i in range(4)],
    )
    items = by_rule(
        await wait_for(
            client, lambda items: {"latency_spike", "cost_spike", "token_spike"} <= set(by_rule(items))
        )
    )
    latency = items["latency_spike"]
    assert latency["detection_method"] == "mad" and latency["anomaly_type"] == "latency_spike"
    evidence = latency["evidence"]
    assert 100 <= evidence["baseline"] <= 160 and 600 <= evidence["value"] <= 900
    assert items["cost_spike"]["anomaly_type"] == "cost_anomaly"
    assert items["token_spike"]["anomaly_type"] == "token_usage_spike"
    assert "high_latency" not in items  # 900 ms is under the 5,000 ms threshold
    # the calm hour itself raised nothing but the one slow call
    assert set(items) == {"latency_spike", "cost_spike", "token_spike"}


async def test_throughput_drop_and_prediction_latency(client, spans) -> None:  # type: ignore[no-untyped-def]
    start = time.time_ns() - 4 * 3600 * SECOND
    start -= start % MINUTE
    steady = [
        spans.prediction("fraud", [1], start_ns=start + i * 3 * SECOND) for i in range(20 * 20)
    ]  # 20/min
    await post(client, steady, service="scoring")
    # then two calls in the next three minutes, one of them slow
    await post(
        client,
        [
            spans.prediction("fraud", [1], start_ns=start + 21 * MINUTE, duration_ms=6000),
            spans.prediction("fraud", [1], start_ns=start + 23 * MINUTE),
        ],
        service="scoring",
    )
    items = by_rule(await wait_for(client, lambda items: "throughput_degradation" in by_rule(items)))
    drop = items["throughput_degradation"]
    assert (drop["kind"], drop["service"], drop["anomaly_type"]) == (
        "prediction",
        "scoring",
        "throughput_degradation",
    )
    assert drop["evidence"]["baseline"] == 20
    slow = items["high_latency"]
    assert (slow["kind"], slow["model"], slow["version"], slow["environment"]) == (
        "prediction",
        "fraud",
        "1",
        "test",
    )


async def test_rules_change_through_the_api(client, spans, make_key) -> None:  # type: ignore[no-untyped-def]
    rules = (await client.get("/api/v1/rules")).json()
    assert rules["cost_threshold_usd"] == 0.5 and rules["spike_multiplier"] == 3.0
    assert len([rule for rule in rules["rules"] if rule["name"] != "token_spike"]) == 13
    changed = await client.put(
        "/api/v1/rules",
        json={"cost_threshold_usd": 0.01, "rules": {"pii_detected": {"enabled": False}}},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["cost_threshold_usd"] == 0.01
    await post(client, [spans.span("chat", chat(**{sc.AITHER_COST_USD: 0.02, sc.AITHER_PII_DETECTED: True}))])
    (only,) = await anomalies(client)
    assert (only["rule"], only["evidence"]["threshold"]) == ("high_cost", 0.01)
    bad = await client.put("/api/v1/rules", json={"rules": {"no_such_rule": {}}})
    assert bad.status_code == 400 and "no_such_rule" in bad.json()["detail"]
    reader = await make_key("read")
    refused = await client.put("/api/v1/rules", json={}, headers={"Authorization": f"Bearer {reader}"})
    assert refused.status_code == 403


def test_rules_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "rules.toml"
    path.write_text(
        'latency_threshold_ms = 2000\nspike_multiplier = 4\nquiet_period = "10m"\n'
        '[rules.high_error_rate]\nwindow = "15m"\nseverity = "high"\nservice = "checkout"\n'
        "[rules.high_request_rate]\nenabled = false\n"
    )
    rules = load_rules(path)
    assert rules.rules["high_latency"].threshold == 2000
    assert rules.rules["latency_spike"].threshold == rules.rules["cost_spike"].threshold == 4
    error_rate = rules.rules["high_error_rate"]
    assert (error_rate.window_s, error_rate.severity.value, error_rate.service) == (900, "high", "checkout")
    assert not error_rate.in_scope("llm", "billing", "gpt", "")
    assert not rules.rules["high_request_rate"].enabled and rules.quiet_period_s == 600
    path.write_text("[rules.high_latency]\nthreshhold = 3\n")
    with pytest.raises(ConfigError, match="threshhold"):
        load_rules(path)


async def test_stats_come_from_rollups(client, spans) -> None:  # type: ignore[no-untyped-def]
    await post(
        client,
        [
            spans.span("chat", chat(), duration_ms=100),
            spans.span("chat", chat(**{sc.AITHER_PII_DETECTED: True}), duration_ms=200),
            spans.span("chat", chat(), duration_ms=300, error="rate limited"),
            spans.prediction("fraud", [1], duration_ms=5),
        ],
    )
    stats = (await client.get("/api/v1/stats")).json()
    llm = stats["llm"]
    assert (llm["total"], llm["successful"], llm["failed"], llm["total_tokens"]) == (3, 2, 1, 450)
    assert llm["success_rate"] == pytest.approx(2 / 3) and llm["total_cost_usd"] == pytest.approx(0.003)
    assert llm["avg_latency_ms"] == pytest.approx(200) and 200 <= llm["p95_latency_ms"] <= 360
    assert (llm["pii_events"], llm["injection_attempts"]) == (1, 0)
    assert stats["anomalies"] == 2 and stats["open_anomalies"] == 2  # pii_detected, request_failure
    (model,) = stats["models"]
    assert (model["model"], model["version"], model["predictions"], model["errors"]) == ("fraud", "1", 1, 0)


def test_latency_histogram_quantiles() -> None:
    histogram = [0.0] * 34
    for ms in [10.0] * 90 + [1000.0] * 10:
        histogram[latency_bucket(ms)] += 1
    assert 8 <= (histogram_quantile(histogram, 0.5) or 0) <= 12
    assert 800 <= (histogram_quantile(histogram, 0.95) or 0) <= 1200
    assert histogram_quantile([0.0] * 34, 0.5) is None
    assert latency_bucket(0.2) == 0 and latency_bucket(1e9) == 33


async def test_prune_deletes_old_rows_and_keeps_labels_consistent(client, spans, counts) -> None:  # type: ignore[no-untyped-def]
    old = time.time_ns() - 10 * 24 * 3600 * SECOND
    old_prediction = spans.prediction("fraud", [1], start_ns=old)
    recent = spans.prediction("fraud", [0])
    await post(
        client,
        [
            old_prediction,
            recent,
            spans.label(old_prediction.trace_id.hex(), 1, start_ns=time.time_ns()),
            spans.label(recent.trace_id.hex(), 0),
            spans.span("chat", chat(**{sc.AITHER_PII_DETECTED: True}), start_ns=old),
            spans.span("chat", chat()),
        ],
    )
    before = counts()
    assert (before["predictions"], before["labels"], before["label_rows"], before["llm_calls"]) == (
        2,
        2,
        2,
        2,
    )
    response = await client.post("/api/v1/prune", json={"older_than": "7d"})
    assert response.status_code == 200, response.text
    deleted = response.json()["deleted"]
    assert deleted["predictions"] == deleted["labels"] == deleted["label_rows"] == deleted["llm_calls"] == 1
    assert deleted["rollups"] == 2
    after = counts()
    assert (after["predictions"], after["labels"], after["label_rows"], after["llm_calls"]) == (1, 1, 1, 1)
    assert (await client.post("/api/v1/prune", json={"older_than": "soon"})).status_code == 400


def test_notices_leave_only_with_their_commit(storage) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from aither.server.alerts import AnomalyNotice

    sink = NullSink()
    storage.detection.sink_source = lambda: sink
    moment = dt.datetime.now(dt.timezone.utc)
    notice = AnomalyNotice(
        1, 1, "opened", "pii_detected", "security_threat", "high", "threshold", "t", "m", "a", {}, 1,
        moment, moment, "open",
    )  # fmt: skip
    with storage.engine.connect() as connection:
        with connection.begin() as transaction:
            storage.detection.submit_on_commit(connection, [notice])
            transaction.rollback()
        assert sink.notices == []
        with connection.begin():
            storage.detection.submit_on_commit(connection, [notice])
            assert sink.notices == []
    assert sink.notices == [notice]


async def test_model_metrics_volume_is_exact_across_minutes(client, spans) -> None:  # type: ignore[no-untyped-def]
    """Whole minutes come from the rollups, the window's partial edge minutes from the rows."""
    import datetime as dt

    start = time.time_ns() - 3600 * SECOND
    start -= start % MINUTE
    calls = [
        spans.prediction(
            "fraud",
            [1],
            start_ns=start + i * 7 * SECOND,
            duration_ms=float(1 + i % 5),
            error="x" if i % 4 == 0 else None,
        )
        for i in range(40)  # 40 calls over 4.6 minutes
    ]
    await post(client, calls, service="scoring")
    since, until = start + 50 * SECOND, start + 200 * SECOND  # mid-minute to mid-minute
    inside = [i for i in range(40) if since <= start + i * 7 * SECOND < until]

    def iso(ns: int) -> str:
        return (
            dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=ns // 1000)
        ).isoformat()

    response = await client.get(
        "/api/v1/models/fraud/metrics", params={"since": iso(since), "until": iso(until)}
    )
    (version,) = response.json()["versions"]
    assert version["predictions"] == len(inside)
    assert version["errors"] == len([i for i in inside if i % 4 == 0])
    assert version["rows"] == len([i for i in inside if i % 4])  # failed calls have no output rows
    assert version["latency_ms"]["mean"] == pytest.approx(sum(1 + i % 5 for i in inside) / len(inside))
    assert version["first_seen"] == iso(start + inside[0] * 7 * SECOND).replace("+00:00", "Z")
    (everything,) = (await client.get("/api/v1/models/fraud/metrics")).json()["versions"]
    assert everything["predictions"] == 40 and everything["errors"] == 10


def test_upgrading_a_database_backfills_the_rollups(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Rows stored before migration 0004 keep counting in metrics and stats: it rolls them up."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from aither.server.detection.rollups import latency_bucket
    from aither.server.storage.engine import MIGRATIONS, create_engine, migrate

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    minute = 1_700_000_040 * SECOND
    with engine.begin() as connection:
        for i, latency in enumerate([3.0, 5.0, 700.0]):
            connection.exec_driver_sql(
                "INSERT INTO spans (org_id, trace_id, span_id, name, span_kind, service_name,"
                " start_time_ns, end_time_ns, status_code, attributes, received_at_ns)"
                " VALUES ('o', ?, ?, 'p', 0, 'svc', ?, ?, 0, '{}', 0)",
                (f"{i:032x}", f"{i:016x}", minute + i, minute + i),
            )
            connection.exec_driver_sql(
                "INSERT INTO predictions (org_id, trace_id, span_id, model_name, model_version, time_ns,"
                " latency_ms, is_error, output_rows) VALUES ('o', ?, ?, 'fraud', '1', ?, ?, ?, 1)",
                (f"{i:032x}", f"{i:016x}", minute + i, latency, i == 2),
            )
        connection.exec_driver_sql(
            "INSERT INTO llm_calls (org_id, trace_id, span_id, name, request_model, input_tokens, cost_usd,"
            " time_ns, latency_ms, is_error, pii_detected) VALUES ('o', 'a', 'b', 'chat', 'gpt', 10, 0.5, ?,"
            " 40.0, 0, 1)",
            (minute + 5 * SECOND,),
        )
    migrate(engine)
    with engine.connect() as connection:
        rows = {row.kind: row for row in connection.execute(sa.text("SELECT * FROM rollups"))}
    engine.dispose()
    model, llm = rows["prediction"], rows["llm"]
    assert (model.minute_ns, model.service, model.model, model.version, model.environment) == (
        minute,
        "svc",
        "fraud",
        "1",
        "",
    )
    assert (model.count, model.errors, model.rows, model.latency_sum_ms, model.latency_max_ms) == (
        3,
        1,
        3,
        708,
        700,
    )
    histogram = {i: getattr(model, f"lat_{i:02d}") for i in range(34) if getattr(model, f"lat_{i:02d}")}
    assert histogram == {latency_bucket(3.0): 1, latency_bucket(5.0): 1, latency_bucket(700.0): 1}
    assert (
        llm.model,
        llm.service,
        llm.count,
        llm.cost_usd,
        llm.cost_calls,
        llm.input_tokens,
        llm.pii_calls,
    ) == ("gpt", "", 1, 0.5, 1, 10, 1)
