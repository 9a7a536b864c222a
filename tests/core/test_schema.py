"""The schema package: what the SDK writes is what the server reads, from one definition.

The SDK's sampler writes an envelope and the server's decoder reads it; the server writes the
credentials file and the SDK's settings read it; the provider names the LLM adapters, the
LangChain integration and the pricing table use are the schema's.
"""

from __future__ import annotations

import ast
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from aither import _config, semconv
from aither.sampling import SampleLimits, sample
from aither.sampling.encoder import dumps
from aither.schema import envelope, providers
from aither.schema import semconv as schema_semconv
from aither.schema.credentials import aither_home, credentials_path, read_credentials, write_credentials

AITHER = Path(__file__).resolve().parents[2] / "aither"


def test_aither_semconv_re_exports_the_schema() -> None:
    assert semconv.__all__ == schema_semconv.__all__
    assert len(schema_semconv.__all__) > 50
    for name in schema_semconv.__all__:
        assert getattr(semconv, name) is getattr(schema_semconv, name)


def test_every_span_name_is_defined_in_the_schema_alone() -> None:
    # a name added to aither/semconv.py (the re-export) instead of the schema would split the
    # contract in two again; one left out of __all__ would not be re-exported
    shim = ast.parse((AITHER / "semconv.py").read_text(encoding="utf-8")).body
    assert all(isinstance(node, (ast.Expr, ast.ImportFrom)) for node in shim)
    defined = ast.parse((AITHER / "schema" / "semconv.py").read_text(encoding="utf-8")).body
    public = {
        target.id
        for node in defined
        for target in (node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)])
        if isinstance(target, ast.Name) and not target.id.startswith("_")
    }
    assert set(schema_semconv.__all__) == public


def test_an_sdk_sample_splits_back_into_its_rows_and_meta() -> None:
    rows = [{"a": i, "b": str(i)} for i in range(30)]
    wire = json.loads(dumps(sample(rows, 10, 5, SampleLimits())))  # what the export thread sends
    assert set(wire) == {envelope.SAMPLE, envelope.META}
    data, meta = envelope.split_envelope(wire)
    assert data == rows[:10]
    assert set(meta) == set(envelope.META_FIELDS)
    assert meta["rows"] == 30 and meta["truncated"] is True


def test_a_bare_value_is_its_own_sample_and_a_bad_rest_is_left_out() -> None:
    assert envelope.split_envelope([1, 2]) == ([1, 2], {})
    assert envelope.split_envelope({"x": 1}) == ({"x": 1}, {})
    bad: dict[str, Any] = {"sample": [0], "_meta": "not a dict", "rest": {"encoding": "base64"}}
    assert envelope.split_envelope(bad) == ([0], {})
    good = {"encoding": "base64", "dtype": "|i1", "shape": [2], "data": "AQI="}
    assert envelope.split_envelope({"sample": [0], "_meta": {"rows": 3}, "rest": good}) == (
        [0, 1, 2],
        {"rows": 3},
    )


def test_the_sdk_reads_the_credentials_file_the_server_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AITHER_HOME", str(tmp_path / "home"))
    path = credentials_path(aither_home(str(tmp_path / "home")))
    assert path == tmp_path / "home" / "credentials.json" == _config.credentials_path()
    assert read_credentials(path) == {}  # missing: never raises
    write_credentials(path, "ak_secret", "http://127.0.0.1:4999")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    expected = {"api_key": "ak_secret", "base_url": "http://127.0.0.1:4999"}
    assert read_credentials(path) == expected
    assert _config.read_credentials() == expected  # the SDK's settings read the same file
    path.write_text("[1, 2]")
    assert read_credentials(path) == {}


def _provider_literals(path: Path) -> set[str]:
    """The provider names a module spells out: ``PROVIDER*`` constants, and the names in its
    provider tables (``PROVIDER_IDS``' keys, ``_PROVIDERS``' values, ``_PROVIDERS_BY_CLASS``' pairs)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        value = getattr(node, "value", None)
        if not isinstance(target, ast.Name) or "PROVIDER" not in target.id or value is None:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found.add(value.value)
        elif isinstance(value, ast.Dict):
            side = value.keys if target.id == "PROVIDER_IDS" else value.values
            found |= {item.value for item in side if isinstance(item, ast.Constant)}
        elif isinstance(value, ast.Tuple):
            seconds = [pair.elts[1] for pair in value.elts if isinstance(pair, ast.Tuple)]
            found |= {item.value for item in seconds if isinstance(item, ast.Constant)}
    return found


@pytest.mark.parametrize(
    "module",
    [
        "adapters/llm/openai.py",
        "adapters/llm/anthropic.py",
        "adapters/llm/gemini.py",
        "adapters/llm/gemini_legacy.py",
        "adapters/llm/pricing.py",
        "integrations/langchain.py",
    ],
)
def test_every_provider_name_the_sdk_writes_is_the_schemas(module: str) -> None:
    names = _provider_literals(AITHER / module)
    assert names <= providers.PROVIDERS, names - providers.PROVIDERS
    if module.startswith("adapters/llm/"):
        # The LLM adapters spell no provider name: they take them from aither.schema.providers.
        assert not names, names
        used = _provider_references(AITHER / module)
        assert used  # the scan sees the module's names
        assert {getattr(providers, name) for name in used} <= providers.PROVIDERS
    else:
        assert names  # the scan sees the module's names


def _provider_references(path: Path) -> set[str]:
    """The ``providers.NAME`` references in a module (``NAME`` must exist in the schema)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "providers"
    }
