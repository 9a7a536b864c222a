"""Row samples for drift (``aither.sampling.rows``): random rows, taken without converting the input,
aligned with the outputs, and nothing for a call that ``ml.features`` shows whole."""

from __future__ import annotations

from typing import Any

import pytest

import aither
from aither.sampling import rows
from aither.sampling.encoder import dumps
from aither.testing import SpanCapture

np = pytest.importorskip("numpy")  # the core session runs without numpy


def _encoded(value: Any) -> Any:
    import json

    return json.loads(dumps(value))


def test_a_sorted_batch_is_sampled_at_random_not_from_its_head() -> None:
    x = np.sort(np.random.default_rng(0).standard_normal((10_000, 3)), axis=0)
    taken = rows.take_input(x)
    assert taken is not None and taken.of == 10_000 and len(taken.index) == rows.STATS_ROWS
    assert taken.index == sorted(set(taken.index))
    body = _encoded(taken)
    assert body["columns"] == ["f0", "f1", "f2"]
    np.testing.assert_array_equal(np.array(body["rows"]), x[taken.index])
    # the head of a sorted batch is its smallest values; the random rows are spread across it
    assert abs(np.mean(body["rows"], axis=0)[0]) < 0.4 < abs(x[:100, 0].mean())
    output = taken.output(x[:, 0] > 0)
    assert output is not None
    assert _encoded(output) == {"values": (x[taken.index, 0] > 0).tolist(), "index": taken.index}


def test_frames_lists_and_dicts() -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"a": range(300), "b": ["x", "y", "z"] * 100})
    taken = rows.take_input(frame)
    assert taken is not None
    body = _encoded(taken)
    assert body["columns"] == ["a", "b"] and all(
        row[0] == i for row, i in zip(body["rows"], taken.index, strict=True)
    )
    assert _encoded(taken.output(pandas.Series(range(300))))["values"] == taken.index

    records = [{"age": i, "city": "x"} for i in range(150)]
    taken = rows.take_input(records)
    assert taken is not None and _encoded(taken)["columns"] == ["age", "city"]
    assert [row[0] for row in _encoded(taken)["rows"]] == taken.index

    assert rows.take_input([[1, 2], [3, 4]], limit=1) is not None
    assert rows.take_input("text") is None and rows.take_input(np.zeros((2, 2, 2))) is None
    assert rows.take_input([[1, 2]]).output([1, 2, 3]) is None  # type: ignore[union-attr]  # rows differ


def test_polars_and_torch() -> None:
    polars = pytest.importorskip("polars")
    frame = polars.DataFrame({"a": list(range(200)), "b": [1.5] * 200})
    taken = rows.take_input(frame)
    assert taken is not None and [r[0] for r in _encoded(taken)["rows"]] == taken.index
    torch = pytest.importorskip("torch")
    tensor = torch.arange(600.0).reshape(200, 3)
    taken = rows.take_input(tensor)
    assert taken is not None and [r[0] for r in _encoded(taken)["rows"]] == [3.0 * i for i in taken.index]
    assert _encoded(taken.output(tensor[:, 0]))["values"] == [3.0 * i for i in taken.index]


def test_a_wrapped_model_sends_a_stats_sample_only_when_ml_features_is_cut(
    aither_capture: SpanCapture,
) -> None:
    class Model:
        def predict(self, x: Any) -> Any:
            return x[:, 0] * 2

    tracked = aither_capture.client.wrap(Model(), name="m")
    tracked.predict(np.ones((3, 2)))
    tracked.predict(np.arange(1000.0).reshape(500, 2))
    small, large = aither_capture.spans()
    assert "ml.features.stats_sample" not in small.attributes
    stats = large.attributes["ml.features.stats_sample"]
    outputs = large.attributes["ml.prediction.stats_sample"]
    assert stats["of"] == 500 and len(stats["rows"]) == 100
    assert outputs["values"] == [row[0] * 2 for row in stats["rows"]]


def test_set_reference_refuses_what_it_cannot_read() -> None:
    with pytest.raises(aither.ConfigError, match="can't read rows"):
        aither.set_reference("m", "not a table", api_key="k", base_url="http://127.0.0.1:9")
    with pytest.raises(aither.ConfigError, match="model's name"):
        aither.set_reference("", [[1.0]], api_key="k", base_url="http://127.0.0.1:9")
    with pytest.raises(aither.ConfigError, match="one value per row"):
        aither.set_reference("m", [[1.0], [2.0]], outputs=[1], api_key="k", base_url="http://127.0.0.1:9")


def test_the_budget_takes_every_call_of_a_quiet_model_and_a_bounded_random_share_of_a_busy_one() -> None:
    budget = rows.StatsBudget()
    window = rows.STATS_WINDOW_S
    cap = rows.STATS_CALLS_PER_WINDOW
    # the first window has no rate to go on: its first calls, up to the cap
    first = [budget.admit(now=100.0 + i * 0.001) for i in range(3 * cap)]
    assert first == [True] * cap + [False] * (2 * cap)
    # the next window knows the rate (3 x cap calls a window): a third of half the cap each
    second = [budget.admit(now=100.0 + window + i * window / (3 * cap)) for i in range(3 * cap)]
    taken = [i for i, ok in enumerate(second) if ok]
    assert cap // 4 <= len(taken) <= cap * 3 // 4  # ~cap/2, binomial spread
    # spread over the whole window, not its head: taken calls in both halves
    assert min(taken) < 1.5 * cap < max(taken)
    # a quiet spell: the rate falls, and every call of a slow model is taken again
    assert all(budget.admit(now=1000.0 + i) for i in range(5))


def test_a_busy_wrapped_model_sends_stats_samples_within_the_budget(aither_capture: SpanCapture) -> None:
    class Model:
        def predict(self, x: Any) -> Any:
            return x[:, 0]

    tracked = aither_capture.client.wrap(Model(), name="busy")
    x = np.arange(40.0).reshape(20, 2)
    calls = rows.STATS_CALLS_PER_WINDOW + 20
    for _ in range(calls):  # well within one window
        tracked.predict(x)
    spans = aither_capture.spans()
    assert len(spans) == calls
    sampled = [s for s in spans if "ml.features.stats_sample" in s.attributes]
    assert len(sampled) == rows.STATS_CALLS_PER_WINDOW
    assert all("ml.prediction.stats_sample" in s.attributes for s in sampled)
    assert all("ml.features" in s.attributes for s in spans)  # the display sample is on every call
