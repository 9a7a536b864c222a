"""``aither demo --serve``: the demo's server stays up with its dashboard, and the key it
prints signs a browser in."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from aither.cli.demo import MODEL_NAME, run_demo


class Screen:
    """A console file that says when the demo printed its sign-in lines."""

    def __init__(self) -> None:
        self.text = ""
        self.ready = threading.Event()

    def write(self, text: str) -> int:
        self.text += text
        if "Press Ctrl+C" in self.text:
            self.ready.set()
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.slow
def test_demo_serve_leaves_the_dashboard_up(tmp_path: Path) -> None:
    screen = Screen()
    stop = threading.Event()
    outcome: dict[str, Any] = {}

    def demo() -> None:
        try:
            outcome["result"] = run_demo(
                data_dir=tmp_path, console=Console(file=screen, width=200), serve=True, stop=stop
            )
        except BaseException as error:  # surfaced by the assertion below
            outcome["error"] = error
            screen.ready.set()

    thread = threading.Thread(target=demo, daemon=True)
    thread.start()
    try:
        assert screen.ready.wait(120), screen.text
        assert "error" not in outcome, outcome.get("error")
        url = re.search(r"The dashboard is up: (http://127\.0\.0\.1:\d+)/", screen.text)
        key = re.search(r"Sign in with the demo's API key: (aith_\S+)", screen.text)
        assert url and key, screen.text
        with httpx.Client(base_url=url.group(1), timeout=30) as http:
            assert http.get("/").status_code == 200
            signed = http.post("/api/v1/session", json={"api_key": key.group(1)})
            assert signed.status_code == 200
            overview = http.get("/api/v1/dashboard/overview")
            assert overview.status_code == 200, overview.text
            (model,) = overview.json()["models"]
            assert model["name"] == MODEL_NAME and model["predictions"] > 0
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    assert outcome["result"].predictions == model["predictions"]
    assert "Stopped the demo server" in screen.text
