"""The query and management subcommands: each reads the API and renders the answer."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import TypedDict

from rich.console import Console

from ..api import APIKey, ManagementClient
from ..api._calls import parse_when
from . import _render as render


def parse_time(text: str | None, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """``24h``, ``7d``, ``30m`` (that long ago) or an ISO 8601 time; ValueError otherwise."""
    return None if text is None else parse_when(text, now=now)


def client_for(args: argparse.Namespace) -> ManagementClient:
    return ManagementClient(api_key=args.api_key, base_url=args.base_url)


class Window(TypedDict):
    """A listing command's ``--since``, ``--until`` and ``--limit``, as the API's keywords."""

    since: dt.datetime | None
    until: dt.datetime | None
    limit: int


def window(args: argparse.Namespace) -> Window:
    return Window(since=parse_time(args.since), until=parse_time(args.until), limit=args.limit)


def models(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        found = client.models.list(since=parse_time(args.since))
    empty = "No predictions yet. Wrap a model with aither.wrap(model, name=...) and call it."
    return render.show(console, args, found, render.models_table, empty=empty)


def predictions(args: argparse.Namespace, console: Console) -> int:
    labelled = {"yes": True, "no": False}.get(args.labelled) if args.labelled else None
    with client_for(args) as client:
        page = client.predictions.list(
            model=args.model, version=args.version, labelled=labelled, cursor=args.cursor, **window(args)
        )
    return render.show(console, args, page, render.predictions_table, empty="No predictions match.")


def metrics(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        result = client.models.metrics(
            args.model_name, version=args.version, since=parse_time(args.since), until=parse_time(args.until)
        )
    return render.show(console, args, result, render.metrics_panel)


def llm_calls(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        page = client.llm_calls.list(
            model=args.model,
            provider=args.provider,
            pii=args.pii,
            injection=args.injection,
            error=args.errors,
            user_id=args.user,
            session_id=args.session,
            service=args.service,
            cursor=args.cursor,
            **window(args),
        )
    return render.show(console, args, page, render.llm_calls_table, empty="No LLM calls match.")


def costs(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        totals = client.llm_calls.totals(group_by=args.by, **window(args))
    return render.show(
        console,
        args,
        totals,
        lambda found: render.costs_table(found, args.by),
        empty="No LLM calls in this window.",
    )


def usage(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        result = client.org.usage()
    return render.show(console, args, result, render.usage_table)


def labels(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        page = client.labels.list(status=args.status, model=args.model, limit=args.limit, cursor=args.cursor)
    return render.show(console, args, page, render.labels_table, empty="No labels match.")


def keys(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        if args.keys_command == "list":
            return render.show(console, args, client.api_keys.list(), render.keys_table)
        if args.keys_command == "create":
            created = client.api_keys.create(name=args.name, scopes=args.scope or ["read", "write"])
            if args.json:
                render.print_json(console, created)
            else:
                scopes = ", ".join(created.scopes)
                console.print(f"Created key {created.id} ({created.name}; scopes: {scopes}).", markup=False)
                console.print("Its secret is shown this once; store it now:")
                console.print(created.secret, markup=False, highlight=False, soft_wrap=True)
            return 0
        revoked = client.api_keys.revoke(args.key_id)
    return render.show(console, args, revoked, _revoked)


def _revoked(key: APIKey) -> str:
    return f"Revoked key {key.id} ({key.name}); it is refused from now on."
