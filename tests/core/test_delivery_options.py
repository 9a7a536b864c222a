"""Delivery options, through the real OTLP exporter to a real receiver: on_error hears failed
deliveries (once per cause a minute, with counts), debug logs each request, gzip, TLS files
checked at init, and a .env file named by AITHER_DOTENV."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from receiver import OTLPReceiver

import aither
from aither._config import resolve_settings


def test_on_error_hears_a_refused_delivery_once_per_cause_with_the_counts() -> None:
    heard: list[BaseException] = []
    with OTLPReceiver(require_key="right") as receiver:
        client = aither.Client(api_key="wrong", base_url=receiver.base_url, on_error=heard.append)
        try:
            client.log_event("one")
            assert client.flush(10) is False
            client.log_event("two")
            client.log_event("three")
            assert client.flush(10) is False
            assert client.stats().failed == 3
        finally:
            client.close(timeout=5)
    (error,) = heard  # the second failure of the same cause, within a minute, is not repeated
    assert isinstance(error, aither.DeliveryError)
    assert "401" in error.cause and (error.failures, error.spans) == (1, 1)
    assert error.endpoint == receiver.endpoint and "were not delivered" in str(error)
    # aither reads the exporter's messages without a handler of its own: they still reach
    # wherever the application (or Python's last-resort handler) sends them
    assert not logging.getLogger("opentelemetry.exporter.otlp.proto.http.trace_exporter").handlers


def test_max_retries_resends_after_an_outage_but_never_a_refusal() -> None:
    heard: list[BaseException] = []
    with OTLPReceiver(fail_first=1) as receiver:
        # export_timeout below OpenTelemetry's first backoff (~1 s): its exporter gives up at
        # once, and aither's re-send (0.5 s later) is what delivers
        client = aither.Client(
            api_key="k", base_url=receiver.base_url, max_retries=2, export_timeout=0.3, on_error=heard.append
        )
        try:
            client.log_event("after the outage")
            assert client.flush(10)
        finally:
            client.close(timeout=5)
        assert [s.name for s in receiver.received()] == ["after the outage"]
        assert len(receiver.requests) == 2 and heard == []
    with OTLPReceiver(require_key="right") as refusing:
        client = aither.Client(
            api_key="wrong", base_url=refusing.base_url, max_retries=3, on_error=heard.append
        )
        try:
            client.log_event("refused")
            assert client.flush(10) is False
        finally:
            client.close(timeout=5)
        assert len(refusing.requests) == 1  # a 401 is not re-sent
    (error,) = heard
    assert "401" in error.cause


def test_debug_logs_each_export_with_its_size_and_gzip_compresses(caplog: pytest.LogCaptureFixture) -> None:
    with OTLPReceiver() as receiver:
        client = aither.Client(api_key="k", base_url=receiver.base_url, debug=True, compression="gzip")
        try:
            with caplog.at_level(logging.INFO, logger="aither"):
                client.log_event("step")
                assert client.flush(10)
        finally:
            client.close(timeout=5)
        assert [s.name for s in receiver.received()] == ["step"]
        assert receiver.requests[0]["content-encoding"] == "gzip"
    (line,) = [r.getMessage() for r in caplog.records if "exported" in r.getMessage()]
    assert line.startswith("aither: exported 1 spans (") and f"to {receiver.endpoint}" in line
    assert line.endswith(": ok") and int(line.split("(")[1].split(" ")[0]) > 0


def test_tls_files_and_compression_are_checked_at_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(aither.ConfigError, match="certificate_file='/nowhere/ca.pem' is not a readable file"):
        resolve_settings(api_key="k", certificate_file="/nowhere/ca.pem")
    key = tmp_path / "client.key"
    key.write_text("not checked here: the TLS library reads it")
    with pytest.raises(aither.ConfigError, match="give both"):
        resolve_settings(api_key="k", client_key_file=str(key))
    both = resolve_settings(api_key="k", client_key_file=str(key), client_certificate_file=str(key))
    assert both.client_key_file == both.client_certificate_file == str(key)
    monkeypatch.setenv("AITHER_COMPRESSION", "brotli")
    with pytest.raises(aither.ConfigError, match="'brotli' is not one of gzip, deflate, none"):
        resolve_settings(api_key="k")
    monkeypatch.setenv("AITHER_COMPRESSION", "none")
    assert resolve_settings(api_key="k").compression is None


def test_a_dotenv_file_named_by_aither_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("dotenv")
    env = tmp_path / "aither.env"
    env.write_text("AITHER_TEST_DOTENV_ROWS=7\nAITHER_SERVICE_NAME=from-dotenv\n")
    monkeypatch.setenv("AITHER_SERVICE_NAME", "from-the-process")  # the process environment wins
    monkeypatch.setenv("AITHER_DOTENV", str(env))
    try:
        settings = resolve_settings(api_key="k")
        assert settings.service_name == "from-the-process"
        assert os.environ["AITHER_TEST_DOTENV_ROWS"] == "7"
    finally:
        os.environ.pop("AITHER_TEST_DOTENV_ROWS", None)
    monkeypatch.setenv("AITHER_DOTENV", str(tmp_path / "missing.env"))
    with pytest.raises(aither.ConfigError, match="is not a file"):
        resolve_settings(api_key="k")
