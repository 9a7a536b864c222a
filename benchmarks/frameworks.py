"""Per-framework overhead of ``aither.wrap`` against the raw call and a hand-written OpenTelemetry span.

For each framework, a small model is called on a 1-row and a 10,000-row input three ways:
raw; wrapped; and inside a span written by hand with OpenTelemetry, carrying the same
attributes, its samples made the way a user would (slice, ``.tolist()``, ``json.dumps``) on
the caller's thread. Both instrumented variants export over OTLP/HTTP to the same receiver
in another process. Overhead = the variant's median minus the raw median. The three take
turns in rounds, so a load spike lands on each alike; the spread of the raw call's
per-round medians is shown as the noise (an overhead smaller than it is not a measurement).
Each framework runs in its own process, so one framework's thread pools never slow another's.

    python -m benchmarks.frameworks [--only torch,xgboost] [--repeat N] [--prediction-rows N]

The models map rows to rows, so a 10,000-row call also returns 10,000 rows, which
``ml.prediction`` keeps whole up to ``prediction_rows`` (aither's default: 1,000 rows): a copy of the
output on the caller's thread and its JSON on the export thread. ``--prediction-rows 5``
shows the overhead without that.

Frameworks that are not installed are skipped. Takes about three minutes on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python benchmarks/frameworks.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from aither.sampling.limits import SampleLimits
from benchmarks._common import otel_tracer, quiet_env, sink, table

ROWS = (1, 10_000)
SAMPLE_ROWS, SAMPLE_COLUMNS = 5, 10
PREDICTION_COLUMNS = 100  # aither's cap of ml.prediction's columns
DEFAULT_PREDICTION_ROWS = SampleLimits().prediction_rows  # aither's default cap of ml.prediction's rows
prediction_rows = DEFAULT_PREDICTION_ROWS  # --prediction-rows
SECONDS_PER_VARIANT = 1.2  # each median is over as many calls as fit in this, within [30, 3000]
ROUNDS = 3  # the variants take turns, a third of the calls each turn


@dataclass
class Bench:
    """One framework's model and how to call and describe it."""

    framework: str
    model: Any
    method: str
    data: Callable[[int], Any]
    call: Callable[[Any, Any], Any]


# -- what a user writes by hand: slice, convert, describe ----------------------------------------


def _head(value: Any, rows: int, columns: int) -> tuple[Any, dict[str, Any]]:
    """The sample and ``_meta`` a careful user computes for one value, on the caller's thread."""
    tp = type(value)
    root = tp.__module__.partition(".")[0]
    if root == "torch":
        shape = list(value.shape)
        index = (slice(rows),) + (slice(columns),) * (len(shape) - 1)
        head = value.detach()[index].cpu().tolist()
        meta = {"dtypes": str(value.dtype).removeprefix("torch."), "device": str(value.device)}
    elif root == "tensorflow":
        shape = value.shape.as_list()
        index = (slice(rows),) + (slice(columns),) * (len(shape) - 1)
        head = value[index].numpy().tolist()
        meta = {"dtypes": value.dtype.name, "device": value.device}
    elif root == "tinygrad":
        shape = list(value.shape)
        index = (slice(rows),) + (slice(columns),) * (len(shape) - 1)
        head = value[index].tolist()
        meta = {"dtypes": str(value.dtype), "device": str(value.device)}
    elif root == "xgboost":
        shape = [value.num_row(), value.num_col()]
        head = value.slice(np.arange(min(rows, shape[0]))).get_data()[:, :columns].toarray().tolist()
        meta = {"dtypes": "float32", "columns": value.feature_names}
    elif root == "catboost":
        shape = [value.num_row(), value.num_col()]
        head = np.asarray(value.slice(list(range(min(rows, shape[0])))).get_features())[:, :columns].tolist()
        meta = {"dtypes": "float32"}
    elif hasattr(value, "logits"):  # a transformers ModelOutput
        return _head(value.logits, rows, columns)
    else:
        array = np.asarray(value)
        shape = list(array.shape)
        index = (slice(rows),) + (slice(columns),) * (len(shape) - 1)
        head = array[index].tolist()
        meta = {"dtypes": str(array.dtype)}
    described = {
        "type": f"{tp.__module__}.{tp.__qualname__}",
        "shape": shape,
        "columns": None,
        "rows": shape[0] if shape else 1,
        "truncated": bool(shape) and (shape[0] > rows or any(d > columns for d in shape[1:])),
        **meta,
    }
    return head, described


