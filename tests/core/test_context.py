"""``aither.context(...)`` and ``wrap(..., user_id=...)``: who and in what context, on every span."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import aither
from aither.testing import SpanCapture

WHO = {"enduser.id": "u-42", "session.id": "s-7", "aither.metadata.plan": "pro"}


def who(span: object) -> dict[str, object]:
    attrs = span.attributes  # type: ignore[attr-defined]
    return {
        k: v
        for k, v in attrs.items()
        if k in ("enduser.id", "session.id") or k.startswith("aither.metadata.")
    }


def test_every_kind_of_span_inside_the_block_carries_user_session_and_metadata(
    aither_capture: SpanCapture,
) -> None:
    client = aither_capture.client
    model = client.wrap(lambda x: x + 1, name="inc")

    @client.track("step")
    def step(x: int) -> int:
        return int(model(x))

    with aither.context(user_id="u-42", session_id="s-7", metadata={"plan": "pro"}):
        assert step(1) == 2
        client.log_event("decision", metadata={"plan": "enterprise"})  # the span's own value wins
        with client.span("tool"):
            pass
    model(5)  # outside: nothing
    function, prediction, event, tool, outside = sorted(
        aither_capture.spans(), key=lambda s: s.raw.start_time
    )
    assert function.name == "step" and prediction.name == "predict inc"
    assert who(function) == who(prediction) == who(tool) == WHO
    assert who(event) == {**WHO, "aither.metadata.plan": "enterprise"}
    assert who(outside) == {}


def test_blocks_nest_and_the_inner_values_win(aither_capture: SpanCapture) -> None:
    client = aither_capture.client
    with aither.context(user_id="u-1", metadata={"team": "risk", "plan": "free"}):
        with aither.context(session_id="s-2", metadata={"plan": "pro", "ticket": {"id": 3}}):
            client.log_event("inner")
        client.log_event("outer")
    inner, outer = aither_capture.spans()
    assert who(inner) == {
        "enduser.id": "u-1",
        "session.id": "s-2",
        "aither.metadata.team": "risk",
        "aither.metadata.plan": "pro",
        "aither.metadata.ticket": '{"id":3}',
    }
    assert who(outer) == {"enduser.id": "u-1", "aither.metadata.team": "risk", "aither.metadata.plan": "free"}


def test_asyncio_tasks_and_an_executor_with_copy_context_inherit_it(aither_capture: SpanCapture) -> None:
    client = aither_capture.client

    async def main() -> None:
        async with aither.context(user_id="u-async"):
            await asyncio.gather(*(asyncio.create_task(work(i)) for i in range(3)))

    async def work(i: int) -> None:
        await asyncio.sleep(0)
        client.log_event(f"task {i}")

    asyncio.run(main())
    with aither.context(user_id="u-pool"), ThreadPoolExecutor(2) as pool:
        ctx = contextvars.copy_context()
        pool.submit(ctx.run, client.log_event, "pooled").result(timeout=10)
        # A plain thread starts with an empty context, as everywhere in Python: documented.
        bare = threading.Thread(target=client.log_event, args=("bare",))
        bare.start()
        bare.join(timeout=10)
    spans = {s.name: s for s in aither_capture.spans()}
    assert [spans[f"task {i}"].attributes["enduser.id"] for i in range(3)] == ["u-async"] * 3
    assert spans["pooled"].attributes["enduser.id"] == "u-pool"
    assert "enduser.id" not in spans["bare"].attributes


def test_wrap_puts_its_own_user_on_its_spans_under_the_context(aither_capture: SpanCapture) -> None:
    client = aither_capture.client
    model = client.wrap(lambda x: x, name="echo", user_id="svc-user", metadata={"tier": "gold"})
    model(1)
    with aither.context(user_id="u-9"):
        model(2)
    first, second = aither_capture.spans()
    assert who(first) == {"enduser.id": "svc-user", "aither.metadata.tier": "gold"}
    assert who(second) == {"enduser.id": "u-9", "aither.metadata.tier": "gold"}


def test_redact_keys_apply_to_context_metadata() -> None:
    capture = SpanCapture(redact_keys=["token"])
    try:
        with aither.context(metadata={"token": "secret", "nested": {"token": "x", "ok": 1}}):
            capture.client.log_event("e")
        (span,) = capture.spans()
        assert who(span) == {
            "aither.metadata.token": "[REDACTED]",
            "aither.metadata.nested": '{"token":"[REDACTED]","ok":1}',
        }
    finally:
        capture.close()


def test_bad_values_raise_at_the_call() -> None:
    with pytest.raises(ValueError, match="user_id must be a non-empty string"):
        aither.context(user_id="")
    with pytest.raises(TypeError, match="metadata must be a mapping"):
        aither.context(metadata=["a"])  # type: ignore[arg-type]
    capture = SpanCapture()
    try:
        with pytest.raises(ValueError, match="session_id must be a non-empty string"):
            capture.client.wrap(len, session_id=" ")
    finally:
        capture.close()
