"""The API's main reads on ClickHouse at scale: 10,000,000 predictions and 10,000,000 LLM calls.

A throwaway ClickHouse server (Debian's ``clickhouse-server`` 18.16, started as the tests start
it, its data under ``/tmp`` and deleted at the end) is migrated by the store and filled inside
ClickHouse with ``INSERT ... SELECT`` from ``system.numbers`` (no row goes through Python):
predictions of 4 models in 4 versions each and 2 environments spread over 30 days, with their spans,
a label for 30 % of them (the label, its labelled row and its span, as the join writes them),
LLM calls of 3 providers, 6 models, 1,000 users, 5 services, with their spans, and the
per-minute rollups through the ``rollup_input`` Null table and its materialized views (minutes
and hours), as ingest writes them. The tables are merged (``OPTIMIZE ... FINAL``), the state
they settle at, and the sealing job runs once, leaving what the lease holder's loop (every
minute) leaves in steady state: every hour that ended 15 minutes ago sealed
(:mod:`aither.server.telemetry.sealed`), the rest read from the rows.

Then every read the API serves from ClickHouse is timed through the store class itself
(:class:`aither.server.telemetry.clickhouse.ClickHouseStore`, the methods behind the routes),
``--repeat`` times each after one warm-up (fewer, at least 3, for a read whose calls pass
``--budget-s`` in all): p50/p95 per read, then the bytes on disk per row.

    python -m benchmarks.clickhouse_queries [--predictions 10000000] [--llm-calls 10000000]
        [--repeat 20] [--budget-s 60] [--url clickhouse://default@127.0.0.1:9000/aither | chdb:///tmp/dir]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from aither.server.storage.filters import LabelFilter, LlmCallFilter, ModelScope, Paging, PredictionFilter
from aither.server.storage.queries import encode_cursor
from aither.server.storage.schema import LATENCY_BUCKETS
from aither.server.storage.window import Window
from aither.server.telemetry.clickhouse import ClickHouseStore
from aither.server.telemetry.schema import HISTOGRAM, ROLLUP_KEY, ROLLUP_SUM_TYPES

from ._common import ROOT, table

sys.path.insert(0, str(ROOT / "tests"))

ORG = "bench"
DAY_NS = 86_400_000_000_000
MINUTE_NS = 60_000_000_000
DAYS = 30
LABELLED_PERCENT = 30


def _hex32(seed: str) -> str:
    return f"lower(hex(sipHash128({seed})))"


def _hex16(seed: str) -> str:
    return f"substring({_hex32(seed)}, 1, 16)"


def _id(span_id: str) -> str:
    """The span id as the row's ``id`` (:func:`~aither.server.telemetry.labels.span_number`)."""
    return f"reinterpretAsUInt64(reverse(unhex({span_id})))"


def _bucket(latency: str) -> str:
    """The latency histogram of one row (:func:`~aither.server.detection.rollups.latency_bucket`)."""
    index = f"if({latency} > 1, least({LATENCY_BUCKETS - 1}, toUInt64(ceil(2 * log2({latency})))), 0)"
    return f"arrayMap(i -> toUInt64(i = {index}), range({LATENCY_BUCKETS}))"


