"""``aither demo``: the whole loop in one command, on this machine, with no account anywhere.

1. start the aither server on a free port, with its data in a temporary directory
   (or use the server named by ``AITHER_BASE_URL``);
2. train a scikit-learn classifier on the breast-cancer data set that scikit-learn ships;
3. serve predictions through ``aither.wrap``: one batch, then single requests;
4. send the ground truth for part of them (``log_label``), as it would arrive later in life;
5. flush, then print the model's metrics and ``org.usage()`` as the server computes them;
6. stop the server it started; with ``--serve``, leave it up instead, print the dashboard's
   URL and the demo's API key to sign in with, and stop on Ctrl+C.

``examples/demo.py`` runs this same function.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from .._env import env
from ..api import ManagementClient, ModelMetrics, Usage
from ..exceptions import ConfigError
from . import _render as render

MODEL_NAME = "breast_cancer_classifier"
MODEL_VERSION = "1.0.0"


@dataclass(frozen=True)
class DemoResult:
    """What the demo sent and what the server computed from it."""

    base_url: str
    predictions: int
    labels: int
    metrics: ModelMetrics
    usage: Usage


def _train() -> tuple[Any, Any, Any]:
    try:
        from sklearn.datasets import load_breast_cancer
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.model_selection import train_test_split
    except ImportError as exc:
        raise ConfigError("the demo needs scikit-learn: pip install 'aither[server,sklearn]'") from exc
    features, target = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(features, target, test_size=0.3, random_state=0)
    model = RandomForestClassifier(n_estimators=50, random_state=0).fit(x_train, y_train)
    return model, x_test, y_test


def _serve_and_label(api_key: str, base_url: str, console: Console) -> tuple[int, int]:
    """Predict through a wrapped model and label part of the predictions; (predictions, labels)."""
    import aither

    model, x_test, y_test = _train()
    client = aither.Client(api_key=api_key, base_url=base_url, service_name="aither-demo")
    try:
        tracked = client.wrap(model, name=MODEL_NAME, version=MODEL_VERSION, environment="demo")
        half = len(x_test) // 2
        tracked.predict(x_test[:half])  # a batch request: one span, one prediction per row
        batch_trace = tracked.last_trace_id
        client.log_label(batch_trace, [int(y) for y in y_test[:half]])  # every row of the batch
        predictions, labels = 1, 1
        for row in range(half, len(x_test)):  # single requests, as an online service sees them
            tracked.predict(x_test[row : row + 1])
            predictions += 1
            if row % 3:  # ground truth arrives for two requests in three
                client.log_label(tracked.last_trace_id, int(y_test[row]))
                labels += 1
        delivered = client.flush(timeout=30)
        stats = client.stats()
    finally:
        client.close()
    if not delivered:
        raise ConfigError(f"the demo's spans were not all delivered to {base_url}: {stats}")
    console.print(
        f"Served {len(x_test)} predictions in {predictions} calls through aither.wrap "
        f"and sent {labels} labels; {stats.exported} spans exported, {stats.dropped} dropped."
    )
    return predictions, labels


def _report(api_key: str, base_url: str, console: Console) -> tuple[ModelMetrics, Usage]:
    with ManagementClient(api_key=api_key, base_url=base_url) as api:
        metrics = api.models.metrics(MODEL_NAME)
        usage = api.org.usage()
    console.print(render.metrics_panel(metrics))
    console.print(render.usage_table(usage))
    return metrics, usage


def _serve_dashboard(base_url: str, api_key: str, console: Console, stop: threading.Event) -> None:
    """Keep the server up for the dashboard until ``stop`` is set or Ctrl+C."""
    console.print(
        f"\n[bold]The dashboard is up:[/bold] {base_url}/#/model/{MODEL_NAME}\n"
        f"Sign in with the demo's API key: [bold]{api_key}[/bold]\n"
        "Press Ctrl+C to stop the server.",
        soft_wrap=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        console.print()


def run_demo(
    *,
    data_dir: str | Path | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    console: Console | None = None,
    serve: bool = False,
    stop: threading.Event | None = None,
) -> DemoResult:
    """Run the demo; see the module docstring. Returns what the server reported.

    Args:
        data_dir: keep the demo server's database here (default: a temporary directory).
        base_url: use this running server instead of starting one.
        api_key: the key for ``base_url``.
        console: where to print.
        serve: leave the demo's server (and its dashboard) up after the demo, until Ctrl+C
            or ``stop``.
        stop: set it to end ``serve`` (tests and embedding programs; Ctrl+C does it otherwise).
    """
    console = console or Console()
    base_url = base_url or env("AITHER_BASE_URL")
    if base_url is not None:
        from .._config import resolve_settings

        settings = resolve_settings(api_key=api_key, base_url=base_url)
        assert settings.api_key is not None  # resolve_settings raises without one
        console.print(f"Using the aither server at {settings.base_url}.")
        predictions, labels = _serve_and_label(settings.api_key, settings.base_url, console)
        metrics, usage = _report(settings.api_key, settings.base_url, console)
        if serve:
            console.print(f"The dashboard of that server: {settings.base_url}/")
        return DemoResult(settings.base_url, predictions, labels, metrics, usage)

    try:
        from ..server import EmbeddedServer, ServerSettings
    except ImportError as exc:
        raise ConfigError(
            f"the demo's server needs the server extra ({exc.name} is missing): "
            "pip install 'aither[server,sklearn]'"
        ) from exc
    with tempfile.TemporaryDirectory(prefix="aither-demo-") as scratch:
        home = Path(data_dir).expanduser() if data_dir is not None else Path(scratch)
        server_settings = ServerSettings(
            home=home,
            database_url=f"sqlite:///{home / 'aither.db'}",
            port=0,
            init_org="demo",
            init_admin_email="demo@localhost",
            announce=False,
            write_credentials=False,
        )
        with EmbeddedServer(server_settings) as server:
            key = server.api_key
            if key is None:
                raise ConfigError(
                    f"{home} already holds an aither database whose key the demo doesn't know; "
                    "pass a new --data-dir, or run the demo against that server with AITHER_BASE_URL"
                )
            console.print(f"Started the aither server at {server.base_url} (data in {home}).")
            predictions, labels = _serve_and_label(key, server.base_url, console)
            metrics, usage = _report(key, server.base_url, console)
            result = DemoResult(server.base_url, predictions, labels, metrics, usage)
            if serve:
                _serve_dashboard(server.base_url, key, console, stop or threading.Event())
        console.print("Stopped the demo server. Run your own with: aither server")
    return result
