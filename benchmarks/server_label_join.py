"""The label join and the metrics query on 1,000,000 predictions (SQLite by default).

1. load N single-row predictions of two model versions over a week (bulk insert, not timed
   as ingest: this benchmark is about the join and the queries);
2. join labels for a share of them through the writer, in export-sized batches, exactly as
   ingest does (label spans in, per-row pairs out): labels joined per second;
3. time the queries the API runs on that table: metrics per version (all time, one day),
   the models list, a page of unlabelled predictions. Median of three runs each.

    python -m benchmarks.server_label_join [--n 1000000] [--labelled 0.5] [--db postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aither.server import ServerSettings, Storage
from aither.server.bootstrap import bootstrap
from aither.server.ingest.records import DecodedBatch, LabelRecord, SpanRecord
from aither.server.storage.filters import ModelScope, Paging, PredictionFilter
from aither.server.storage.ingest import IngestJob
from aither.server.storage.metrics import model_metrics
from aither.server.storage.queries import Window, list_models, list_predictions
from aither.server.storage.schema import metadata, predictions

from ._common import quiet_env, table

DAY_NS = 86_400 * 10**9
CHUNK = 20_000
LABEL_BATCH = 5_000


def _load_predictions(storage: Storage, org_id: str, n: int, start_ns: int) -> list[tuple[str, str, int]]:
    """Insert n predictions; returns (trace id, span id, predicted class) of each."""
    rng = random.Random(7)
    keys = []
    for offset in range(0, n, CHUNK):
        rows = []
        for index in range(offset, min(n, offset + CHUNK)):
            trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
            predicted = rng.random() < 0.3
            keys.append((trace_id, span_id, int(predicted)))
            rows.append(
                {
                    "org_id": org_id,
                    "trace_id": trace_id,
                    "span_id": span_id,
                    "model_name": "fraud_detector",
                    "model_version": "1.2.3" if index % 4 else "1.3.0",
                    "environment": "production",
                    "framework": "sklearn",
                    "model_class": "sklearn.ensemble.RandomForestClassifier",
                    "method": "predict",
                    "input_rows": 1,
                    "output_rows": 1,
                    "features": None,
                    "prediction": f'{{"sample": [{int(predicted)}], "_meta": {{"rows": 1}}}}',
                    "task": "classification",
                    "time_ns": start_ns + index * (7 * DAY_NS // n),
                    "latency_ms": rng.lognormvariate(0.5, 0.6),
                    "is_error": rng.random() < 0.002,
                    "error_message": None,
                }
            )
        with storage.engine.begin() as connection:
            connection.execute(predictions.insert(), rows)
    return keys


def _label_batches(
    keys: list[tuple[str, str, int]], share: float, start_ns: int, n: int
) -> list[DecodedBatch]:
    rng = random.Random(11)
    batches: list[DecodedBatch] = []
    batch = DecodedBatch()
    for index, (trace_id, span_id, predicted) in enumerate(keys):
        if rng.random() >= share:
            continue
        truth = predicted if rng.random() < 0.9 else 1 - predicted
        label_span = os.urandom(8).hex()
        time_ns = start_ns + index * (7 * DAY_NS // n) + rng.randint(1, 3600) * 10**9
        batch.spans.append(
            SpanRecord(
                trace_id,
                label_span,
                span_id,
                "label fraud_detector",
                "label",
                1,
                "bench",
                "aither",
                time_ns,
                time_ns,
                0,
                None,
                "{}",
                None,
                None,
                None,
            )
        )
        batch.labels.append(
            LabelRecord(
                trace_id,
                label_span,
                span_id,
                "fraud_detector",
                str(truth),
                False,
                None,
                time_ns,
                values=[truth],
            )
        )
        if len(batch.labels) == LABEL_BATCH:
            batches.append(batch)
            batch = DecodedBatch()
    if batch.labels:
        batches.append(batch)
    return batches


def _median_s(fn: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="predictions to load")
    parser.add_argument("--labelled", type=float, default=0.5, help="share of predictions that get a label")
    parser.add_argument("--db", help="database URL (default: a SQLite file in a temporary directory)")
    args = parser.parse_args()
    quiet_env()
    with tempfile.TemporaryDirectory(prefix="aither-bench-") as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = ServerSettings(
            home=Path(tmp), database_url=url, init_api_key="aith_benchmark_key_00000000", announce=False
        )
        storage = Storage.open(url)
        try:
            org_id = bootstrap(storage, settings).org_id
            assert org_id is not None, "the benchmark needs an empty database"
            start_ns = time.time_ns() - 8 * DAY_NS

            began = time.perf_counter()
            keys = _load_predictions(storage, org_id, args.n, start_ns)
            load_s = time.perf_counter() - began

            batches = _label_batches(keys, args.labelled, start_ns, args.n)
            labels = sum(len(batch.labels) for batch in batches)
            began, began_cpu = time.perf_counter(), time.process_time()
            joined, in_flight = 0, []
            for batch in batches:  # at most 8 requests' worth queued, as concurrent exporters would
                if len(in_flight) == 8:
                    joined += in_flight.pop(0).result(600).labels
                in_flight.append(storage.writer.submit(IngestJob(org_id, batch, time.time_ns())))
            joined += sum(future.result(600).labels for future in in_flight)
            join_s = time.perf_counter() - began
            # the writer thread's work: on a busy machine, the steadier figure
            join_cpu_s = time.process_time() - began_cpu
            assert joined == labels

            with storage.read() as connection:
                day = Window(start_ns + 3 * DAY_NS, start_ns + 4 * DAY_NS)
                metrics = model_metrics(connection, org_id, ModelScope("fraud_detector"))
                all_time_s = _median_s(
                    lambda: model_metrics(connection, org_id, ModelScope("fraud_detector"))
                )
                one_day_s = _median_s(
                    lambda: model_metrics(connection, org_id, ModelScope("fraud_detector", window=day))
                )
                one_version_s = _median_s(
                    lambda: model_metrics(connection, org_id, ModelScope("fraud_detector", "1.3.0"))
                )
                models_s = _median_s(lambda: list_models(connection, org_id))
                page_s = _median_s(
                    lambda: list_predictions(
                        connection, org_id, PredictionFilter(labelled=False), Paging(limit=50)
                    )
                )
        finally:
            storage.close()
            if args.db:  # leave the database as it was found
                from aither.server.storage.engine import create_engine

                engine = create_engine(url)
                with engine.begin() as connection:
                    for table_ in reversed(metadata.sorted_tables):
                        connection.execute(table_.delete())
                engine.dispose()

    print(f"{args.n:,} predictions loaded in {load_s:.1f} s on {storage.dialect}; {labels:,} labels")
    print(
        f"label join: {join_cpu_s:.1f} s of CPU ({join_cpu_s / labels * 1e6:.0f} µs per label, "
        f"{labels / join_cpu_s:,.0f} labels per CPU-second)"
    )
    rows = [
        [
            "label join (through the writer)",
            f"{labels:,} labels",
            f"{join_s:.2f} s",
            f"{labels / join_s:,.0f} labels/s",
        ],
        ["metrics, all time, 2 versions", f"{args.n:,} predictions", f"{all_time_s:.2f} s", ""],
        ["metrics, one day", f"{args.n // 7:,} predictions", f"{one_day_s:.2f} s", ""],
        ["metrics, one version", f"{args.n // 4:,} predictions", f"{one_version_s:.2f} s", ""],
        ["models list", f"{args.n:,} predictions", f"{models_s:.2f} s", ""],
        ["unlabelled predictions, first page", "50 rows", f"{page_s * 1000:.1f} ms", ""],
    ]
    print(table(rows, ["query", "over", "time (median of 3)", "rate"]))
    for version in metrics:
        scores = version["classification"] or {}
        print(
            f"version {version['version']}: {version['predictions']:,} predictions, "
            f"coverage {version['label_coverage']:.1%}, accuracy {scores.get('accuracy', float('nan')):.3f}, "
            f"p50 latency {version['latency_ms']['p50']:.2f} ms"
        )


if __name__ == "__main__":
    main()
