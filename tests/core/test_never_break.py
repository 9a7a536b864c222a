"""Principle 1: an error inside aither never reaches the host application."""

from __future__ import annotations

from typing import Any

import pytest

import aither
from aither.testing import SpanCapture


class Hostile(list):  # type: ignore[type-arg]
    """A list that breaks anything that slices it: the sampler will fail on it."""

    def __getitem__(self, item: Any) -> Any:
        raise RuntimeError("no slicing for you")


def test_a_failing_sampler_is_counted_reported_once_and_the_result_passes_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    errors: list[BaseException] = []
    capture = SpanCapture(raise_internal_errors=False, on_error=errors.append)
    try:
        model = capture.client.wrap(lambda x: "result", name="m")
        for _ in range(3):
            assert model(Hostile([1, 2])) == "result"
        assert capture.client.stats().internal_errors == 3
        assert [str(e) for e in errors] == ["no slicing for you"] * 3
        warnings = [r for r in caplog.records if r.name == "aither"]
        assert len(warnings) == 1 and "your code is unaffected" in warnings[0].getMessage()
        spans = capture.spans()
        assert len(spans) == 3 and all(s.attributes["ml.model.name"] == "m" for s in spans)
    finally:
        capture.close()


def test_a_failing_on_error_callback_is_contained() -> None:
    def explode(exc: BaseException) -> None:
        raise ValueError("callback broke")

    capture = SpanCapture(raise_internal_errors=False, on_error=explode)
    try:
        assert capture.client.wrap(lambda x: 7, name="m")(Hostile()) == 7
        assert capture.client.stats().internal_errors == 1
    finally:
        capture.close()


def test_internal_errors_are_raised_when_the_settings_ask(aither_capture: SpanCapture) -> None:
    with pytest.raises(RuntimeError, match="no slicing for you"):
        aither_capture.client.wrap(lambda x: 7, name="m")(Hostile())


def test_disabled_is_a_pure_pass_through() -> None:
    client = aither.Client(enabled=False)
    tracked = client.wrap(lambda x: x + 1, name="m")
    assert tracked(1) == 2 and tracked.last_trace_id is None

    @client.track
    def f() -> int:
        return 5

    assert f() == 5
    assert client.log_prediction("m", {"a": 1}, 1) is None
    assert client.log_event("e") is None
    client.log_label("4bf92f3577b34da6a3ce929d0e0e4736", 1)
    with pytest.raises(aither.InvalidTraceId):
        client.log_label("nope", 1)  # still the caller's mistake
    with client.span("s") as s:
        s.set_output(1)
    assert client.flush() is True and client.stats() == aither.Stats(0, 0, 0, 0, 0, 0, 0)


def test_disabled_by_environment_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AITHER_ENABLED", "false")
    assert aither.Client().enabled is False
