"""The detection subcommands' arguments (no rich here: parsing must work without it)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def add_parsers(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    options: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Register the detection subcommands; ``options`` adds the shared --api-key/--base-url/--json."""
    stats_parser = commands.add_parser("stats", help="summary of LLM calls, anomalies and models (last 24h)")
    stats_parser.add_argument("--since", default="24h", help="window start: 24h, 7d, or an ISO 8601 time")
    stats_parser.add_argument("--until", help="window end (default: now)")
    options(stats_parser)

    events_parser = commands.add_parser(
        "events", help="the last LLM calls with cost, latency, status and risk"
    )
    events_parser.add_argument("count", nargs="?", type=int, default=20, help="how many (default 20)")
    events_parser.add_argument("--since", help="24h, 7d, or an ISO 8601 time")
    options(events_parser)

    anomalies_parser = commands.add_parser(
        "anomalies", help="the last anomalies; 'anomalies ack ID' / 'anomalies resolve ID'"
    )
    anomalies_parser.add_argument("words", nargs="*", metavar="N | ack ID | resolve ID")
    anomalies_parser.add_argument(
        "--severity", choices=["low", "medium", "high", "critical"], help="and above"
    )
    anomalies_parser.add_argument("--status", choices=["open", "acknowledged", "resolved"])
    anomalies_parser.add_argument("--rule", help="one rule: pii_detected, latency_spike, ...")
    anomalies_parser.add_argument("--since", help="last seen since: 24h, 7d, or an ISO 8601 time")
    options(anomalies_parser)

    risks_parser = commands.add_parser("risks", help="high- and critical-risk LLM calls")
    risks_parser.add_argument("count", nargs="?", type=int, default=20, help="how many (default 20)")
    risks_parser.add_argument("--level", default="high", choices=["low", "medium", "high", "critical"])
    risks_parser.add_argument("--since", help="24h, 7d, or an ISO 8601 time")
    options(risks_parser)

    watch_parser = commands.add_parser("watch", help="print each anomaly as it is detected, until Ctrl-C")
    watch_parser.add_argument("--severity", choices=["low", "medium", "high", "critical"], help="and above")
    watch_parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls (default 1)")
    watch_parser.add_argument(
        "--backlog", type=float, default=0.0, help="also show changes of the last this many seconds"
    )
    watch_parser.add_argument(
        "--exit-after", type=int, default=0, help="stop after this many lines (scripts)"
    )
    options(watch_parser)

    prune_parser = commands.add_parser("prune", help="delete telemetry older than a duration (admin key)")
    prune_parser.add_argument("--older-than", required=True, help="7d, 12h, 30d...")
    options(prune_parser)
