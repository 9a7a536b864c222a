"""The ``drift`` subcommand's arguments (no rich here: parsing must work without it)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def add_parser(
    commands: argparse._SubParsersAction,  # type: ignore[type-arg]
    options: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Register ``drift``; ``options`` adds the shared --api-key/--base-url/--json."""
    parser = commands.add_parser("drift", help="a model's features by drift score in its latest window")
    parser.add_argument("model", help="the model's name, as wrapped")
    parser.add_argument("--version", help="one version of the model")
    parser.add_argument("--windows", type=int, default=1, help="how many recent windows to show (default 1)")
    parser.add_argument("--reference", type=Path, help="set the reference from a CSV file (header row first)")
    options(parser)
