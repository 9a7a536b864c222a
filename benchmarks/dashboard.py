"""The dashboard's API calls and page loads on N predictions and N LLM calls (SQLite by default).

1. bulk-insert N single-row predictions of two model versions (30% of them labelled, with
   their label rows) and N LLM calls of three models, spread over the last 7 days, plus a
   few traces with their spans, straight through the storage layer's tables (not HTTP), with
   the rollups that ingest would keep (the same ``Rollup`` sums and upsert, and the label-join
   rollups built from the label rows as migration 0010 builds them, the LLM rollups from
   the calls as migration 0012 does);
2. start a real server on that database and time each page's API calls over HTTP
   (``--repeat`` runs each; p50 and p95), for the last 24 hours and the last 7 days;
3. time each page's load in headless Chromium (from navigation to the page's data drawn;
   p50 and p95), when Playwright and a chromium binary are here.

    python -m benchmarks.dashboard [--n 1000000] [--repeat 10] [--db postgresql+psycopg://...]
        [--db-path bench.db] [--no-browser]

``--db-path`` keeps the SQLite file: the first run loads it, later runs reuse it (an older
file is brought to the newest schema by the server's migrations, which backfill what they add).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from aither.server import EmbeddedServer, ServerSettings, Storage
from aither.server.bootstrap import bootstrap
from aither.server.detection import rollups
from aither.server.storage import label_rollups, llm_rollups
from aither.server.storage.bulk import bulk_insert
from aither.server.storage.schema import label_rows, labels, llm_calls, predictions, spans

from ._common import quiet_env, table

KEY = "aith_dashboard_benchmark_key_0000"
DAY_NS = 86_400 * 10**9
CHUNK = 20_000
MODEL = "fraud_detector"
LLM_MODELS = ("gpt-4o-mini", "gpt-4o", "claude-sonnet-4")


def _load(storage: Storage, org_id: str, n: int, start_ns: int) -> list[str]:
    """Insert the rows; returns the trace ids that have spans."""
    rng = random.Random(7)
    step = 7 * DAY_NS // n
    next_label = 1
    traces = []
    for offset in range(0, n, CHUNK):
        p_rows, l_rows, lr_rows, c_rows, s_rows = [], [], [], [], []
        batch: dict[rollups.RollupKey, rollups.Rollup] = {}
        for index in range(offset, min(n, offset + CHUNK)):
            time_ns = start_ns + index * step
            trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
            predicted = int(rng.random() < 0.3)
            p_rows.append(
                {
                    "id": index + 1,
                    "org_id": org_id,
                    "trace_id": trace_id,
                    "span_id": span_id,
                    "model_name": MODEL,
                    "model_version": "1.2.3" if index % 4 else "1.3.0",
                    "environment": "production",
                    "framework": "sklearn",
                    "model_class": "sklearn.ensemble.RandomForestClassifier",
                    "method": "predict",
                    "input_rows": 1,
                    "output_rows": 1,
                    "features": '{"sample": [[0.1, 2.0, 3.5]], "_meta": {"rows": 1}}',
                    "prediction": f'{{"sample": [{predicted}], "_meta": {{"rows": 1}}}}',
                    "task": "classification",
                    "time_ns": time_ns,
                    "latency_ms": rng.lognormvariate(0.5, 0.6),
                    "is_error": rng.random() < 0.002,
                    "error_message": None,
                }
            )
            _add_prediction(batch, p_rows[-1])
            if rng.random() < 0.3:
                truth = predicted if rng.random() < 0.9 else 1 - predicted
                label_time = time_ns + rng.randint(1, 3600) * 10**9
                l_rows.append(
                    {
                        "id": next_label,
                        "org_id": org_id,
                        "trace_id": trace_id,
                        "span_id": os.urandom(8).hex(),
                        "target_span_id": span_id,
                        "model_name": MODEL,
                        "value": str(truth),
                        "is_batch": False,
                        "row_indices": None,
                        "time_ns": label_time,
                        "status": "joined",
                        "join_rule": "span_id",
                        "prediction_id": index + 1,
                        "rows": 1,
                        "message": None,
                    }
                )
                lr_rows.append(
                    {
                        "org_id": org_id,
                        "prediction_id": index + 1,
                        "label_id": next_label,
                        "row_index": 0,
                        "model_name": MODEL,
                        "model_version": p_rows[-1]["model_version"],
                        "task": "classification",
                        "pred_class": str(predicted),
                        "pred_num": None,
                        "label_class": str(truth),
                        "label_num": None,
                        "value": str(truth),
                        "pred_time_ns": time_ns,
                        "label_time_ns": label_time,
                    }
                )
                next_label += 1
            tokens_in, tokens_out = rng.randint(50, 2000), rng.randint(10, 500)
            c_trace, c_span = os.urandom(16).hex(), os.urandom(8).hex()
            c_rows.append(
                {
                    "org_id": org_id,
                    "trace_id": c_trace,
                    "span_id": c_span,
                    "name": "chat",
                    "operation": "chat",
                    "provider": "openai",
                    "request_model": LLM_MODELS[index % 3],
                    "response_model": LLM_MODELS[index % 3],
                    "input_tokens": tokens_in,
                    "output_tokens": tokens_out,
                    "cost_usd": tokens_in * 1.5e-7 + tokens_out * 6e-7,
                    "finish_reasons": '["stop"]',
                    "time_ns": time_ns,
                    "latency_ms": rng.lognormvariate(6.0, 0.5),
                    "is_error": rng.random() < 0.01,
                    "pii_detected": rng.random() < 0.01,
                    "injection_detected": rng.random() < 0.002,
                }
            )
            _add_call(batch, c_rows[-1])
            if index % (n // 20 or 1) == 0:  # a few traces with spans, for the trace page
                traces.append(c_trace)
                for position, (name, kind, parent) in enumerate(
                    (("agent", "function", None), ("chat", "llm", "0" * 16))
                ):
                    s_rows.append(
                        {
                            "org_id": org_id,
                            "trace_id": c_trace,
                            "span_id": c_span if kind == "llm" else "0" * 16,
                            "parent_span_id": parent,
                            "name": name,
                            "aither_kind": kind,
                            "span_kind": 1,
                            "service_name": "bench",
                            "scope_name": "aither",
                            "start_time_ns": time_ns + position,
                            "end_time_ns": time_ns + 10**8,
                            "status_code": 0,
                            "status_message": None,
                            "attributes": "{}",
                            "events": None,
                            "links": None,
                            "resource": "{}",
                            "received_at_ns": time_ns,
                        }
                    )
        with storage.engine.begin() as connection:
            bulk_insert(connection, predictions, p_rows)
            bulk_insert(connection, labels, l_rows)
            bulk_insert(connection, label_rows, lr_rows)
            bulk_insert(connection, llm_calls, c_rows)
            bulk_insert(connection, spans, s_rows)
            rollups.upsert(connection, org_id, batch)
    with storage.engine.begin() as connection:  # the label-join rollups, as migration 0010 builds them
        label_rollups.backfill(connection)
        llm_rollups.backfill(connection)  # and the LLM rollups, as migration 0012 does
    return traces


def _kept_traces(storage: Storage) -> list[str]:
    """The trace ids with spans of a kept database (the loader gave those few traces spans)."""
    with storage.engine.connect() as connection:
        found = connection.execute(sa.select(spans.c.trace_id).distinct().order_by(spans.c.trace_id))
        return [row[0] for row in found]


def _minute(time_ns: int) -> int:
    return time_ns - time_ns % rollups.MINUTE_NS


def _add_prediction(batch: dict[rollups.RollupKey, rollups.Rollup], row: dict[str, Any]) -> None:
    key = (_minute(row["time_ns"]), "prediction", "", MODEL, row["model_version"], row["environment"])
    rollup = batch.setdefault(key, rollups.Rollup())
    rollup.add_call(row["latency_ms"], row["is_error"])
    rollup.rows += row["output_rows"]


def _add_call(batch: dict[rollups.RollupKey, rollups.Rollup], row: dict[str, Any]) -> None:
    key = (_minute(row["time_ns"]), "llm", "", row["response_model"], "", "")
    rollup = batch.setdefault(key, rollups.Rollup())
    rollup.add_call(row["latency_ms"], row["is_error"])
    rollup.cost_usd += row["cost_usd"]
    rollup.cost_calls += 1
    rollup.input_tokens += row["input_tokens"]
    rollup.output_tokens += row["output_tokens"]
    rollup.pii_calls += row["pii_detected"]
    rollup.injection_calls += row["injection_detected"]


def _p50_p95(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    fn()  # warm: the first call pays for the page cache
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def _pages(trace_id: str, since: str, until: str) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Each page's API calls, as the dashboard's JS makes them."""
    window = {"since": since, "until": until}
    return {
        "overview": [("/api/v1/dashboard/overview", {**window, "buckets": 48})],
        "model": [
            (f"/api/v1/models/{MODEL}/metrics", window),
            ("/api/v1/dashboard/series", {**window, "model": MODEL, "buckets": 60}),
        ],
        "predictions": [
            ("/api/v1/models", window),
            ("/api/v1/predictions", {**window, "model": MODEL, "limit": 50}),
        ],
        "trace": [(f"/api/v1/traces/{trace_id}", {})],
        "llm": [
            ("/api/v1/dashboard/overview", {**window, "buckets": 48, "only": "llm"}),
            ("/api/v1/dashboard/series", {**window, "source": "llm", "buckets": 60}),
            ("/api/v1/llm-calls", {**window, "limit": 50}),
        ],
        # the LLM page also asks for the totals by group (by user first)
        "llm totals": [("/api/v1/llm-calls/totals", {**window, "group_by": "user", "limit": 20})],
        "settings": [("/api/v1/api-keys", {})],
        # not a page: ``aither stats``, whose per-model accuracy reads the label-join rollups
        "stats": [("/api/v1/stats", window)],
        "live poll": [("/api/v1/dashboard/latest", {})],
    }


