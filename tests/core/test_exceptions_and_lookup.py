"""The exception tree (bad arguments are ValueErrors of the tree; "down" and "failing" servers
differ), the one runtime lookup of proxies and hooks, and the typed ``wrap`` signature."""

from __future__ import annotations

import ast
import copy
import inspect
import socket
from dataclasses import fields
from pathlib import Path

import httpx
import pytest

import aither
from aither.adapters import base
from aither.adapters.base import WrapOptions
from aither.api import ManagementClient
from aither.exceptions import (
    AitherError,
    AmbiguousLabel,
    ArgumentTypeError,
    ConfigError,
    InvalidTraceId,
    ServerError,
    ServerUnreachable,
)
from aither.testing import SpanCapture

ROOT = Path(__file__).resolve().parents[2]


def test_argument_errors_are_value_errors_of_the_tree() -> None:
    for kind in (ConfigError, InvalidTraceId, AmbiguousLabel):
        assert issubclass(kind, AitherError) and issubclass(kind, ValueError)
    assert issubclass(ArgumentTypeError, ConfigError) and issubclass(ArgumentTypeError, TypeError)
    assert issubclass(ServerUnreachable, ServerError)  # `except ServerError` still catches it
    server_storage = pytest.importorskip("aither.server.storage")
    assert issubclass(server_storage.DatabaseURLError, ConfigError)


def test_bad_arguments_raise_config_error(aither_capture: SpanCapture) -> None:
    client = aither_capture.client
    with pytest.raises(ConfigError, match="name must be a non-empty string"):
        client.wrap(lambda x: x, name="")
    with pytest.raises(ConfigError, match="sample_rows must be an int"):
        client.wrap(lambda x: x, sample_rows=-1)
    for latency_ms in (-1, float("nan"), float("inf"), True):
        with pytest.raises(ConfigError, match="latency_ms must be a number >= 0"):
            client.log_prediction("m", [1], 1, latency_ms=latency_ms)
    with pytest.raises(ConfigError, match="flush timeout"):
        client.flush(-1)
    with ManagementClient(api_key="aith_x", base_url="http://127.0.0.1:9") as api:
        with pytest.raises(ConfigError, match="scopes must be"):
            api.api_keys.create(name="ci", scopes=["everything"])


def test_the_tracing_modules_raise_config_error_for_bad_arguments(aither_capture: SpanCapture) -> None:
    """spans, scope, llm_record and labels: a caller's mistake is the tree's ConfigError (still a
    ValueError, with the message it had), and nothing is recorded for it."""
    client = aither_capture.client
    trace_id = client.log_prediction("m", [[1], [2]], [0, 1])
    assert trace_id is not None
    before = len(aither_capture.spans())
    bad_calls = {
        "cost must be a finite number": lambda: client.log_event("e", cost=-1.0),
        "timestamp must be an ISO 8601": lambda: client.log_event("e", timestamp=object()),
        "is not ISO 8601": lambda: client.log_event("e", timestamp="yesterday"),
        "status must be 'success' or 'error'": lambda: client.log_event("e", status="fine"),
        "user_id must be a non-empty string": lambda: client.wrap(lambda x: x, user_id=" "),
        "prompt_tokens must be an int": lambda: client.log_llm_call(model="gpt", prompt_tokens=-1),
        "span_id must be 16 hexadecimal": lambda: client.log_llm_call(
            model="gpt", trace_id=trace_id, span_id="xyz"
        ),
        "label row indices must be >= 0": lambda: client.log_label(trace_id, {-1: 1}),
        "label row index 5 is out of range": lambda: client.log_label(trace_id, {5: 1}),
        "model_name must be a non-empty string": lambda: client.log_label(trace_id, 1, model_name=""),
    }
    for message, call in bad_calls.items():
        with pytest.raises(ConfigError, match=message):
            call()
    with client.span("step") as span, pytest.raises(ConfigError, match="cost must be"):
        span.set_cost(float("nan"))
    wrong_types = {
        "metadata must be a mapping": lambda: client.log_event("e", metadata=[1]),  # type: ignore[arg-type]
        "metadata must be a mapping of str": lambda: client.wrap(lambda x: x, metadata=1),  # type: ignore[arg-type]
        "log_llm_call: ": lambda: client.log_llm_call(model="gpt", no_such_field=1),
        "not both": lambda: client.log_llm_call(aither.LLMCall(model="gpt"), prompt="hi"),
        "decorates functions": lambda: client.track("name")(1),  # type: ignore[arg-type]
        "cannot trace": lambda: client.wrap(1),
    }
    for message, call in wrong_types.items():
        with pytest.raises(ArgumentTypeError, match=message):  # a ConfigError, and a TypeError
            call()
    assert client.flush()
    assert len(aither_capture.spans()) == before + 1  # the span above; no record of a bad call


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_server_that_is_down_is_not_a_server_that_fails() -> None:
    with ManagementClient(api_key="aith_x", base_url=f"http://127.0.0.1:{_closed_port()}") as down:
        with pytest.raises(ServerUnreachable, match="could not reach the aither server") as raised:
            down.org.get()
    assert isinstance(raised.value.__cause__, httpx.ConnectError)
    failing = httpx.MockTransport(lambda request: httpx.Response(503, json={"detail": "busy"}))
    with httpx.Client(transport=failing) as http:
        api = ManagementClient(api_key="aith_x", base_url="http://mock", http_client=http)
        with pytest.raises(ServerError) as answered:
            api.org.get()
    assert not isinstance(answered.value, ServerUnreachable)
    assert answered.value.status_code == 503


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names.update(f"{'.' * node.level}{node.module or ''}.{a.name}".rstrip(".") for a in node.names)
            names.add(f"{'.' * node.level}{node.module or ''}")
    return names