def _fill_sql(db: str, predictions: int, llm_calls: int, start_ns: int) -> list[tuple[str, str]]:
    """(what, statement) in order: rows, their spans, labels, rollups."""
    p_step = DAYS * DAY_NS // max(predictions, 1)
    c_step = DAYS * DAY_NS // max(llm_calls, 1)
    h = "sipHash64(n)"
    prediction_rows = f"""
        SELECT '{ORG}' AS org_id, {_hex32("concat('pt', toString(n))")} AS trace_id,
            {_hex16("concat('ps', toString(n))")} AS span_id, {_id("span_id")} AS id,
            concat('model-', toString(n % 4)) AS model_name,
            concat('1.', toString(intDiv(n * 3, {predictions}) + (n % 20 = 0))) AS model_version,
            if(n % 10 = 0, 'staging', 'production') AS environment, 'sklearn' AS framework,
            'RandomForestClassifier' AS model_class, 'predict' AS method, toInt64(1) AS input_rows,
            toInt64(1) AS output_rows,
            concat('[{{"age": ', toString(18 + n % 60), ', "income": ', toString({h} % 100000),
                   ', "plan": "', if(n % 3 = 0, 'pro', 'free'), '"}}]') AS features,
            concat('["', if({h} % 3 = 0, 'churn', 'stay'), '"]') AS prediction,
            'classification' AS task, toUInt64({start_ns} + n * {p_step}) AS time_ns,
            1 + ({h} % 5000) / 100 AS latency_ms, toUInt8(n % 97 = 0) AS is_error,
            if(is_error, 'ValueError: bad input', NULL) AS error_message
        FROM (SELECT number AS n FROM system.numbers LIMIT {predictions})"""
    p_columns = (
        "org_id, trace_id, span_id, id, model_name, model_version, environment, framework, model_class, "
        "method, input_rows, output_rows, features, prediction, task, time_ns, latency_ms, is_error, "
        "error_message"
    )
    labelled = f"sipHash64(span_id) % 100 < {LABELLED_PERCENT}"
    label_span = _hex16("concat('ls', span_id)")
    delay = "(60 + sipHash64(span_id) % 7200) * 1000000000"
    llm_rows = f"""
        SELECT '{ORG}' AS org_id, {_hex32("concat('ct', toString(n))")} AS trace_id,
            {_hex16("concat('cs', toString(n))")} AS span_id, {_id("span_id")} AS id,
            concat('chat ', request_model) AS name, 'chat' AS operation,
            ['openai', 'anthropic', 'mistral'][n % 3 + 1] AS provider,
            [['gpt-4o', 'gpt-4o-mini'], ['claude-sonnet', 'claude-haiku'],
             ['mistral-large', 'mistral-small']][n % 3 + 1][intDiv(n, 3) % 2 + 1] AS request_model,
            request_model AS response_model, toInt64(100 + {h} % 2000) AS input_tokens,
            toInt64(20 + {h} % 500) AS output_tokens,
            if(n % 50 = 7, NULL, (input_tokens * 2.5 + output_tokens * 10) / 1000000) AS cost_usd,
            '["stop"]' AS finish_reasons, toUInt64({start_ns} + n * {c_step}) AS time_ns,
            200 + ({h} % 300000) / 100 AS latency_ms, toUInt8(n % 50 = 0) AS is_error,
            if(is_error, 'RateLimitError', NULL) AS error_type, provider AS client_name,
            toInt64(0) AS cache_read_input_tokens, toInt64(0) AS reasoning_output_tokens,
            toUInt8(n % 100 = 1) AS pii_detected, if(pii_detected, '{{"email": 1}}', NULL) AS pii_counts,
            ({h} % 100) / 100 AS injection_score, toUInt8(n % 500 = 3) AS injection_detected,
            if(injection_detected, '["ignore_previous"]', NULL) AS injection_rules,
            concat('user-', toString({h} % 1000)) AS user_id,
            concat('session-', toString(intDiv(n, 20))) AS session_id,
            concat('service-', toString(intDiv(n, 7) % 5)) AS service,
            multiIf(injection_detected, 'high', pii_detected, 'medium', 'low') AS risk_level
        FROM (SELECT number AS n FROM system.numbers LIMIT {llm_calls})"""
    c_columns = (
        "org_id, trace_id, span_id, id, name, operation, provider, request_model, response_model, "
        "input_tokens, output_tokens, cost_usd, finish_reasons, time_ns, latency_ms, is_error, error_type, "
        "client_name, cache_read_input_tokens, reasoning_output_tokens, pii_detected, pii_counts, "
        "injection_score, injection_detected, injection_rules, user_id, session_id, service, risk_level"
    )
    span_columns = (
        "org_id, trace_id, span_id, parent_span_id, name, aither_kind, span_kind, service_name, "
        "scope_name, start_time_ns, end_time_ns, status_code, status_message, attributes, events, "
        "links, resource, received_at_ns"
    )

    def spans(source: str, name: str, kind: str, service: str, attributes: str, latency: str) -> str:
        return (
            f"INSERT INTO {db}.spans ({span_columns}) SELECT org_id, trace_id, span_id, NULL, {name}, "
            f"'{kind}', 1, {service}, 'aither', time_ns, time_ns + toUInt64({latency} * 1000000), "
            f"if(is_error, 2, 1), NULL, {attributes}, NULL, NULL, "
            f"concat('{{\"service.name\": \"', {service}, '\"}}'), time_ns + 2000000000 FROM {source}"
        )

    sums = dict.fromkeys(ROLLUP_SUM_TYPES, "0")
    prediction_sums = {
        **sums,
        "count": "count()",
        "errors": "sum(is_error)",
        "latency_sum_ms": "sum(latency_ms)",
        "rows": "sum(ifNull(output_rows, 0))",
    }
    llm_sums = {
        **sums,
        "count": "count()",
        "errors": "sum(is_error)",
        "latency_sum_ms": "sum(latency_ms)",
        "cost_usd": "sum(ifNull(cost_usd, 0))",
        "cost_calls": "count(cost_usd)",
        "input_tokens": "sum(ifNull(input_tokens, 0))",
        "output_tokens": "sum(ifNull(output_tokens, 0))",
        "pii_calls": "sum(pii_detected = 1)",
        "injection_calls": "sum(injection_detected = 1)",
    }
    rollup_columns = ", ".join((*ROLLUP_KEY, *ROLLUP_SUM_TYPES, HISTOGRAM, "latency_max_ms"))

    def rollup(kind: str, keys: str, sums_of: dict[str, str], source: str) -> str:
        values = ", ".join(f"toUInt64({v})" if ROLLUP_SUM_TYPES[k] == "UInt64" else f"toFloat64({v})"
                           for k, v in sums_of.items())  # fmt: skip
        return (
            f"INSERT INTO {db}.rollup_input ({rollup_columns}) SELECT org_id, "
            f"intDiv(time_ns, {MINUTE_NS}) * {MINUTE_NS} AS minute_ns, '{kind}', {keys}, {values}, "
            f"sumForEach({_bucket('latency_ms')}), max(latency_ms) FROM {db}.{source} "
            "GROUP BY org_id, minute_ns, k_service, k_model, k_version, k_environment"
        )

    label_columns = (
        "org_id, trace_id, span_id, id, target_span_id, model_name, value, is_batch, row_indices, "
        "time_ns, status, join_rule, prediction_trace_id, prediction_span_id, prediction_model, rows, "
        "message, version"
    )
    label_row_columns = (
        "org_id, model_name, pred_trace_id, pred_span_id, row_index, label_trace_id, label_span_id, "
        "model_version, environment, task, pred_class, pred_num, label_class, label_num, value, "
        "pred_time_ns, label_time_ns, deleted, version"
    )
    label_value = "if(sipHash64(span_id) % 5 = 0, if(prediction = '[\"stay\"]', 'churn', 'stay'), " \
        "substring(prediction, 3, length(prediction) - 4))"  # fmt: skip
    return [
        ("predictions",
         f"INSERT INTO {db}.predictions ({p_columns}) SELECT {p_columns} FROM ({prediction_rows})"),
        ("prediction_traces",
         f"INSERT INTO {db}.prediction_traces (org_id, trace_id, span_id, model_name, model_version, "
         "environment, output_rows, task, method, time_ns) SELECT org_id, trace_id, span_id, model_name, "
         f"model_version, environment, output_rows, task, method, time_ns FROM {db}.predictions"),
        ("prediction spans", spans(
            f"{db}.predictions", "concat(model_name, '.predict')", "prediction", "concat('svc-', model_name)",
            "concat('{\"aither.kind\": \"prediction\", \"ml.model.name\": \"', model_name, "
            "'\", \"ml.model.version\": \"', ifNull(model_version, ''), "
            "'\", \"ml.framework\": \"sklearn\"}')",
            "latency_ms")),
        ("labels",
         f"INSERT INTO {db}.labels ({label_columns}) SELECT org_id, trace_id, {label_span}, "
         f"{_id(label_span)}, "
         f"span_id, model_name, concat('\"', {label_value}, '\"'), 0, NULL, time_ns + {delay}, 'joined', "
         f"'span_id', trace_id, span_id, model_name, 1, NULL, 1 FROM {db}.predictions WHERE {labelled}"),
        ("label_rows",
         f"INSERT INTO {db}.label_rows ({label_row_columns}) SELECT org_id, model_name, trace_id, "
         "span_id, 0, "
         f"trace_id, {label_span}, model_version, environment, task, substring(prediction, 3, "
         f"length(prediction) - 4), NULL, {label_value}, NULL, concat('\"', {label_value}, '\"'), time_ns, "
         f"time_ns + {delay}, 0, 2 FROM {db}.predictions WHERE {labelled}"),
        ("label spans",
         f"INSERT INTO {db}.spans ({span_columns}) SELECT org_id, trace_id, span_id, target_span_id, "
         "'aither.label', 'label', 1, concat('svc-', model_name), 'aither', time_ns, time_ns + 1000, "
         "1, NULL, "
         "concat('{\"aither.kind\": \"label\", \"ml.label.value\": ', value, '}'), NULL, NULL, "
         f"concat('{{\"service.name\": \"svc-', model_name, '\"}}'), time_ns + 2000000000 FROM {db}.labels"),
        ("llm_calls", f"INSERT INTO {db}.llm_calls ({c_columns}) SELECT {c_columns} FROM ({llm_rows})"),
        ("llm spans", spans(
            f"{db}.llm_calls", "name", "llm", "service",
            "concat('{\"aither.kind\": \"llm\", \"gen_ai.system\": \"', ifNull(provider, ''), "
            "'\", \"gen_ai.request.model\": \"', ifNull(request_model, ''), "
            "'\", \"gen_ai.usage.input_tokens\": ', "
            "toString(ifNull(input_tokens, 0)), ', \"enduser.id\": \"', ifNull(user_id, ''), '\"}')",
            "latency_ms")),
        ("prediction rollups", rollup(
            "prediction", "concat('svc-', model_name) AS k_service, model_name AS k_model, "
            "ifNull(model_version, '') AS k_version, ifNull(environment, '') AS k_environment",
            prediction_sums, "predictions")),
        ("llm rollups", rollup(
            "llm", "ifNull(service, '') AS k_service, ifNull(response_model, ifNull(request_model, '')) AS "
            "k_model, '' AS k_version, '' AS k_environment", llm_sums, "llm_calls")),
    ]  # fmt: skip


