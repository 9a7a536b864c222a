"""`aither server` as a real process, the demo, and the command's lazy imports."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from watched import WatchedProcess

from aither.cli import main

pytest.importorskip("sklearn")


def _start(home: Path, *extra: str) -> WatchedProcess:
    env = {**os.environ, "AITHER_HOME": str(home)}
    for name in ("AITHER_API_KEY", "AITHER_BASE_URL", "AITHER_INIT_API_KEY"):
        env.pop(name, None)
    return WatchedProcess(
        [sys.executable, "-m", "aither.cli", "server", "--port", "0", "--log-level", "warning", *extra],
        ready="aither server: serving on ",
        env=env,
    )


def _wait_until_serving(server: WatchedProcess) -> str:
    """The base URL of the ``serving on`` line the server writes once it answers requests."""
    url = server.wait_ready().split()[-1]
    assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    return url


def _stop(server: WatchedProcess) -> str:
    """Interrupt the server as Ctrl-C does; returns all it wrote."""
    assert server.stop(signal.SIGINT) == 0, server.output()
    return server.output()


def test_server_first_start_prints_the_key_once_and_writes_credentials(tmp_path) -> None:  # type: ignore[no-untyped-def]
    credentials = tmp_path / "credentials.json"
    server = _start(tmp_path)
    try:
        base_url = _wait_until_serving(server)
        saved = json.loads(credentials.read_text())
        assert set(saved) == {"api_key", "base_url"}
        assert saved["base_url"] == base_url
        assert saved["api_key"].startswith("aith_")
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        headers = {"Authorization": f"Bearer {saved['api_key']}"}
        assert httpx.get(f"{base_url}/api/v1/org", headers=headers).json()["name"] == "default"
    finally:
        err = _stop(server)
    assert err.count(saved["api_key"]) == 1
    assert (tmp_path / "aither.db").exists()

    restarted = _start(tmp_path)
    try:
        _wait_until_serving(restarted)
        assert json.loads(credentials.read_text())["api_key"] == saved["api_key"]
    finally:
        err = _stop(restarted)
    assert saved["api_key"] not in err
    assert "created organisation" not in err


def test_server_refuses_a_bad_database_url(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["server", "--home", str(tmp_path), "--db", "sqlite://", "--port", "0"]) == 1
    assert "in-memory SQLite" in capsys.readouterr().err


def test_demo_starts_a_server_and_prints_metrics_and_usage(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("AITHER_BASE_URL", raising=False)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "Started the aither server" in out
    assert "breast_cancer_classifier" in out
    assert "accuracy" in out
    assert "Usage in" in out and "predictions" in out
    assert "Stopped the demo server" in out


def test_demo_against_an_existing_server(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from rich.console import Console

    from aither.cli.demo import MODEL_NAME, run_demo
    from aither.server import EmbeddedServer, ServerSettings

    settings = ServerSettings(
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'aither.db'}",
        port=0,
        init_api_key="aith_demo_existing_server_key_000",
        announce=False,
        write_credentials=False,
    )
    with EmbeddedServer(settings) as server:
        monkeypatch.setenv("AITHER_BASE_URL", server.base_url)
        monkeypatch.setenv("AITHER_API_KEY", "aith_demo_existing_server_key_000")
        console = Console(file=open(os.devnull, "w"), width=200)  # noqa: SIM115
        try:
            result = run_demo(console=console)
        finally:
            console.file.close()
    assert result.base_url == server.base_url
    assert result.metrics.model == MODEL_NAME
    (version,) = result.metrics.versions
    assert version.predictions == result.predictions
    assert version.classification is not None and version.classification.accuracy > 0.9
    assert result.usage.predictions == result.predictions
    assert result.usage.labels == result.labels


def test_query_commands_do_not_import_the_server() -> None:
    code = (
        "import sys; from aither.cli import main; "
        "status = main(['models', '--api-key', 'aith_x', '--base-url', 'http://127.0.0.1:9']); "
        "import aither.api; "
        "assert status == 1; "
        "names = ('aither.server', 'fastapi', 'sqlalchemy', 'uvicorn', 'alembic'); "
        "heavy = [m for m in names if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
