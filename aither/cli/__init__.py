"""The ``aither`` command.

::

    aither server [--host 127.0.0.1] [--port 4680] [--db URL] [--telemetry-db URL] [--home DIR]
                  [--rules FILE] [--retention 30d]
    aither demo [--data-dir DIR] [--serve]
    aither models
    aither predictions [--model NAME] [--version V] [--labelled yes|no] [--since 24h] [--limit 20]
    aither metrics MODEL [--version V] [--since 7d]
    aither labels [--status ambiguous]
    aither usage
    aither keys list | create NAME [--scope read --scope write] | revoke KEY_ID
    aither alerts channels | deliveries [--channel ID] [--status failed] | test CHANNEL_ID
    aither stats [--since 24h]
    aither events [N]
    aither anomalies [N] [--severity high] | anomalies ack ID | anomalies resolve ID
    aither risks [N]
    aither watch [--severity high]
    aither prune --older-than 7d

The query commands talk to the server's API with the key and URL the SDK would use
(``AITHER_API_KEY``/``AITHER_BASE_URL``, else the credentials file ``aither server`` wrote),
or ``--api-key``/``--base-url``. The server package is imported only by ``server`` and ``demo``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._version import __version__
from ..exceptions import AitherError


def _query_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--api-key", help="API key (default: AITHER_API_KEY, else the credentials file)")
    group.add_argument("--base-url", help="server URL (default: AITHER_BASE_URL, else http://127.0.0.1:4680)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def _window_options(parser: argparse.ArgumentParser, *, pages: bool = True) -> None:
    """``--since``, ``--until`` and ``--limit`` of a listing command, and ``--cursor`` if it pages."""
    parser.add_argument("--since", help="24h, 7d, or an ISO 8601 time")
    parser.add_argument("--until", help="24h, 7d, or an ISO 8601 time")
    parser.add_argument("--limit", type=int, default=20, help="rows to show (default 20, at most 1000)")
    if pages:
        parser.add_argument("--cursor", help="next page (printed under the table)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aither",
        description="Watch ML models and LLM calls in production: the server, a demo, and queries.",
    )
    parser.add_argument("--version", action="version", version=f"aither {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    server = commands.add_parser("server", help="run the aither server (OTLP ingest, storage, API)")
    server.add_argument("--host", help="address to listen on (default 127.0.0.1; AITHER_SERVER_HOST)")
    server.add_argument(
        "--port", type=int, help="port (default 4680; 0 for any free port; AITHER_SERVER_PORT)"
    )
    server.add_argument("--db", dest="database_url", help="database URL (default sqlite:///<home>/aither.db)")
    server.add_argument(
        "--telemetry-db",
        dest="telemetry_url",
        help="ClickHouse for spans, predictions, labels and LLM calls, clickhouse://user@host:9000/aither "
        "(default: in --db; AITHER_TELEMETRY_DB)",
    )
    server.add_argument("--home", help="data directory (default AITHER_HOME or ~/.aither)")
    server.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    server.add_argument("--rules", help="TOML file of detection rules (default: built-in; AITHER_RULES_FILE)")
    server.add_argument(
        "--retention", help="delete telemetry older than this, e.g. 30d (default: keep; AITHER_RETENTION)"
    )

    demo = commands.add_parser(
        "demo", help="train a model, serve it through aither.wrap, and show its metrics"
    )
    demo.add_argument("--data-dir", help="keep the demo's database here (default: a temporary directory)")
    demo.add_argument("--api-key", help="key of an existing server (with AITHER_BASE_URL / --base-url)")
    demo.add_argument("--base-url", help="use this running server instead of starting one (AITHER_BASE_URL)")
    demo.add_argument(
        "--serve",
        action="store_true",
        help="leave the server and its dashboard up after the demo (Ctrl+C stops)",
    )

    models = commands.add_parser("models", help="models and versions that sent predictions")
    models.add_argument("--since", help="only activity since: 24h, 7d, or an ISO 8601 time")
    _query_options(models)

    predictions = commands.add_parser("predictions", help="recent predictions, newest first")
    predictions.add_argument("--model", help="model name")
    predictions.add_argument("--version", help="model version")
    predictions.add_argument(
        "--labelled", choices=["yes", "no"], help="only labelled / unlabelled predictions"
    )
    _window_options(predictions)
    _query_options(predictions)

    metrics = commands.add_parser("metrics", help="a model's metrics per version")
    metrics.add_argument("model_name", metavar="MODEL")
    metrics.add_argument("--version", help="one version only")
    metrics.add_argument("--since", help="window start: 24h, 7d, or an ISO 8601 time (default: all time)")
    metrics.add_argument("--until", help="window end (default: now)")
    _query_options(metrics)

    labels = commands.add_parser("labels", help="labels and where the join put them")
    labels.add_argument("--status", choices=["joined", "pending", "ambiguous", "invalid"])
    labels.add_argument("--model", help="labels naming this model")
    labels.add_argument("--limit", type=int, default=20)
    labels.add_argument("--cursor")
    _query_options(labels)

    llm = commands.add_parser("llm-calls", help="recent LLM calls, newest first")
    llm.add_argument("--model", help="request or response model")
    llm.add_argument("--provider", help="openai, anthropic, gcp.gemini...")
    llm.add_argument("--pii", action="store_const", const=True, help="only calls with personal data found")
    llm.add_argument("--injection", action="store_const", const=True, help="only likely prompt injections")
    llm.add_argument("--errors", action="store_const", const=True, help="only failed calls")
    llm.add_argument("--user", help="only this end user's calls (enduser.id)")
    llm.add_argument("--session", help="only this session's calls (session.id)")
    llm.add_argument("--service", help="only this service's calls (service.name)")
    _window_options(llm)
    _query_options(llm)

    costs = commands.add_parser("costs", help="LLM calls, tokens and cost per user, session, service...")
    costs.add_argument(
        "--by",
        choices=["user", "session", "service", "model", "provider"],
        default="user",
        help="default: user",
    )
    _window_options(costs, pages=False)
    _query_options(costs)

    usage = commands.add_parser("usage", help="this month's usage of the organisation")
    _query_options(usage)

    keys = commands.add_parser("keys", help="list, create and revoke API keys (admin scope)")
    key_commands = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    key_list = key_commands.add_parser("list", help="every key (secrets are never shown)")
    _query_options(key_list)
    key_create = key_commands.add_parser("create", help="create a key; its secret is printed once")
    key_create.add_argument("name")
    key_create.add_argument(
        "--scope",
        action="append",
        choices=["read", "write", "admin"],
        help="repeat for several (default: read and write)",
    )
    _query_options(key_create)
    key_revoke = key_commands.add_parser("revoke", help="revoke a key by id")
    key_revoke.add_argument("key_id")
    _query_options(key_revoke)
    from ._alerts import add_parser as add_alerts_parser

    add_alerts_parser(commands, _query_options)

    from ._detection_parsers import add_parsers

    add_parsers(commands, _query_options)
    from ._drift_parser import add_parser as add_drift_parser

    add_drift_parser(commands, _query_options)
    return parser


def _server(args: argparse.Namespace) -> int:
    try:
        from ..server import ServerSettings, serve
        from ..server.storage import DatabaseURLError
    except ImportError as exc:
        print(
            f"aither server needs the server extra ({exc.name} is missing): pip install 'aither[server]'",
            file=sys.stderr,
        )
        return 1
    settings = ServerSettings.from_env(
        home=args.home,
        database_url=args.database_url,
        telemetry_url=args.telemetry_url,
        host=args.host,
        port=args.port,
        rules=args.rules,
        retention=args.retention,
    )
    try:
        serve(settings, log_level=args.log_level)
    except DatabaseURLError as exc:
        print(f"aither server: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"aither server: can't listen on {settings.host}:{settings.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aither`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "server":
        try:
            return _server(args)
        except AitherError as exc:
            print(f"aither server: {exc}", file=sys.stderr)
            return 1
    try:
        from rich.console import Console
        from rich.text import Text
    except ImportError:
        print("the aither command needs rich: pip install 'aither[server]'", file=sys.stderr)
        return 1
    console = Console()
    errors = Console(stderr=True)
    try:
        if args.command == "demo":
            from .demo import run_demo

            run_demo(
                data_dir=args.data_dir,
                base_url=args.base_url,
                api_key=args.api_key,
                console=console,
                serve=args.serve,
            )
            return 0
        from . import _alerts, _commands

        handler = {
            "models": _commands.models,
            "predictions": _commands.predictions,
            "metrics": _commands.metrics,
            "labels": _commands.labels,
            "llm-calls": _commands.llm_calls,
            "costs": _commands.costs,
            "usage": _commands.usage,
            "keys": _commands.keys,
            "alerts": _alerts.alerts,
        }.get(args.command)
        if handler is None and args.command == "drift":
            from ._drift import drift as handler
        if handler is None:
            from ._detection import HANDLERS

            handler = HANDLERS[args.command]
        return handler(args, console)
    except (AitherError, ValueError) as exc:
        errors.print(Text.assemble(("error: ", "bold red"), str(exc)), highlight=False)
        return 1
    except KeyboardInterrupt:
        return 130
