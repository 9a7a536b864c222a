"""Per-call overhead of ``aither.wrap`` against the raw call and a hand-written OpenTelemetry span.

Both instrumented variants export over OTLP/HTTP to the same receiver (another process);
the hand-written span carries the same attributes, built the way a user would: the JSON of
the input's sample and of the outputs, made on the caller's thread.

    python -m benchmarks.overhead [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from aither.sampling.limits import SampleLimits

from ._common import median_ns, otel_tracer, quiet_env, sink, table

PREDICTION_ROWS = SampleLimits().prediction_rows  # aither's default cap of ml.prediction


class Trivial:
    """A model that costs nothing: the overhead is all there is to see."""

    def predict(self, X: Any) -> Any:
        return X[:, 0] if isinstance(X, np.ndarray) and X.ndim == 2 else X


def _meta(X: Any) -> dict[str, Any]:
    if isinstance(X, pd.DataFrame):
        return {
            "type": "pandas.DataFrame",
            "shape": list(X.shape),
            "columns": [str(c) for c in X.columns[:10]],
            "dtypes": [str(d) for d in X.dtypes.iloc[:10]],
            "rows": len(X),
            "truncated": X.shape[0] > 5 or X.shape[1] > 10,
        }
    return {
        "type": "numpy.ndarray",
        "shape": list(X.shape),
        "columns": None,
        "dtypes": str(X.dtype),
        "rows": X.shape[0],
        "truncated": X.shape[0] > 5 or (X.ndim > 1 and X.shape[1] > 10),
    }


def handwritten(tracer: Any, model: Any, name: str) -> Callable[[Any], Any]:
    """What a careful user writes by hand with OpenTelemetry for the same span."""
    static = {
        "aither.span.kind": "prediction",
        "aither.schema.version": "1",
        "ml.model.name": name,
        "ml.model.framework": "sklearn",
        "ml.model.class": f"{type(model).__module__}.{type(model).__qualname__}",
        "ml.method": "predict",
    }

    def call(X: Any) -> Any:
        with tracer.start_as_current_span(f"predict {name}", attributes=static) as span:
            y = model.predict(X)
            head = X.iloc[:5, :10].to_numpy().tolist() if isinstance(X, pd.DataFrame) else X[:5, :10].tolist()
            span.set_attribute("ml.features", json.dumps({"sample": head, "_meta": _meta(X)}))
            out = y[:PREDICTION_ROWS]
            span.set_attribute(
                "ml.prediction",
                json.dumps(
                    {
                        "sample": out.tolist(),
                        "_meta": {
                            "type": "numpy.ndarray",
                            "shape": list(y.shape),
                            "columns": None,
                            "dtypes": str(y.dtype),
                            "rows": len(y),
                            "truncated": len(y) > PREDICTION_ROWS,
                        },
                    }
                ),
            )
            span.set_attribute("ml.input.rows", len(X))
            span.set_attribute("ml.output.rows", len(y))
            return y

    return call


def workloads() -> list[tuple[str, Any, Any]]:
    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target
    sk = LogisticRegression(max_iter=5000).fit(X.to_numpy(), y)
    sk_df = LogisticRegression(max_iter=5000).fit(X, y)
    frame = pd.concat([X] * 1, ignore_index=True).iloc[:256]
    big = np.random.default_rng(0).random((1_000_000, 10), dtype=np.float32)
    return [
        ("trivial model, 1 row", Trivial(), np.zeros((1, 4))),
        ("scikit-learn, 1 row", sk, X.to_numpy()[:1]),
        ("scikit-learn, 256x30 DataFrame", sk_df, frame),
        ("trivial model, 1,000,000-row array", Trivial(), big),
    ]


def run(repeat: int) -> tuple[str, dict[str, float]]:
    import aither

    quiet_env()
    rows = []
    overheads: dict[str, float] = {}
    with sink() as base_url:
        client = aither.Client(api_key="bench", base_url=base_url)
        tracer, provider = otel_tracer(base_url)
        for label, model, X in workloads():
            tracked = client.wrap(model, name="bench")
            hand = handwritten(tracer, model, "bench")
            raw = median_ns(lambda: model.predict(X), repeat)
            wrapped = median_ns(lambda: tracked.predict(X), repeat)
            client.flush(30)
            manual = median_ns(lambda: hand(X), repeat)
            provider.force_flush()
            o_wrap, o_hand = wrapped - raw, manual - raw
            overheads[label] = o_wrap
            rows.append(
                [
                    label,
                    f"{raw / 1000:.1f}",
                    f"{o_wrap / 1000:.1f}",
                    f"{o_hand / 1000:.1f}",
                    f"{o_wrap / o_hand:.2f}",
                ]
            )
        stats = client.stats()
        client.close()
        provider.shutdown()
    text = table(
        rows,
        [
            "workload",
            "raw call µs",
            "aither overhead µs",
            "hand-written OTel overhead µs",
            "aither / hand-written",
        ],
    )
    big, small = overheads["trivial model, 1,000,000-row array"], overheads["trivial model, 1 row"]
    text += (
        f"\n\n1,000,000-row overhead / 1-row overhead: {big / small:.2f}  (medians of {repeat} calls each)"
    )
    text += f"\naither ledger: {stats}"
    return text, overheads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3000)
    args = parser.parse_args()
    text, _ = run(args.repeat)
    print(text)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
