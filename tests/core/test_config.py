from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import aither
from aither._config import DEFAULT_BASE_URL, resolve_settings
from aither.exceptions import ConfigError


def test_argument_beats_environment_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AITHER_API_KEY", "aith_env")
    monkeypatch.setenv("AITHER_BASE_URL", "http://env.example:9000")
    monkeypatch.setenv("AITHER_BATCH_SIZE", "7")
    s = resolve_settings(api_key="aith_arg", batch_size=3)
    assert (s.api_key, s.base_url, s.batch_size) == ("aith_arg", "http://env.example:9000", 3)
    assert s.traces_endpoint == "http://env.example:9000/v1/traces"
    assert s.headers["authorization"] == "Bearer aith_arg"
    monkeypatch.delenv("AITHER_BATCH_SIZE")
    monkeypatch.delenv("AITHER_BASE_URL")
    s = resolve_settings(api_key="k")
    assert s.batch_size == 100 and s.base_url == DEFAULT_BASE_URL and s.flush_interval == 1.0


def test_base_url_without_scheme_says_how_to_fix_it() -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'http://localhost:8000'\?"):
        resolve_settings(api_key="k", base_url="localhost:8000")


def test_missing_api_key_is_a_clear_error_naming_every_way_out() -> None:
    with pytest.raises(ConfigError) as info:
        aither.Client()
    message = str(info.value)
    assert (
        "AITHER_API_KEY" in message
        and "aither server" in message
        and "OTEL_EXPORTER_OTLP_ENDPOINT" in message
    )


def test_a_generic_otlp_receiver_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=risk,x-token=a%3Db")
    s = resolve_settings()
    assert s.api_key is None
    assert s.traces_endpoint == "http://collector:4318/v1/traces"
    assert s.headers == {"x-team": "risk", "x-token": "a=b"}
    assert (
        resolve_settings(otlp_endpoint="http://c2:4318/v1/traces").traces_endpoint
        == "http://c2:4318/v1/traces"
    )


def test_standard_otel_variables_keep_their_meaning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "250")  # milliseconds, per the OpenTelemetry spec
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    s = resolve_settings(api_key="k")
    assert s.flush_interval == 0.25 and s.batch_size == 64 and s.enabled is False
    monkeypatch.setenv("AITHER_ENABLED", "true")  # aither's own variable wins
    assert resolve_settings(api_key="k").enabled is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"flush_interval": -1}, "flush_interval must be >= 0.001"),
        ({"batch_size": 2.5}, "batch_size must be an integer"),
        ({"sample_rows": -1}, "sample_rows must be >= 0"),
        ({"api_key": " k "}, "whitespace"),
        ({"api_key": ""}, "non-empty"),
        ({"redact_keys": "password"}, "list of key names"),
        ({"on_error": 3}, "on_error must be a callable"),
        ({"trace_ids_size": -1}, "trace_ids_size must be >= 0"),
        ({"trace_ids_size": 1.5}, "trace_ids_size must be an integer"),
        ({"max_retries": -1}, "max_retries must be >= 0"),
    ],
)
def test_bad_settings_raise_at_init_with_the_reason(kwargs: dict[str, object], message: str) -> None:
    kwargs = {"api_key": "k", **kwargs}
    with pytest.raises(ConfigError, match=message):
        resolve_settings(**kwargs)  # type: ignore[arg-type]


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AITHER_ENABLED", "maybe")
    with pytest.raises(ConfigError, match="AITHER_ENABLED='maybe' is not a boolean"):
        resolve_settings(api_key="k")
    monkeypatch.delenv("AITHER_ENABLED")
    monkeypatch.setenv("AITHER_BATCH_SIZE", "lots")
    with pytest.raises(ConfigError, match="AITHER_BATCH_SIZE='lots' is not a number"):
        resolve_settings(api_key="k")


def test_the_credentials_file_of_aither_server_is_used_when_no_key_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AITHER_HOME", str(tmp_path))
    (tmp_path / "credentials.json").write_text(
        json.dumps({"api_key": "aith_file", "base_url": "http://127.0.0.1:4999"})
    )
    s = resolve_settings()
    assert (s.api_key, s.base_url) == ("aith_file", "http://127.0.0.1:4999")
    # a base URL set by the user means another server: the file's key is not sent there
    monkeypatch.setenv("AITHER_BASE_URL", "http://other:1")
    with pytest.raises(ConfigError):
        resolve_settings()
    # ...but naming the file's own server (trailing slash and all) still uses its key
    monkeypatch.setenv("AITHER_BASE_URL", "http://127.0.0.1:4999/")
    assert resolve_settings().api_key == "aith_file"
    assert os.environ["AITHER_HOME"] == str(tmp_path)


def test_calls_before_init_initialise_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from aither import _client

    monkeypatch.setattr(_client, "_default", None)
    with pytest.raises(ConfigError):
        aither.wrap(lambda x: x)  # no key anywhere: a clear error at the call
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    tracked = aither.wrap(lambda x: x)
    assert tracked(3) == 3
    assert (
        _client._default is not None
        and _client._default.settings.traces_endpoint == "http://127.0.0.1:9/v1/traces"
    )
    aither.close(timeout=0)
    assert _client._default is None
