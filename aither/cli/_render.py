"""Rich renderings of API results for the terminal (and their plain JSON for ``--json``)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Collection, Iterable, Sized
from typing import Any, TypeVar, cast

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..api import (
    APIKey,
    CreatedAPIKey,
    Label,
    LlmCall,
    LlmCallTotal,
    Model,
    ModelMetrics,
    Page,
    Prediction,
    Usage,
    VersionMetrics,
)


def to_jsonable(value: Any) -> Any:
    """Dataclasses, tuples and datetimes as JSON-ready values (for ``--json``)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, CreatedAPIKey):
            out["secret"] = value.secret
        return out
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def print_json(console: Console, value: Any) -> None:
    console.print_json(json.dumps(to_jsonable(value)))


R = TypeVar("R")


def show(
    console: Console,
    args: argparse.Namespace,
    result: R,
    rendering: Callable[[R], RenderableType],
    *,
    empty: str | None = None,
    rows: Sized | None = None,
) -> int:
    """Print a command's answer: its JSON with ``--json``; else ``empty`` if given and there is
    nothing to show (``rows``, by default the result or a page's items); else its rendering.

    Returns:
        0, the command's exit status.
    """
    if rows is None:
        # a listing's answer: a page, or a tuple (list) of rows
        rows = result.items if isinstance(result, Page) else cast(Sized, result)
    if args.json:
        print_json(console, result)
    elif empty is not None and not len(rows):
        console.print(empty)
    else:
        console.print(rendering(result))
    return 0


def table_of(
    title: str,
    columns: Iterable[str],
    *,
    right: Collection[str] = (),
    next_cursor: str | None = None,
    more: str = "more: --cursor ",
    **column_options: Any,
) -> Table:
    """A table titled on the left, with these columns (``right`` ones right-justified).

    Args:
        title: the table's title.
        columns: the column headers, in order.
        right: the columns of numbers, right-justified.
        next_cursor: a page's next cursor: the caption says how to ask for it (``more`` + cursor).
        more: the caption before the cursor.
        **column_options: for every column (``overflow="fold"``).
    """
    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column, justify="right" if column in right else "left", **column_options)
    if next_cursor:
        out.caption = more + next_cursor
    return out


def _time(value: dt.datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _short(value: Any, width: int = 40) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 1] + "…"


def models_table(models: Iterable[Model]) -> Table:
    columns = (
        "model",
        "version",
        "task",
        "predictions",
        "rows",
        "labelled",
        "coverage",
        "errors",
        "last seen",
    )
    table = table_of("Models", columns, right=("predictions", "rows", "labelled", "errors"))
    for model in models:
        table.add_row(
            model.name,
            model.version or "-",
            model.task or "-",
            str(model.predictions),
            str(model.rows),
            str(model.labelled_rows),
            _pct(model.label_coverage),
            str(model.errors),
            _time(model.last_seen),
        )
    return table


def _prediction_sample(prediction: Prediction) -> Any:
    payload = prediction.prediction
    if isinstance(payload, dict) and "sample" in payload:
        return payload["sample"]
    return payload


def _prediction_label(prediction: Prediction) -> str:
    if prediction.labelled_rows == 0:
        return "-"
    if prediction.label is not None:
        return _short(prediction.label, 20)
    return f"{prediction.labelled_rows}/{prediction.output_rows or '?'} rows"


def predictions_table(page: Page[Prediction]) -> Table:
    columns = ("time", "model", "version", "trace id", "rows", "prediction", "label", "ms", "status")
    table = table_of("Predictions (newest first)", columns, next_cursor=page.next_cursor, overflow="fold")
    for p in page.items:
        table.add_row(
            _time(p.time),
            p.model_name,
            p.model_version or "-",
            p.trace_id,
            str(p.output_rows if p.output_rows is not None else "-"),
            _short(_prediction_sample(p), 30),
            _prediction_label(p),
            _num(p.latency_ms, 2),
            Text(p.status, style="red" if p.status == "error" else "green"),
        )
    return table


def _version_table(version: VersionMetrics) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("metric", style="bold")
    table.add_column("value")
    latency = version.latency_ms
    table.add_row("predictions", f"{version.predictions} calls, {version.rows} rows")
    table.add_row("error rate", f"{_pct(version.error_rate)} ({version.errors} errors)")
    table.add_row(
        "latency ms", f"p50 {_num(latency.p50, 2)} · p90 {_num(latency.p90, 2)} · p99 {_num(latency.p99, 2)}"
    )
    table.add_row("labelled rows", f"{version.labelled_rows} ({_pct(version.label_coverage)} coverage)")
    if version.label_delay_s is not None:
        delay = version.label_delay_s
        table.add_row(
            "label delay s", f"p50 {_num(delay.p50)} · p90 {_num(delay.p90)} · max {_num(delay.max)}"
        )
    scores = version.classification
    if scores is not None:
        table.add_row("accuracy", _num(scores.accuracy))
        table.add_row(
            f"precision / recall / F1 ({scores.average})",
            f"{_num(scores.precision)} / {_num(scores.recall)} / {_num(scores.f1)}",
        )
        table.add_row("scored rows", str(scores.scored_rows))
    if version.regression is not None:
        table.add_row("MAE / RMSE", f"{_num(version.regression.mae)} / {_num(version.regression.rmse)}")
        table.add_row("scored rows", str(version.regression.scored_rows))
    if scores is None and version.regression is None:
        table.add_row("quality", "no labelled rows to score yet")
    return table