def _api_rows(base_url: str, trace_id: str, repeat: int) -> list[list[str]]:
    rows = []
    now = dt.datetime.now(dt.timezone.utc)
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=600) as http:
        for label, days in (("24 h", 1), ("7 d", 7)):
            since = (now - dt.timedelta(days=days)).isoformat()
            for page, calls in _pages(trace_id, since, now.isoformat()).items():
                if days == 7 and page in ("trace", "settings", "live poll"):
                    continue  # no time range: once is enough

                def load(calls: list[tuple[str, dict[str, Any]]] = calls) -> None:
                    for path, params in calls:
                        http.get(path, params=params).raise_for_status()

                p50, p95 = _p50_p95(load, repeat)
                rows.append([page, label, str(len(calls)), f"{p50 * 1000:.0f} ms", f"{p95 * 1000:.0f} ms"])
    return rows


def _browser_rows(base_url: str, trace_id: str, repeat: int) -> list[list[str]] | str:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "page loads: skipped (pip install playwright)"
    chromium = shutil.which("chromium")
    if chromium is None:
        return "page loads: skipped (no chromium binary)"
    rows = []
    fragments = {
        "overview": "overview",
        "model": f"model/{MODEL}",
        "predictions": f"predictions?model={MODEL}",
        "trace": f"trace/{trace_id}",
        "llm": "llm",
        "settings": "settings",
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(base_url + "/")
        page.get_by_label("API key").fill(KEY)
        page.get_by_role("button", name="Sign in").click()
        page.locator('main[data-ready="overview"]').wait_for(timeout=600_000)
        for label, key in (("24 h", "24h"), ("7 d", "7d")):
            for name, fragment in fragments.items():
                joiner = "&" if "?" in fragment else "?"

                def load(name: str = name, fragment: str = fragment, joiner: str = joiner) -> None:
                    page.goto(f"{base_url}/?{time.perf_counter_ns()}#/{fragment}{joiner}range={key}")
                    page.locator(f'main[data-ready="{name}"]').wait_for(timeout=600_000)

                p50, p95 = _p50_p95(load, repeat)
                rows.append([name, label, f"{p50 * 1000:.0f} ms", f"{p95 * 1000:.0f} ms"])
        browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="predictions, and LLM calls, to load")
    parser.add_argument("--repeat", type=int, default=10, help="timed runs of each page")
    parser.add_argument("--db", help="database URL (default: a SQLite file in a temporary directory)")
    parser.add_argument("--db-path", type=Path, help="a SQLite file to keep, and reuse when it exists")
    parser.add_argument("--no-browser", action="store_true", help="time the API calls only")
    args = parser.parse_args()
    quiet_env()
    with tempfile.TemporaryDirectory(prefix="aither-bench-") as tmp:
        url = args.db or f"sqlite:///{args.db_path or Path(tmp) / 'bench.db'}"
        reuse = args.db_path is not None and args.db_path.exists()
        settings = ServerSettings(
            home=Path(tmp),
            database_url=url,
            port=0,
            init_api_key=KEY,
            announce=False,
            write_credentials=False,
        )
        began = time.perf_counter()
        storage = Storage.open(url)  # migrates a kept file to the newest schema
        try:
            if reuse:
                traces = _kept_traces(storage)
                print(f"reusing {args.db_path} (opened in {time.perf_counter() - began:.0f} s)")
            else:
                org_id = bootstrap(storage, settings).org_id
                assert org_id is not None, "the benchmark needs an empty database"
                began = time.perf_counter()
                traces = _load(storage, org_id, args.n, time.time_ns() - 7 * DAY_NS)
                load_s = time.perf_counter() - began
                print(
                    f"{args.n:,} predictions and {args.n:,} LLM calls loaded in {load_s:.0f} s "
                    f"({url.split(':')[0]})"
                )
        finally:
            storage.close()
        with EmbeddedServer(settings) as server:
            api = _api_rows(server.base_url, traces[len(traces) // 2], args.repeat)
            print(table(api, ["page", "range", "API calls", "p50", "p95"]))
            if args.no_browser:
                return
            pages = _browser_rows(server.base_url, traces[len(traces) // 2], max(3, args.repeat // 2))
            print(pages if isinstance(pages, str) else table(pages, ["page load", "range", "p50", "p95"]))


if __name__ == "__main__":
    main()