def test_the_proxy_knows_no_client_and_the_dead_code_is_gone() -> None:
    imported = _imports(ROOT / "aither" / "adapters" / "proxy.py")
    assert not {name for name in imported if "_client" in name or "_wrap" in name}
    assert not hasattr(aither.Client, "_require_runtime")
    assert not hasattr(base.Adapter, "extra")
    import aither._config as config

    assert not hasattr(config, "running_under_pytest")


def test_integrations_ask_the_clients_public_runtime_lookup(aither_capture: SpanCapture) -> None:
    lookup = aither_capture.client.runtime_lookup()
    assert lookup() is not None and lookup() is lookup()
    assert aither.Client(enabled=False).runtime_lookup()() is None
    # Only the client itself reaches its private member; the rest of aither asks the lookup.
    reaching = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "aither").rglob("*.py")
        if path.name != "_client.py" and "._active_runtime" in path.read_text(encoding="utf-8")
    ]
    assert reaching == []


def test_wrap_signatures_are_the_wrap_options() -> None:
    expected = [(f.name, f.type) for f in fields(WrapOptions)]
    for fn in (aither.wrap, aither.Client.wrap):
        parameters = inspect.signature(fn).parameters.values()
        keywords = [(p.name, p.annotation) for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]
        assert keywords == expected, fn


def test_the_module_log_event_has_the_clients_signature(aither_default: SpanCapture) -> None:
    """``aither.log_event`` takes ``Client.log_event``'s parameters, written once (in the client)."""
    method = list(inspect.signature(aither.Client.log_event).parameters.values())[1:]
    assert list(inspect.signature(aither.log_event).parameters.values()) == method
    trace_id = aither.log_event(name="step", cost=0.5, status="error", error_message="no")
    assert aither_default.client.flush()
    (span,) = aither_default.spans()
    assert span.name == "step" and span.trace_id == trace_id and span.status == "ERROR"
    with pytest.raises(ConfigError, match="cost must be"):
        aither.log_event("step", cost=-1)


def test_a_proxy_and_its_copy_record_with_its_client_and_scope(aither_capture: SpanCapture) -> None:
    def score(x: list[float]) -> float:
        return sum(x)

    tracked = aither_capture.client.wrap(score, name="score", user_id="u-1")
    duplicate = copy.copy(tracked)
    assert tracked([1.0, 2.0]) == 3.0 and duplicate([3.0]) == 3.0
    spans = aither_capture.spans()
    assert [s.attributes["enduser.id"] for s in spans] == ["u-1", "u-1"]
    assert [s.attributes["ml.model.name"] for s in spans] == ["score", "score"]
    trace_id = tracked.last_trace_id
    assert trace_id is not None
    aither_capture.client.log_label(trace_id, 3.0)  # the prediction is in the client's runtime
    (label,) = aither_capture.spans("label")
    assert label.trace_id == trace_id


def test_a_proxy_of_a_disabled_client_is_a_plain_call() -> None:
    client = aither.Client(enabled=False)
    tracked = client.wrap(lambda x: x * 2)
    assert tracked(4) == 8 and tracked.last_trace_id is None
    with client.span("step") as step:
        step.set_output(1)
    assert step.trace_id is None
