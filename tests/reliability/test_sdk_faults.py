"""Fault injection (values whose ``__repr__``/``__len__`` raise, MemoryError, a raising
``on_error``) and init/close cycles (nothing of a closed client stays reachable)."""

from __future__ import annotations

import gc
import logging
import threading
import weakref
from typing import Any

import pytest
from receiver import OTLPReceiver

import aither
from aither.testing import SpanCapture


class BadRepr:
    def __init__(self, error: type[BaseException] = RuntimeError) -> None:
        self.error = error

    def __repr__(self) -> str:
        raise self.error("repr exploded")


class BadLen(BadRepr):
    def __len__(self) -> int:
        raise self.error("len exploded")


def capture(**settings: Any) -> SpanCapture:
    return SpanCapture(raise_internal_errors=False, **settings)


@pytest.mark.parametrize(
    ("value", "faults"),
    [
        (BadRepr(), 1),  # __repr__ raises
        (BadLen(), 2),  # __len__ and __repr__ raise: two faults
        (BadRepr(MemoryError), 1),
        (BadLen(MemoryError), 2),
    ],
    ids=["repr", "len-and-repr", "repr-memoryerror", "len-memoryerror"],
)
def test_a_faulty_input_is_counted_once_per_fault_and_keeps_its_placeholder(value: Any, faults: int) -> None:
    errors: list[BaseException] = []
    cap = capture(on_error=errors.append)
    try:
        tracked = cap.client.wrap(lambda x: "ok", name="m")
        for _ in range(3):
            assert tracked(value) == "ok"
        (first, *_rest) = spans = cap.spans("prediction")
        assert len(spans) == 3
        assert first.attributes["ml.features"]["sample"] == f"<{type(value).__name__} object>"
        assert cap.client.stats().internal_errors == 3 * faults
        assert len(errors) == 3 and all("exploded" in str(e) for e in errors)
    finally:
        cap.close()


def test_a_faulty_output_is_counted_too() -> None:
    cap = capture()
    try:
        bad = BadRepr()
        assert cap.client.wrap(lambda x: bad, name="m")(1) is bad
        (span,) = cap.spans("prediction")
        assert span.attributes["ml.prediction"]["sample"] == "<BadRepr object>"
        assert cap.client.stats().internal_errors == 1
    finally:
        cap.close()


def test_a_faulty_value_inside_a_list_is_counted_when_encoded_on_the_export_thread() -> None:
    cap = capture()
    try:
        assert cap.client.wrap(lambda x: 0, name="m")([1, BadRepr(), 3]) == 0
        (span,) = cap.spans("prediction")
        assert span.attributes["ml.features"]["sample"] == [1, "<BadRepr object>", 3]
        assert cap.client.stats().internal_errors == 1
    finally:
        cap.close()


def test_faults_are_logged_once_not_once_per_call(caplog: pytest.LogCaptureFixture) -> None:
    cap = capture()
    try:
        tracked = cap.client.wrap(lambda x: 0, name="m")
        for _ in range(20):
            tracked(BadRepr())
        cap.spans()
        assert cap.client.stats().internal_errors == 20
        lines = [r for r in caplog.records if r.name == "aither"]
        assert len(lines) == 1 and "your code is unaffected" in lines[0].getMessage()
    finally:
        cap.close()


class Unsliceable(list):  # type: ignore[type-arg]
    """A list that breaks the sampler itself: an internal error on every call."""

    def __getitem__(self, item: Any) -> Any:
        raise RuntimeError("no slicing")


def test_a_raising_on_error_is_logged_once_not_on_every_call(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[BaseException] = []

    def on_error(exc: BaseException) -> None:
        calls.append(exc)
        raise ValueError("the callback is broken too")

    cap = capture(on_error=on_error)
    try:
        tracked = cap.client.wrap(lambda x: 7, name="m")
        with caplog.at_level(logging.WARNING, logger="aither"):
            for _ in range(20):
                assert tracked(Unsliceable([1])) == 7
        assert len(calls) == 20  # still called every time
        callback_lines = [r for r in caplog.records if "on_error" in r.getMessage()]
        assert len(callback_lines) == 1 and callback_lines[0].exc_info is not None
        assert cap.client.stats().internal_errors == 20
    finally:
        cap.close()


# -- init/close cycles ------------------------------------------------------------------------------
def test_a_closed_client_leaves_nothing_reachable(receiver: OTLPReceiver) -> None:
    refs: list[weakref.ref[Any]] = []
    threads = threading.active_count()
    for i in range(20):
        client = aither.Client(api_key="k", base_url=receiver.base_url, flush_interval=0.05)
        client.wrap(lambda x: x, name="m")(i)
        assert client.close(10) is True
        refs.append(weakref.ref(client._runtime))
        del client
    gc.collect()
    assert [r for r in refs if r() is not None] == []
    assert len(receiver.received()) == 20
    assert threading.active_count() <= threads + 1  # export and flush threads are gone too


def test_init_close_cycles_leave_no_runtime_behind(receiver: OTLPReceiver) -> None:
    previous = aither._client._default
    refs: list[weakref.ref[Any]] = []
    try:
        for i in range(20):
            client = aither.init(api_key="k", base_url=receiver.base_url, flush_interval=0.05)
            aither.wrap(lambda x: x, name="m")(i)
            refs.append(weakref.ref(client._runtime))
            del client
            aither.close()
        gc.collect()
        assert [r for r in refs if r() is not None] == []
        assert len(receiver.received()) == 20
    finally:
        aither._client._default = previous