def handwritten(tracer: Any, bench: Bench, name: str) -> Callable[[Any], Any]:
    static = {
        "aither.span.kind": "prediction",
        "aither.schema.version": "1",
        "ml.model.name": name,
        "ml.model.framework": bench.framework,
        "ml.model.class": f"{type(bench.model).__module__}.{type(bench.model).__qualname__}",
        "ml.method": bench.method,
    }
    model, call = bench.model, bench.call

    def traced(x: Any) -> Any:
        with tracer.start_as_current_span(f"predict {name}", attributes=static) as span:
            y = call(model, x)
            head, meta = _head(x, SAMPLE_ROWS, SAMPLE_COLUMNS)
            span.set_attribute("ml.features", json.dumps({"sample": head, "_meta": meta}))
            out, out_meta = _head(y, prediction_rows, PREDICTION_COLUMNS)
            span.set_attribute("ml.prediction", json.dumps({"sample": out, "_meta": out_meta}))
            span.set_attribute("ml.input.rows", meta["rows"])
            span.set_attribute("ml.output.rows", out_meta["rows"])
            return y

    return traced


# -- the frameworks --------------------------------------------------------------------------------


def _features(rows: int, columns: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((rows, columns), dtype=np.float32)


def bench_sklearn() -> Bench:
    from sklearn.linear_model import LogisticRegression

    X = _features(2_000)
    model = LogisticRegression().fit(X, X[:, 0] > 0.5)
    return Bench("sklearn", model, "predict", _features, lambda m, x: m.predict(x))


def bench_torch() -> Bench:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).eval()

    def call(m: Any, x: Any) -> Any:
        with torch.no_grad():
            return m(x)

    return Bench("torch", model, "__call__", lambda n: torch.from_numpy(_features(n)), call)


def bench_keras() -> Bench:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((16,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)]
    )
    return Bench("keras", model, "__call__", lambda n: tf.constant(_features(n)), lambda m, x: m(x))


def bench_transformers() -> Bench:
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=32,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
        num_labels=2,
    )
    model = BertForSequenceClassification(config).eval()

    def data(n: int) -> Any:
        return torch.from_numpy(np.random.default_rng(0).integers(5, 32, (n, 4)))

    def call(m: Any, x: Any) -> Any:
        with torch.no_grad():
            return m(x)

    return Bench("transformers", model, "__call__", data, call)


def bench_tinygrad() -> Bench:
    from tinygrad import Tensor, nn

    class Net:
        def __init__(self) -> None:
            Tensor.manual_seed(0)
            self.l1, self.l2 = nn.Linear(16, 8), nn.Linear(8, 2)

        def __call__(self, x: Any) -> Any:
            return self.l2(self.l1(x).relu())

    # the caller realizes the output (as .numpy() would), so each variant computes it once
    return Bench(
        "tinygrad", Net(), "__call__", lambda n: Tensor(_features(n)).realize(), lambda m, x: m(x).realize()
    )


def bench_xgboost() -> Bench:
    import xgboost as xgb

    X = _features(2_000)
    names = [f"f{i}" for i in range(16)]
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
        xgb.DMatrix(X, label=(X[:, 0] > 0.5), feature_names=names),
        num_boost_round=10,
    )
    return Bench(
        "xgboost",
        booster,
        "predict",
        lambda n: xgb.DMatrix(_features(n), feature_names=names),
        lambda m, x: m.predict(x),
    )


def bench_lightgbm() -> Bench:
    import lightgbm as lgb

    X = _features(2_000)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 8, "verbose": -1, "num_threads": 1},
        lgb.Dataset(X, label=(X[:, 0] > 0.5)),
        num_boost_round=10,
    )
    return Bench("lightgbm", booster, "predict", _features, lambda m, x: m.predict(x, num_threads=1))


def bench_catboost() -> Bench:
    import catboost as cb

    X = _features(2_000)
    model = cb.CatBoost(
        {"iterations": 10, "depth": 3, "verbose": False, "allow_writing_files": False, "thread_count": 1}
    ).fit(X, (X[:, 0] > 0.5).astype(int))
    return Bench(
        "catboost",
        model,
        "predict",
        lambda n: cb.Pool(_features(n)),
        lambda m, x: m.predict(x, thread_count=1),
    )


BENCHES: dict[str, Callable[[], Bench]] = {
    "sklearn": bench_sklearn,
    "torch": bench_torch,
    "keras": bench_keras,
    "transformers": bench_transformers,
    "tinygrad": bench_tinygrad,
    "xgboost": bench_xgboost,
    "lightgbm": bench_lightgbm,
    "catboost": bench_catboost,
}


def _calls(fn: Callable[[], Any], fixed: int | None) -> int:
    """``fixed``, or as many calls as fit in SECONDS_PER_VARIANT (30 to 3000)."""
    if fixed is not None:
        return fixed
    for _ in range(3):
        fn()
    start = time.perf_counter()
    for _ in range(5):
        fn()
    per_call = (time.perf_counter() - start) / 5
    return max(30, min(3000, int(SECONDS_PER_VARIANT / max(per_call, 1e-9))))


