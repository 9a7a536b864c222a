"""Frameworks are imported only when one of their objects is wrapped, and a missing one is named.

These tests need no framework installed: each shadows the framework in ``sys.modules`` and
builds an object whose class claims to come from it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import aither
from aither.frameworks import FRAMEWORKS
from aither.testing import SpanCapture

# Every row of the framework table with an adapter, the LLM SDKs included: its root, the module
# a real model class of it lives in, the extra that installs it.
GATED = [
    (row.root, row.model_module, row.extra)
    for row in FRAMEWORKS
    if row.adapter is not None and row.model_module is not None
]

# ``google`` also holds protobuf, which the OTLP exporter imports: its SDK row counts as google.genai.
EVERY_FRAMEWORK = sorted(
    {"google.genai" if row.root == "google" else row.root for row in FRAMEWORKS} | {"tokenizers"}
)


def looks_like(module: str) -> Any:
    """An instance of a class that says it comes from ``module``, with every traced method."""

    def call(self: Any, x: Any) -> Any:
        return x

    namespace = {"__module__": module, "__call__": call, "forward": call, "predict": call}
    return type("Model", (), namespace)()


@pytest.mark.parametrize(("root", "module", "extra"), GATED, ids=[g[0] for g in GATED])
def test_a_missing_framework_names_its_extra(
    aither_capture: SpanCapture, monkeypatch: pytest.MonkeyPatch, root: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, root, None)  # what a failed or absent install looks like
    with pytest.raises(aither.FrameworkNotInstalled) as raised:
        aither_capture.client.wrap(looks_like(module), name="model")
    assert isinstance(raised.value, ImportError)
    assert raised.value.framework == root and raised.value.extra == extra
    assert f"pip install 'aither[{extra}]'" in str(raised.value)
    assert aither_capture.spans() == []


def test_the_default_client_raises_it_too(
    aither_default: SpanCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(aither.FrameworkNotInstalled, match=r"aither\[torch\]"):
        aither.wrap(looks_like("torch.nn.modules.module"))


def test_an_unknown_framework_goes_through_the_callable_adapter(aither_capture: SpanCapture) -> None:
    model = looks_like("acme.models.forest")
    tracked = aither_capture.client.wrap(model, name="acme")
    assert tracked([1, 2]) == [1, 2]
    assert tracked.predict([3]) == [3]
    first, second = aither_capture.spans()
    assert first.attributes["ml.model.framework"] == "acme"
    assert first.attributes["ml.model.class"] == "acme.models.forest.Model"
    assert [first.attributes["ml.method"], second.attributes["ml.method"]] == ["__call__", "predict"]
    assert "ml.model.framework.version" not in first.attributes


def _imported_after(code: str) -> list[str]:
    """The frameworks in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    probe = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        print(json.dumps(sorted(m for m in {EVERY_FRAMEWORK!r} if m in sys.modules)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    imported: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return imported


def test_import_aither_imports_no_framework() -> None:
    assert _imported_after("import aither, aither.testing") == []


def test_wrapping_a_torch_model_imports_torch_alone() -> None:
    pytest.importorskip("torch")
    imported = _imported_after(
        """
        import torch
        import aither
        client = aither.Client(exporter=__import__("opentelemetry.sdk.trace.export.in_memory_span_exporter",
                               fromlist=["InMemorySpanExporter"]).InMemorySpanExporter())
        client.wrap(torch.nn.Linear(2, 1), name="lin")(torch.ones(3, 2))
        client.close()
        """
    )
    assert "torch" in imported
    others = {root for root, _, _ in GATED} - {"torch", "google"}
    assert not others & set(imported)
