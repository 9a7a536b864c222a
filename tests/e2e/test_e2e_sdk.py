"""The SDK against the real server: wrap, labels, every span accounted for, metrics as sklearn has them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import aither

np = pytest.importorskip("numpy")
sklearn_datasets = pytest.importorskip("sklearn.datasets")
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, precision_score, recall_score  # noqa: E402


@pytest.fixture
def client(server) -> Iterator[aither.Client]:  # type: ignore[no-untyped-def]
    sdk = aither.Client(api_key=server.api_key, base_url=server.base_url, flush_interval=0.05)
    yield sdk
    sdk.close()


@pytest.fixture(scope="module")
def classifier():  # type: ignore[no-untyped-def]
    features, target = sklearn_datasets.make_classification(n_samples=300, n_features=6, random_state=1)
    return LogisticRegression(max_iter=500).fit(features[:200], target[:200]), features[200:], target[200:]


def test_wrapped_classifier_labels_and_metrics(client, api, classifier) -> None:  # type: ignore[no-untyped-def]
    model, features, truth = classifier
    tracked = client.wrap(model, name="fraud_detector", version="1.2.3", environment="production")
    batch = tracked.predict(features[:60])
    batch_trace = tracked.last_trace_id
    client.log_label(batch_trace, truth[:60].tolist())
    singles = []
    for row in range(60, 100):
        singles.append(tracked.predict(features[row : row + 1])[0])
        if row % 2 == 0:
            client.log_label(tracked.last_trace_id, int(truth[row]))
    tracked.predict_proba(features[:10])
    client.log_label(tracked.last_trace_id, {0: int(truth[0]), 3: int(truth[3])})
    assert client.flush(timeout=10)
    stats = client.stats()
    assert stats.dropped == stats.failed == stats.queued == 0

    usage = api.org.usage()
    assert usage.spans == stats.exported  # every exported span is stored, once
    assert (usage.predictions, usage.labels) == (42, 22)
    assert usage.prediction_rows == 60 + 40 + 10

    metrics = api.models.metrics("fraud_detector")
    (version,) = metrics.versions
    assert (version.version, version.predictions, version.rows, version.errors) == ("1.2.3", 42, 110, 0)
    labelled_pred = np.concatenate([batch, np.array(singles)[::2], model.predict(features[[0, 3]])])
    labelled_true = np.concatenate([truth[:60], truth[60:100:2], truth[[0, 3]]])
    assert version.labelled_rows == len(labelled_true) == 82
    assert version.label_coverage == pytest.approx(82 / 110)
    scores = version.classification
    assert scores is not None
    assert scores.accuracy == pytest.approx(accuracy_score(labelled_true, labelled_pred))
    assert scores.precision == pytest.approx(precision_score(labelled_true, labelled_pred))
    assert scores.recall == pytest.approx(recall_score(labelled_true, labelled_pred))
    assert scores.f1 == pytest.approx(f1_score(labelled_true, labelled_pred))
    assert version.latency_ms.p50 is not None and version.latency_ms.p50 > 0
    assert version.label_delay_s is not None
    assert metrics.labels.ambiguous == metrics.unattributed_labels.ambiguous == 0

    (model_row,) = api.models.list()
    assert (model_row.name, model_row.framework, model_row.environment) == (
        "fraud_detector",
        "sklearn",
        "production",
    )
    page = api.predictions.list(model="fraud_detector", labelled=False, limit=100)
    assert len(page.items) == 20  # the unlabelled single predictions
    trace = api.traces.get(batch_trace)
    (prediction,) = trace.predictions
    assert prediction.labelled_rows == 60
    assert [prediction.labels[i] for i in range(60)] == truth[:60].tolist()
    assert prediction.prediction["_meta"]["rows"] == 60


def test_regressor_and_log_prediction(client, api) -> None:  # type: ignore[no-untyped-def]
    features, target = sklearn_datasets.make_regression(n_samples=80, n_features=3, noise=5.0, random_state=2)
    model = LinearRegression().fit(features[:50], target[:50])
    tracked = client.wrap(model, name="price", version="2")
    predicted = tracked.predict(features[50:])
    client.log_label(tracked.last_trace_id, target[50:].tolist())
    trace_id = client.log_prediction(
        model_name="scorer", features={"amount": 150.0}, prediction=0.87, version="1"
    )
    assert trace_id is not None
    client.log_label(trace_id, 1)
    assert client.flush(timeout=10)
    (version,) = api.models.metrics("price").versions
    assert version.task == "regression"
    assert version.regression is not None
    assert version.regression.mae == pytest.approx(mean_absolute_error(target[50:], predicted))
    (scorer,) = api.models.metrics("scorer").versions
    assert scorer.regression is not None
    assert scorer.regression.mae == pytest.approx(0.13)
    assert api.predictions.list(model="scorer").items[0].label == 1


def test_two_models_in_one_trace_and_a_failing_model(client, api, classifier) -> None:  # type: ignore[no-untyped-def]
    model, features, truth = classifier
    first = client.wrap(model, name="model_a")
    second = client.wrap(model, name="model_b")
    with client.span("request"):
        first.predict(features[:1])
        second.predict(features[:1])
        trace_id = client.last_trace_id()
    assert trace_id is not None
    with pytest.raises(aither.AmbiguousLabel):
        client.log_label(trace_id, 1)
    client.log_label(trace_id, int(truth[0]), model_name="model_b")

    broken = client.wrap(lambda rows: 1 / 0, name="broken")
    with pytest.raises(ZeroDivisionError):
        broken(features[:3])
    assert client.flush(timeout=10)
    assert api.models.metrics("model_a").versions[0].labelled_rows == 0
    assert api.models.metrics("model_b").versions[0].labelled_rows == 1
    (failed,) = api.models.metrics("broken").versions
    assert (failed.predictions, failed.errors, failed.error_rate) == (1, 1, 1.0)
    (error,) = api.predictions.list(model="broken").items
    assert error.status == "error"
    assert "ZeroDivisionError" in (error.error_message or "")


def test_tracked_functions_and_events_are_stored(client, api) -> None:  # type: ignore[no-untyped-def]
    @client.track("answer_question")
    def answer(question: str) -> str:
        return question.upper()

    assert answer("hi") == "HI"
    trace_id = client.log_event("tool_call", input={"q": 1}, output={"ok": True}, cost=0.25)
    assert trace_id is not None
    assert client.flush(timeout=10)
    assert api.org.usage().operations == 2
    (operation,) = api.traces.get(trace_id).operations
    assert (operation["kind"], operation["name"], operation["cost_usd"]) == ("event", "tool_call", 0.25)


def test_a_long_batch_is_scored_past_its_first_thousand_rows(server, api) -> None:  # type: ignore[no-untyped-def]
    """Raised past the default 1,000, ``prediction_rows`` keeps the rows past the first thousand
    in binary (``rest``); the server scores them all."""
    client = aither.Client(
        api_key=server.api_key, base_url=server.base_url, flush_interval=0.05, prediction_rows=10_000
    )
    rng = np.random.default_rng(7)
    classes = rng.integers(0, 2, 2_500)
    truth = rng.integers(0, 2, 2_500)
    tracked = client.wrap(lambda x: classes, name="long_batch")
    assert tracked(np.zeros((2_500, 3))) is classes
    client.log_label(tracked.last_trace_id, truth.tolist())
    assert client.flush(timeout=10)
    client.close()

    (version,) = api.models.metrics("long_batch").versions
    assert (version.rows, version.labelled_rows) == (2_500, 2_500)
    assert version.classification is not None
    assert version.classification.scored_rows == 2_500
    assert version.classification.accuracy == pytest.approx(float((classes == truth).mean()))
    # ...and scored past the JSON rows: the last 1,500 rows alone move the accuracy
    assert float((classes[:1_000] == truth[:1_000]).mean()) != pytest.approx(version.classification.accuracy)


def test_past_the_kept_rows_labels_count_for_coverage_but_are_not_scored(client, api) -> None:  # type: ignore[no-untyped-def]
    """At the default ``prediction_rows`` (1,000) a 2,500-row batch keeps 1,000 rows: its labels
    all count as labelled, and the scores say they cover the kept rows only."""
    rng = np.random.default_rng(8)
    classes = rng.integers(0, 2, 2_500)
    truth = rng.integers(0, 2, 2_500)
    tracked = client.wrap(lambda x: classes, name="capped")
    tracked(np.zeros((2_500, 3)))
    client.log_label(tracked.last_trace_id, truth.tolist())
    assert client.flush(timeout=10)

    (version,) = api.models.metrics("capped").versions
    assert (version.rows, version.labelled_rows, version.label_coverage) == (2_500, 2_500, 1.0)
    assert version.classification is not None and version.classification.scored_rows == 1_000
    assert version.classification.accuracy == pytest.approx(float((classes[:1_000] == truth[:1_000]).mean()))


def test_a_batch_of_wide_predictions_goes_in_requests_the_server_accepts(server, api) -> None:  # type: ignore[no-untyped-def]
    """20 predictions of 1,000 x 100 probabilities are ~38 MB of JSON in one export batch, past
    the server's 16 MiB body limit: the SDK sends the batch as several requests, losing nothing."""
    client = aither.Client(api_key=server.api_key, base_url=server.base_url, flush_interval=30)
    probabilities = np.random.default_rng(3).random((1_000, 100))
    tracked = client.wrap(lambda x: probabilities, name="wide_output")
    for _ in range(20):
        tracked(np.zeros((1_000, 3)))
    assert client.flush(timeout=60)
    stats = client.stats()
    client.close()
    assert (stats.exported, stats.failed, stats.dropped) == (20, 0, 0)
    (version,) = api.models.metrics("wide_output").versions
    assert (version.predictions, version.rows) == (20, 20_000)
