"""``aither drift MODEL``: a model's features by drift score in its latest window, and the window.

``aither drift MODEL --reference data.csv`` sends a CSV's rows as the model's reference.
"""

from __future__ import annotations

import argparse
import csv
from typing import Any
from urllib.parse import quote

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..api._calls import Call
from ._commands import client_for
from ._render import table_of


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _score(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def window_table(model: str, window: dict[str, Any]) -> Table:
    """One window's columns, largest PSI first, drifted ones marked."""
    title = (
        f"{model} {window['version'] or ''} {window['environment'] or ''}".strip()
        + f": window {window['start'][:19]} .. {window['end'][:19]}"
    )
    numbers = ("rows", "PSI", "KS p", "chi2 p", "Wasserstein", "JS")
    table = table_of(title, ("feature", "side", *numbers, "drift"), right=numbers)
    for feature in window["features"]:
        scores = feature["details"].get("scores", {})
        if feature["side"] == "performance":
            details = feature["details"]
            label = "estimated " if details.get("estimated") else ""
            table.add_row(
                f"{label}{feature['feature']}",
                "performance",
                f"{feature['rows']:,}",
                _score(feature["score"]),
                "-",
                "-",
                "-",
                "-",
                Text("DEGRADED", style="bold red") if feature["drifted"] else Text("ok", style="green"),
            )
            continue
        table.add_row(
            feature["feature"],
            feature["side"],
            f"{feature['rows']:,}",
            _score(scores.get("psi")),
            _score(scores.get("ks"), 2),
            _score(scores.get("chi2"), 2),
            _score(scores.get("wasserstein")),
            _score(scores.get("js")),
            Text("DRIFT", style="bold red") if feature["drifted"] else Text("ok", style="green"),
        )
    return table


def drift(args: argparse.Namespace, console: Console) -> int:
    path = f"/api/v1/models/{quote(args.model, safe='')}"
    with client_for(args) as client:
        if args.reference is not None:
            with args.reference.open(newline="") as handle:
                reader = csv.reader(handle)
                columns = next(reader)
                rows = [[_number(cell) for cell in row] for row in reader]
            body = {"version": args.version, "columns": columns, "rows": rows}
            answer = client.send(Call("POST", f"{path}/reference", dict, json=body))
            console.print(f"Reference set for {args.model}: {answer['rows']:,} rows, {len(columns)} columns.")
            return 0
        params = {"windows": max(1, args.windows)} | ({"version": args.version} if args.version else {})
        found: dict[str, Any] = client.send(Call("GET", f"{path}/drift", dict, params=params))
    if args.json:
        import json

        console.print_json(json.dumps(found))
        return 0
    if not found["windows"]:
        references = found["references"]
        if references:
            console.print(f"{args.model}: reference of {references[0]['rows']:,} rows; no window judged yet.")
        else:
            console.print(
                f"{args.model}: no reference yet. The first 1,000 sampled rows of each version become "
                "its reference; or set one with aither.set_reference(...) or "
                "'aither drift MODEL --reference FILE'."
            )
        return 0
    for window in found["windows"]:
        console.print(window_table(args.model, window))
        if window["drifted"]:
            console.print(Text(f"drifted: {', '.join(window['drifted'])}", style="red"))
    return 0