def _timed(fn: Callable[[], Any], repeat: int, budget_s: float = float("inf")) -> tuple[float, float, int]:
    """(p50 ms, p95 ms, calls timed) of ``repeat`` calls after one warm-up; fewer (at least 3)
    once the calls have taken ``budget_s``."""
    fn()
    times: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
        if len(times) >= 3 and sum(times) > budget_s * 1000:
            break
    times.sort()
    p95 = times[min(len(times) - 1, max(0, round(0.95 * len(times)) - 1))]
    return statistics.median(times), p95, len(times)


def reads(store: ClickHouseStore, now_ns: int) -> list[tuple[str, Callable[[], Any]]]:
    """(route, the store calls behind it) for every main read, called as the route calls them."""
    day = Window(now_ns - DAY_NS, None)
    week = Window(now_ns - 7 * DAY_NS, None)
    month = Window(now_ns - DAYS * DAY_NS, None)
    x, db = store.x, store.db
    # a labelled prediction's trace and an LLM call's trace, from the middle of the range
    middle = {"org": ORG, "t": now_ns - 15 * DAY_NS}
    ((p_trace,),) = x.execute(
        f"SELECT trace_id FROM {db}.labels WHERE org_id = %(org)s AND time_ns > %(t)s "
        "ORDER BY time_ns LIMIT 1",
        middle,
    )
    ((c_trace,),) = x.execute(
        f"SELECT trace_id FROM {db}.llm_calls WHERE org_id = %(org)s AND time_ns > %(t)s "
        "ORDER BY time_ns LIMIT 1",
        middle,
    )
    deep = Paging(cursor=encode_cursor(now_ns - 15 * DAY_NS, 2**63))  # 15 days back, as a cursor reaches it
    first = Paging()
    model = "model-1"

    def metrics(window: Window) -> Any:
        # GET /models/{m}/metrics: the route's three calls
        return (
            store.model_metrics(ORG, ModelScope(model, window=window)),
            store.label_status_counts(ORG, model),
            store.label_status_counts(ORG, None),
        )

    def stats(window: Window) -> Any:
        # GET /stats: the rollups and the labelled rows (anomalies come from the relational store)
        assert window.since_ns is not None
        return store.read_rollups(ORG, window.since_ns, now_ns), store.scored_rows(
            ORG, window.since_ns, now_ns
        )

    def predictions(**where: Any) -> Callable[[], Any]:
        return lambda: store.list_predictions(ORG, PredictionFilter(**where), first)

    def calls(page: Paging = first, **where: Any) -> Callable[[], Any]:
        return lambda: store.list_llm_calls(ORG, LlmCallFilter(**where), page)

    return [
        ("GET /models (all time)", lambda: store.list_models(ORG, Window())),
        ("GET /models?since=24h", lambda: store.list_models(ORG, day)),
        ("GET /models/{m}/metrics (all time)", lambda: metrics(Window())),
        ("GET /models/{m}/metrics?since=7d", lambda: metrics(week)),
        ("GET /predictions (first page)", predictions()),
        ("GET /predictions?model=m (first page)", predictions(model=model)),
        ("GET /predictions?model=m&version=v&error=true",
         predictions(model=model, version="1.2", error=True)),
        ("GET /predictions?labelled=true", predictions(labelled=True)),
        ("GET /predictions (page 15 days deep)",
         lambda: store.list_predictions(ORG, PredictionFilter(), deep)),
        ("GET /labels (first page)", lambda: store.list_labels(ORG, LabelFilter(), first)),
        ("GET /labels?model=m&status=joined",
         lambda: store.list_labels(ORG, LabelFilter(status="joined", model=model), first)),
        ("GET /traces/{id} (prediction + label)", lambda: store.get_trace(ORG, p_trace)),
        ("GET /traces/{id} (LLM call)", lambda: store.get_trace(ORG, c_trace)),
        ("GET /llm-calls (first page)", calls()),
        ("GET /llm-calls?user_id=u", calls(user_id="user-7")),
        ("GET /llm-calls?model=m", calls(model="claude-haiku")),
        ("GET /llm-calls?service=s&error=true", calls(service="service-3", error=True)),
        ("GET /llm-calls (page 15 days deep)", calls(deep)),
        ("GET /llm-calls/totals?group_by=model&since=30d",
         lambda: store.llm_call_totals(ORG, "model", window=month)),
        ("GET /llm-calls/totals?group_by=user&since=30d",
         lambda: store.llm_call_totals(ORG, "user", window=month)),
        ("GET /llm-calls/totals?group_by=service&since=30d",
         lambda: store.llm_call_totals(ORG, "service", window=month)),
        ("GET /llm-calls/totals?group_by=user&since=24h",
         lambda: store.llm_call_totals(ORG, "user", window=day)),
        ("GET /stats (24 h)", lambda: stats(day)),
        ("GET /stats?since=30d", lambda: stats(month)),
    ]  # fmt: skip


