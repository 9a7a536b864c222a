"""The README's examples, as written: wrap a model, log a prediction, join labels, track a function.

Run it against any aither server (or OTLP receiver that takes a key):

    AITHER_API_KEY=aith_... AITHER_BASE_URL=http://127.0.0.1:4680 python examples/quickstart.py
"""

from __future__ import annotations

import asyncio

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

import aither

aither.init()  # AITHER_API_KEY, AITHER_BASE_URL from the environment

data = load_breast_cancer(as_frame=True)
X, y = data.data, data.target
model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X[:400], y[:400])

# One line to instrument; everything else about the model stays as it was.
tracked = aither.wrap(
    model,
    name="fraud_detector",
    version="1.2.3",
    environment="production",
    sample_rows=5,
    sample_columns=10,
    features_fn=None,
)
batch = X[400:420]
y_hat = tracked.predict(batch)
proba = tracked.predict_proba(batch[:3])
print(
    "classes:",
    tracked.classes_,
    "last trace:",
    tracked.last_trace_id,
    "traces so far:",
    len(tracked.trace_ids),
)
assert aither.unwrap(tracked) is model and isinstance(tracked, RandomForestClassifier)

# Ground truth arrives later: one label per row of the batch, in the prediction's trace.
batch_trace = tracked.trace_ids[0]
aither.log_label(trace_id=batch_trace, label=y[400:420].tolist())
# ...or only for some rows, by row index.
aither.log_label(trace_id=tracked.last_trace_id, label={0: int(y.iloc[420]), 2: int(y.iloc[422])})

# A prediction made outside a wrapped model.
trace_id = aither.log_prediction(
    model_name="my_pipeline",
    features={"amount": 150.0},
    prediction=0.87,
    version="1.2.3",
    environment="production",
)
aither.log_label(trace_id=trace_id, label=1)


@aither.track("my_function")
def predict(features: dict[str, float]) -> float:
    return float(tracked.predict_proba(np.array([list(features.values())]))[0, 1])


@aither.track
async def predict_async(features: dict[str, float]) -> float:
    await asyncio.sleep(0)
    return predict(features)


score = asyncio.run(predict_async(dict(zip(X.columns, X.iloc[0].tolist(), strict=True))))
print(f"score: {score:.3f}")

# Two models in one trace: the label names its model; aither never guesses.
churn = aither.wrap(LogisticRegression(max_iter=5000).fit(X[:400], y[:400]), name="churn_model")


@aither.track("handle_request")
def handle(row: object) -> tuple[int, int]:
    return int(tracked.predict(row)[0]), int(churn.predict(row)[0])


handle(X[430:431])
request_trace = aither.last_trace_id()
try:
    aither.log_label(trace_id=request_trace, label=0)
except aither.AmbiguousLabel as exc:
    print("ambiguous, as expected:", exc)
aither.log_label(trace_id=request_trace, label=0, model_name="fraud_detector")

# The original README's other call form: calling the wrapped model runs predict (one span).
result = tracked(X[431:433])
assert (result == tracked.model.predict(X[431:433])).all()

delivered = aither.flush(timeout=5.0)
print("delivered:", delivered, aither.stats())
aither.close()