def _interleaved(variants: list[Callable[[], Any]], fixed: int | None) -> tuple[list[float], float]:
    """Median call time of each variant (ns), timed in ROUNDS alternating rounds so that a
    load spike on the machine lands on every variant alike; and the noise: the spread of
    the first variant's per-round medians."""
    counts = [_calls(fn, fixed) for fn in variants]
    times: list[list[int]] = [[] for _ in variants]
    first_rounds: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(ROUNDS):
        for i, fn in enumerate(variants):
            per_round = max(10, counts[i] // ROUNDS)
            for _ in range(min(20, per_round)):
                fn()  # warm up again after the other variants ran
            got = []
            for _ in range(per_round):
                start = clock()
                fn()
                got.append(clock() - start)
            times[i] += got
            if i == 0:
                first_rounds.append(statistics.median(got))
    return [statistics.median(t) for t in times], max(first_rounds) - min(first_rounds)


def measure(key: str, base_url: str, fixed_repeat: int | None) -> dict[str, Any]:
    """One framework's medians, in this process: {rows: [raw, wrapped, hand-written, noise]} in ns."""
    import aither

    bench = BENCHES[key]()
    client = aither.Client(api_key="bench", base_url=base_url, prediction_rows=prediction_rows)
    tracer, provider = otel_tracer(base_url)
    tracked = client.wrap(bench.model, name=key)
    hand = handwritten(tracer, bench, key)
    model, call = bench.model, bench.call
    medians: dict[str, Any] = {}
    for n in ROWS:
        x = bench.data(n)
        (raw, wrapped, manual), noise = _interleaved(
            [lambda: call(model, x), lambda: call(tracked, x), lambda: hand(x)], fixed_repeat
        )
        client.flush(60)
        provider.force_flush()
        medians[str(n)] = [raw, wrapped, manual, noise]
    stats = client.stats()
    client.close()
    provider.shutdown()
    return {"medians": medians, "dropped": stats.dropped, "failed": stats.failed, "exported": stats.exported}


def run(only: list[str] | None, fixed_repeat: int | None) -> str:
    """Each framework in a fresh process: their thread pools (OpenMP, TensorFlow's) never meet,
    as in a service that serves one framework's model."""
    quiet_env()
    rows: list[list[str]] = []
    ratios: list[list[str]] = []
    ledger: list[str] = []
    with sink() as base_url:
        for key in BENCHES:
            if only and key not in only:
                continue
            command = [sys.executable, str(Path(__file__).resolve()), "--child", key, "--base-url", base_url]
            if fixed_repeat is not None:
                command += ["--repeat", str(fixed_repeat)]
            command += ["--prediction-rows", str(prediction_rows)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
                print(f"skipping {key}: {reason}", file=sys.stderr, flush=True)
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            overhead: dict[int, float] = {}
            noisy: dict[int, bool] = {}
            for n in ROWS:
                raw, wrapped, manual, noise = result["medians"][str(n)]
                o_wrap, o_hand = wrapped - raw, manual - raw
                overhead[n] = o_wrap
                noisy[n] = o_wrap <= noise
                rows.append(
                    [
                        key,
                        f"{n:,}",
                        f"{raw / 1000:,.1f}",
                        f"{noise / 1000:,.1f}",
                        f"{o_wrap / 1000:,.1f}",
                        f"{o_hand / 1000:,.1f}",
                        f"{o_wrap / o_hand:.2f}" if o_hand > 0 else "n/a",
                    ]
                )
            small, big = overhead[ROWS[0]], overhead[ROWS[1]]
            ratio = f"{big / small:.2f}" if small > 0 else "n/a"
            within = " (10,000-row overhead within the noise)" if noisy[ROWS[1]] else ""
            ratios.append([key, ratio + within])
            ledger.append(
                f"{key}: exported {result['exported']}, dropped {result['dropped']}, "
                f"failed {result['failed']}"
            )
            print(f"done: {key}", file=sys.stderr, flush=True)
    text = table(
        rows,
        [
            "framework",
            "rows",
            "raw call µs",
            "raw noise µs",
            "aither overhead µs",
            "hand-written OTel overhead µs",
            "aither / hand-written",
        ],
    )
    text += "\n\n" + table(ratios, ["framework", "aither overhead: 10,000 rows / 1 row"])
    text += f"\n\nprediction_rows={prediction_rows}; aither ledger: " + "; ".join(ledger)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", help="comma-separated frameworks: " + ",".join(BENCHES))
    parser.add_argument("--repeat", type=int, help="calls per median (default: as many as fit in ~1 s)")
    parser.add_argument("--child", choices=list(BENCHES), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument(
        "--prediction-rows",
        type=int,
        default=DEFAULT_PREDICTION_ROWS,
        help=f"rows of the output kept (default: aither's, {DEFAULT_PREDICTION_ROWS})",
    )
    args = parser.parse_args()
    global prediction_rows
    prediction_rows = args.prediction_rows
    warnings.filterwarnings("ignore")  # third-party start-up warnings would clutter the table
    if args.child:
        print(json.dumps(measure(args.child, args.base_url, args.repeat)))
        return
    only = args.only.split(",") if args.only else None
    start = time.perf_counter()
    text = run(only, args.repeat)
    print(text)
    print(f"\n(ran in {time.perf_counter() - start:.0f} s)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