def metrics_panel(metrics: ModelMetrics) -> Group:
    parts: list[Any] = []
    for version in metrics.versions:
        title = f"{metrics.model} · version {version.version or '-'} · {version.task or 'unscored'}"
        parts.append(Panel(_version_table(version), title=title, title_align="left", expand=False))
    notes = []
    if metrics.labels.ambiguous or metrics.unattributed_labels.ambiguous:
        count = metrics.labels.ambiguous + metrics.unattributed_labels.ambiguous
        notes.append(f"{count} ambiguous labels (see: aither labels --status ambiguous)")
    if metrics.labels.pending:
        notes.append(f"{metrics.labels.pending} labels waiting for their prediction")
    if metrics.labels.invalid:
        notes.append(f"{metrics.labels.invalid} labels that don't fit their prediction (--status invalid)")
    if notes:
        parts.append(Text("; ".join(notes), style="yellow"))
    return Group(*parts)


def usage_table(usage: Usage) -> Table:
    table = table_of(f"Usage in {usage.period_start:%B %Y} (UTC)", ("counter", "count"), right=("count",))
    for name in ("api_calls", "spans", "predictions", "prediction_rows", "labels", "llm_calls", "operations"):
        table.add_row(name.replace("_", " "), str(getattr(usage, name)))
    return table


def keys_table(keys: Iterable[APIKey]) -> Table:
    table = table_of("API keys", ("id", "name", "scopes", "key", "created", "last used", "revoked"))
    for key in keys:
        table.add_row(
            key.id,
            key.name,
            ",".join(key.scopes),
            f"aith_…{key.tail}",
            _time(key.created_at),
            _time(key.last_used_at),
            Text(_time(key.revoked_at), style="red") if key.revoked else "-",
        )
    return table


def labels_table(page: Page[Label]) -> Table:
    columns = ("time", "trace id", "model", "status", "rows", "value", "message")
    table = table_of("Labels (newest first)", columns, next_cursor=page.next_cursor, overflow="fold")
    for label in page.items:
        style = {"joined": "green", "pending": "yellow"}.get(label.status, "red")
        table.add_row(
            _time(label.time),
            label.trace_id,
            label.model_name or "-",
            Text(label.status, style=style),
            str(label.rows),
            _short(label.value, 24),
            label.message or "",
        )
    return table


def _flags(call: LlmCall) -> Text:
    flags = Text()
    if call.pii_detected:
        kinds = sorted({kind for side in (call.pii_counts or {}).values() for kind in side})
        flags.append("PII" + (f" ({', '.join(kinds)})" if kinds else ""), style="yellow")
    if call.injection_detected:
        flags.append((" " if flags else "") + f"injection {call.injection_score or 0:.2f}", style="red")
    return flags


def llm_calls_table(page: Page[LlmCall]) -> Table:
    columns = ("time", "trace id", "provider", "model", "tokens in/out", "cost $", "ms", "status", "flags")
    table = table_of("LLM calls (newest first)", columns, next_cursor=page.next_cursor, overflow="fold")
    for call in page.items:
        tokens = f"{call.input_tokens if call.input_tokens is not None else '-'}/" + (
            f"{call.output_tokens if call.output_tokens is not None else '-'}"
        )
        status = Text(call.status, style="green" if call.status == "ok" else "red")
        if call.error_type:
            status.append(f" {call.error_type}")
        table.add_row(
            _time(call.time),
            call.trace_id,
            call.provider or "-",
            call.response_model or call.request_model or "-",
            tokens,
            f"{call.cost_usd:.6f}" if call.cost_usd is not None else "-",
            f"{call.latency_ms:.0f}",
            status,
            _flags(call),
        )
    return table


def costs_table(totals: Iterable[LlmCallTotal], group_by: str) -> Table:
    numbers = ("calls", "errors", "tokens in/out", "cost $", "unpriced")
    title = f"LLM cost by {group_by} (costliest first)"
    table = table_of(title, (group_by, *numbers), right=numbers, overflow="fold")
    for total in totals:
        table.add_row(
            total.key if total.key is not None else "(none)",
            str(total.calls),
            str(total.errors),
            f"{total.input_tokens}/{total.output_tokens}",
            f"{total.cost_usd:.6f}",
            str(total.unpriced) if total.unpriced else "-",
        )
    return table
