"""The settings table (aither/_options.py) drives the settings, their checks, the README's
table and the signature of ``aither.Client`` / ``aither.init``; the environment is read in one
module only."""

from __future__ import annotations

import ast
import inspect
import operator
from pathlib import Path

import pytest

import aither
from aither._config import Settings, resolve_settings
from aither._env import parse_bool
from aither._options import ARGUMENTS, OPTIONS, Option, readme_table
from aither.adapters.llm._common import mask_pii_enabled
from aither.exceptions import ConfigError
from aither.testing import SpanCapture

ROOT = Path(__file__).resolve().parents[2]
TABLE_KINDS = ("bool", "int", "float", "str", "choice", "file")


def _given(option: Option, tmp_path: Path) -> tuple[object, object]:
    """A value other than the default to give ``option``, and what Settings then holds."""
    if option.kind == "bool":
        return (not option.default), (not option.default)
    if option.kind in ("int", "float"):
        value = (option.minimum or 0) + 7
        return value, value
    if option.kind == "choice":
        return "gzip", "gzip"
    if option.kind == "file":
        path = tmp_path / f"{option.name}.pem"
        path.write_text("x")
        return str(path), str(path)
    return "checkout", "checkout"


def _settings(**arguments: object) -> Settings:
    # mutual TLS takes both files or neither; give the other one when a test gives one
    pair = ("client_key_file", "client_certificate_file")
    for name, other in (pair, pair[::-1]):
        if name in arguments and other not in arguments:
            arguments[other] = arguments[name]
    return resolve_settings(api_key="k", **arguments)


def test_the_readme_table_is_the_settings_table() -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- settings table:")
    start = readme.index("\n", start) + 1
    end = readme.index("<!-- end of settings table -->")
    assert readme[start:end] == readme_table(), "regenerate it: python -m aither._options"
    for option in OPTIONS:  # every option documented, with each of its variables
        row = next(line for line in readme_table().splitlines() if option.doc in line)
        assert all(f"`{env}`" in row for env in option.envs)


def test_client_and_init_take_exactly_the_table_with_its_types() -> None:
    parameters = inspect.signature(aither.Client).parameters
    settings = {name: p for name, p in parameters.items() if name not in ("tracer_provider", "exporter")}
    assert set(settings) == ARGUMENTS
    for option in OPTIONS:
        if option.name is not None:
            assert settings[option.name].annotation == option.annotation, option.name
            assert settings[option.name].default is None, option.name
    assert inspect.signature(aither.init).parameters == parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.kind in TABLE_KINDS], ids=lambda o: o.name)
def test_each_option_is_read_from_its_argument_then_its_variables(
    option: Option, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert option.name is not None and option.attribute is not None
    read = operator.attrgetter(option.attribute)
    default = read(_settings())
    assert default == option.default
    value, held = _given(option, tmp_path)
    assert read(_settings(**{option.name: value})) == held
    for env in option.envs:
        raw = str(value).lower()
        if option.otel_scale != 1.0 and env.startswith("OTEL_"):
            raw = str(value / option.otel_scale)  # type: ignore[operator]
        monkeypatch.setenv(env, raw)
        if option.kind == "file":
            monkeypatch.setenv(env.replace("CLIENT_KEY", "CLIENT_CERTIFICATE"), raw)
            monkeypatch.setenv(env.replace("CLIENT_CERTIFICATE", "CLIENT_KEY"), raw)
        assert read(_settings()) == pytest.approx(held), env
        if default is not None:  # None is "not given": the variable applies
            assert read(_settings(**{option.name: default})) == default  # the argument wins
        monkeypatch.delenv(env)
        monkeypatch.delenv(env.replace("CLIENT_KEY", "CLIENT_CERTIFICATE"), raising=False)
        monkeypatch.delenv(env.replace("CLIENT_CERTIFICATE", "CLIENT_KEY"), raising=False)


@pytest.mark.parametrize(
    "option", [o for o in OPTIONS if o.kind in ("bool", "int", "float", "choice")], ids=lambda o: o.name
)
def test_a_wrong_value_is_refused_at_init_naming_the_variable(
    option: Option, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = option.envs[0]
    wrong = "maybe" if option.kind in ("bool", "choice") else str((option.minimum or 0) - 1)
    monkeypatch.setenv(env, wrong)
    with pytest.raises(ConfigError, match=env):
        _settings()


def test_every_settings_attribute_comes_from_the_table_or_from_the_key_and_urls() -> None:
    attributes = {o.attribute.partition(".")[0] for o in OPTIONS if o.attribute}
    assert attributes | {"headers"} == set(Settings.__dataclass_fields__)


def test_one_parser_of_true_and_false() -> None:
    assert [parse_bool("X", v) for v in ("1", " TRUE", "yes", "on")] == [True] * 4
    assert [parse_bool("X", v) for v in ("0", "False ", "no", "off", "")] == [False] * 5
    with pytest.raises(ConfigError, match="AITHER_DEBUG='si' is not a boolean"):
        parse_bool("AITHER_DEBUG", "si")
    assert issubclass(ConfigError, ValueError)


def _environment_reads(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "getenv", "putenv")
            or (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and any(alias.name in ("environ", "getenv") for alias in node.names)
            )
        ):
            lines.append(node.lineno)
    return lines


def test_no_module_but_the_settings_one_reads_the_environment() -> None:
    allowed = {ROOT / "aither" / "_env.py", ROOT / "aither" / "server" / "config.py"}
    readers = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "aither").rglob("*.py"))
        if path not in allowed and (lines := _environment_reads(path))
    }
    assert readers == {}
    assert _environment_reads(ROOT / "aither" / "_env.py")  # the scan does see a read


def test_mask_pii_is_read_once_when_the_client_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AITHER_MASK_PII", "true")
    masked = SpanCapture()
    monkeypatch.delenv("AITHER_MASK_PII")
    plain = SpanCapture()
    monkeypatch.setenv("AITHER_MASK_PII", "true")  # later: not seen by a client already made
    try:
        masked_runtime, plain_runtime = masked.client._runtime, plain.client._runtime
        assert masked_runtime is not None and plain_runtime is not None
        assert mask_pii_enabled(masked_runtime) is True
        assert mask_pii_enabled(plain_runtime) is False
        assert SpanCapture(mask_pii=False).client.settings.mask_pii is False  # the argument wins
    finally:
        masked.close()
        plain.close()
    monkeypatch.setenv("AITHER_MASK_PII", "sometimes")
    with pytest.raises(ConfigError, match="AITHER_MASK_PII"):
        SpanCapture()