def fill(store: ClickHouseStore, predictions: int, llm_calls: int, now_ns: int) -> None:
    """Generate the rows inside ClickHouse, then merge every table's parts."""
    start_ns = now_ns - DAYS * DAY_NS
    for what, sql in _fill_sql(store.db, predictions, llm_calls, start_ns):
        began = time.perf_counter()
        store.x.execute(sql)
        print(f"  {what}: {time.perf_counter() - began:.1f} s", flush=True)
    sample = store.x.execute(f"SELECT span_id, id FROM {store.db}.predictions LIMIT 5")
    assert all(int(span_id, 16) == row_id for span_id, row_id in sample), sample
    began = time.perf_counter()
    for (name,) in store.x.execute(
        "SELECT name FROM system.tables WHERE database = %(db)s AND engine LIKE '%%MergeTree'",
        {"db": store.db},
    ):
        store.x.execute(f"OPTIMIZE TABLE {store.db}.{name} FINAL")
    print(f"  OPTIMIZE ... FINAL: {time.perf_counter() - began:.1f} s", flush=True)


def storage_rows(store: ClickHouseStore) -> list[list[str]]:
    found = store.x.execute(
        "SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts WHERE database = %(db)s AND active "
        "GROUP BY table ORDER BY table",
        {"db": store.db},
    )
    return [
        [
            table_name,
            f"{int(rows):,}",
            f"{int(size) / 2**20:,.0f} MiB",
            f"{int(size) / max(int(rows), 1):,.0f}",
        ]
        for table_name, rows, size in found
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--predictions", type=int, default=10_000_000)
    parser.add_argument("--llm-calls", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=20, help="timed calls of each read")
    parser.add_argument("--budget-s", type=float, default=60, help="fewer calls (3 at least) past this")
    parser.add_argument("--url", help="an existing, empty ClickHouse database (default: a throwaway 18.16)")
    args = parser.parse_args()
    server = None
    url = args.url
    if url is None:
        import clickhouse_server

        server = clickhouse_server.start()
        url = server.url
    try:
        store = ClickHouseStore.open(url)
        now_ns = time.time_ns() // MINUTE_NS * MINUTE_NS
        print(f"filling {args.predictions:,} predictions and {args.llm_calls:,} LLM calls ...", flush=True)
        fill(store, args.predictions, args.llm_calls, now_ns)
        # as in steady state: the sealing job (run by the lease's holder every minute) has sealed
        # every hour that ended 15 minutes ago; the reads take those from the aggregates
        began = time.perf_counter()
        hours = store.seal(now_ns)
        print(f"  sealing {hours} hours: {time.perf_counter() - began:.1f} s", flush=True)
        (version,) = store.x.execute("SELECT version()")[0]
        results = []
        for name, fn in reads(store, now_ns):
            p50, p95, calls = _timed(fn, args.repeat, args.budget_s)
            load = os.getloadavg()[0]
            row = [
                name,
                f"{p50:,.0f}",
                f"{p95:,.0f}",
                str(calls),
                f"{load:.1f}",
                "yes" if p95 < 300 else "NO",
            ]
            results.append(row)
            print(
                f"  {name}: p50 {p50:,.0f} ms, p95 {p95:,.0f} ms ({calls} calls, load {load:.1f})", flush=True
            )
        print(f"\nClickHouse {version} ({store.engine}), {os.cpu_count()} cores")
        headers = [
            "read (the store's methods behind the route)",
            "p50 ms",
            "p95 ms",
            "calls",
            "load",
            "< 300 ms",
        ]
        print(table(results, headers))
        print()
        print(table(storage_rows(store), ["table", "rows", "on disk", "bytes/row"]))
        store.close()
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
