"""The detection subcommands: ``stats``, ``events``, ``anomalies``, ``risks``, ``watch``, ``prune``."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Iterable

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ..api import Anomaly, LlmCall, Page, PruneResult, Summary
from ..schema.vocabulary import Severity
from . import _render as render
from ._commands import client_for, parse_time

_SEVERITY_STYLE = {"low": "dim", "medium": "yellow", "high": "red", "critical": "bold white on red"}


def _level(value: str | None) -> Text:
    return Text(value or "-", style=_SEVERITY_STYLE.get(value or "", ""))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}ms"


def stats_tables(summary: Summary) -> Group:
    llm = summary.llm
    table = render.table_of(
        f"Statistics since {render._time(summary.since)}", ("Metric", "Value"), right=("Value",)
    )
    rows = (
        ("Total Requests", f"{llm.total:,}"),
        ("Successful", f"{llm.successful:,}"),
        ("Failed", f"{llm.failed:,}"),
        ("Success Rate", render._pct(llm.success_rate)),
        ("Total Tokens", f"{llm.total_tokens:,}"),
        ("Total Cost", f"${llm.total_cost_usd:.4f}"),
        ("Avg Latency", _ms(llm.avg_latency_ms)),
        ("P95 Latency", _ms(llm.p95_latency_ms)),
        ("PII Events", f"{llm.pii_events:,}"),
        ("Injection Attempts", f"{llm.injection_attempts:,}"),
        ("Anomalies", f"{summary.anomalies:,} ({summary.open_anomalies:,} open)"),
    )
    for name, value in rows:
        table.add_row(name, value)
    parts: list[Table] = [table]
    if summary.models:
        numbers = ("predictions", "error rate", "avg latency", "p95 latency", "accuracy")
        models = render.table_of("ML models", ("model", "version", *numbers), right=numbers)
        for entry in summary.models:
            models.add_row(
                entry.model,
                entry.version or "-",
                f"{entry.predictions:,}",
                render._pct(entry.error_rate),
                _ms(entry.avg_latency_ms),
                _ms(entry.p95_latency_ms),
                render._pct(entry.accuracy)
                + (f" ({entry.labelled_rows:,} labelled)" if entry.labelled_rows else ""),
            )
        parts.append(models)
    return Group(*parts)


def events_table(page: Page[LlmCall], title: str) -> Table:
    columns = ("time", "provider", "model", "tokens", "cost", "latency", "status", "risk", "trace id")
    table = render.table_of(
        title,
        columns,
        right=("tokens", "cost", "latency"),
        next_cursor=page.next_cursor,
        more="more: aither llm-calls --cursor ",
        overflow="fold",
    )
    for call in page.items:
        tokens = (call.input_tokens or 0) + (call.output_tokens or 0)
        table.add_row(
            render._time(call.time),
            call.provider or "-",
            call.response_model or call.request_model or "-",
            f"{tokens:,}",
            f"${call.cost_usd:.4f}" if call.cost_usd is not None else "-",
            _ms(call.latency_ms),
            Text("✓", style="green")
            if call.status == "ok"
            else Text(f"✗ {call.error_type or ''}".strip(), style="red"),
            _level(call.risk_level),
            call.trace_id,
        )
    return table


def _target(anomaly: Anomaly) -> str:
    parts = [anomaly.service, anomaly.model, anomaly.version, anomaly.environment]
    return " / ".join(part for part in parts if part) or "-"


def anomalies_table(found: Iterable[Anomaly]) -> Table:
    columns = ("id", "last seen", "severity", "rule", "target", "count", "status", "message", "action")
    table = render.table_of("Anomalies (newest first)", columns, overflow="fold")
    for anomaly in found:
        table.add_row(
            str(anomaly.id),
            render._time(anomaly.last_seen),
            _level(anomaly.severity.value),
            anomaly.rule,
            _target(anomaly),
            str(anomaly.count),
            anomaly.status,
            anomaly.message,
            anomaly.recommended_action,
        )
    return table


def watch_line(anomaly: Anomaly) -> Text:
    change = {"open": "OPEN", "acknowledged": "ACK", "resolved": "RESOLVED"}[anomaly.status]
    line = Text(f"{render._time(anomaly.updated_at)} ")
    line.append(f"{change:<8} ", style="bold")
    line.append(f"{anomaly.severity.value.upper():<8}", style=_SEVERITY_STYLE.get(anomaly.severity.value, ""))
    line.append(f" #{anomaly.id} {anomaly.rule} [{_target(anomaly)}] x{anomaly.count}: {anomaly.message}")
    if anomaly.status == "open":
        line.append(f" → {anomaly.recommended_action}", style="dim")
    return line


def stats(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        summary = client.stats.get(since=parse_time(args.since), until=parse_time(args.until))
    return render.show(console, args, summary, stats_tables)


def events(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        page = client.llm_calls.list(since=parse_time(args.since), limit=args.count)
    title = f"Recent events (last {args.count})"
    return render.show(
        console, args, page, lambda found: events_table(found, title), empty="No LLM calls yet."
    )


def risks(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        page = client.llm_calls.list(risk=args.level, since=parse_time(args.since), limit=args.count)
    title = f"Calls of {args.level} risk and above"
    empty = f"No calls of {args.level} risk or above."
    return render.show(console, args, page, lambda found: events_table(found, title), empty=empty)


def anomalies(args: argparse.Namespace, console: Console) -> int:
    words = list(args.words)
    action = words.pop(0) if words and words[0] in ("ack", "acknowledge", "resolve") else None
    if action is not None:
        if len(words) != 1 or not words[0].isdigit():
            raise ValueError(f"usage: aither anomalies {action} ID")
        with client_for(args) as client:
            changed = (
                client.anomalies.resolve(int(words[0]))
                if action == "resolve"
                else client.anomalies.acknowledge(int(words[0]))
            )
        return render.show(console, args, changed, watch_line)
    if len(words) > 1 or (words and not words[0].isdigit()):
        raise ValueError(
            "usage: aither anomalies [N] | aither anomalies ack ID | aither anomalies resolve ID"
        )
    count = int(words[0]) if words else 20
    with client_for(args) as client:
        found = client.anomalies.list(
            since=parse_time(args.since),
            severity=args.severity,
            status=args.status,
            rule=args.rule,
            limit=count,
        )
    return render.show(console, args, found, anomalies_table, empty="No anomalies match.")


def watch(args: argparse.Namespace, console: Console) -> int:
    """One line per anomaly opened, changed or resolved, until Ctrl-C (or ``--exit-after`` lines)."""
    printed = 0
    with client_for(args) as client:
        # start from what is open now, then follow every change after it
        since: dt.datetime = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=args.backlog)
        status: dict[int, tuple[str, Severity]] = {}
        console.print(f"Watching {client.base_url} for anomalies (Ctrl-C to stop)…", style="dim")
        while True:
            changed = client.anomalies.list(updated_since=since, severity=args.severity, limit=1000)
            for anomaly in changed:
                since = max(since, anomaly.updated_at)
                seen = status.get(anomaly.id)
                # count-only bumps are not news; a new anomaly or a change of status or severity is
                if seen == (anomaly.status, anomaly.severity):
                    continue
                status[anomaly.id] = (anomaly.status, anomaly.severity)
                console.print(watch_line(anomaly), highlight=False)
                printed += 1
                if args.exit_after and printed >= args.exit_after:
                    return 0
            time.sleep(args.interval)


def prune(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        result = client.rules.prune(older_than=args.older_than)
    return render.show(console, args, result, _pruned)


def _pruned(result: PruneResult) -> str:
    total = sum(result.deleted.values())
    detail = ", ".join(f"{n:,} {table}" for table, n in sorted(result.deleted.items()) if n) or "nothing"
    return f"Deleted {total:,} rows older than {render._time(result.cutoff)}: {detail}."


HANDLERS = {
    "stats": stats,
    "events": events,
    "anomalies": anomalies,
    "risks": risks,
    "watch": watch,
    "prune": prune,
}
