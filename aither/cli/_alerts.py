"""``aither alerts``: the alert channels, their delivery log, and a test notice.

::

    aither alerts channels
    aither alerts deliveries [--channel ID] [--status pending|delivered|failed] [--limit 20]
    aither alerts test CHANNEL_ID

They read ``/api/v1/alerts`` as plain JSON (the SDK has no typed resource for it yet).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:  # rich and the API client load when a command runs, not when the parser is built
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

_STATUS_STYLE = {"delivered": "green", "failed": "bold red", "pending": "yellow"}


def add_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    query_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    alerts = commands.add_parser("alerts", help="alert channels and their delivery log")
    actions = alerts.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)
    channels = actions.add_parser("channels", help="the channels, secrets masked (admin scope)")
    query_options(channels)
    deliveries = actions.add_parser("deliveries", help="the delivery log, newest first (read scope)")
    deliveries.add_argument("--channel", help="a channel id")
    deliveries.add_argument("--status", choices=["pending", "delivered", "failed"])
    deliveries.add_argument("--limit", type=int, default=20, help="rows to show (default 20, at most 1000)")
    deliveries.add_argument("--cursor", help="next page (printed under the table)")
    query_options(deliveries)
    test = actions.add_parser("test", help="send a channel a test notice now (admin scope)")
    test.add_argument("channel_id", metavar="CHANNEL_ID")
    query_options(test)


def _raw(data: Any) -> Any:
    return data


def _time(text: str | None) -> str:
    if not text:
        return "-"
    return dt.datetime.fromisoformat(text).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _status(status: str) -> Text:
    from rich.text import Text

    return Text(status, style=_STATUS_STYLE.get(status, ""))


def channels_table(channels: list[dict[str, Any]]) -> Table:
    from ._render import table_of

    columns = ("id", "name", "type", "enabled", "min severity", "filters", "where")
    table = table_of("Alert channels", columns, overflow="fold")
    for channel in channels:
        settings = channel["settings"]
        where = settings.get("url") or settings.get("host") or "-"
        if channel["type"] == "email":
            where = f"{settings['host']}:{settings['port']} → {', '.join(settings['to'])}"
        filters = [*channel["rules"], *channel["anomaly_types"]]
        table.add_row(
            channel["id"],
            channel["name"],
            channel["type"],
            "yes" if channel["enabled"] else "no",
            channel["min_severity"],
            ", ".join(filters) or "any",
            where,
        )
    return table


def deliveries_table(page: dict[str, Any]) -> Table:
    from ._render import table_of

    columns = (
        "id",
        "time",
        "channel",
        "anomaly",
        "event",
        "severity",
        "status",
        "tries",
        "HTTP",
        "last error",
    )
    title = "Alert deliveries (newest first)"
    table = table_of(title, columns, next_cursor=page.get("next_cursor"), overflow="fold")
    for item in page["items"]:
        table.add_row(
            str(item["id"]),
            _time(item["updated_at"]),
            item["channel_name"],
            f"{item['anomaly_id']} {item['title']}",
            item["event"],
            item["severity"],
            _status(item["status"]),
            str(item["attempts"]),
            str(item["http_status"] or "-"),
            item["last_error"] or "",
        )
    return table


def alerts(args: argparse.Namespace, console: Console) -> int:
    """Run ``aither alerts ACTION``; the exit status (1 when a test notice was not delivered)."""
    from ..api._calls import API, Call
    from ._commands import client_for
    from ._render import show

    with client_for(args) as client:
        if args.alerts_command == "channels":
            found = client.send(Call("GET", f"{API}/alerts/channels", _raw))
            empty = "No alert channels. Add one with POST /api/v1/alerts/channels or the rules file."
            return show(console, args, found, channels_table, empty=empty)
        if args.alerts_command == "deliveries":
            params = {
                "channel": args.channel,
                "status": args.status,
                "limit": args.limit,
                "cursor": args.cursor,
            }
            page = client.send(
                Call(
                    "GET",
                    f"{API}/alerts/deliveries",
                    _raw,
                    params={k: v for k, v in params.items() if v is not None},
                )
            )
            return show(
                console, args, page, deliveries_table, empty="No deliveries match.", rows=page["items"]
            )
        sent = client.send(
            Call("POST", f"{API}/alerts/channels/{quote(args.channel_id, safe=':')}/test", _raw)
        )
    if args.json:
        console.print_json(json.dumps(sent))
    elif sent["status"] == "delivered":
        console.print(
            f"Delivered a test notice to {sent['channel_name']} (HTTP {sent['http_status'] or '-'})."
        )
    else:
        console.print(f"The test notice to {sent['channel_name']} failed: {sent['last_error']}", markup=False)
    return 0 if sent["status"] == "delivered" else 1
