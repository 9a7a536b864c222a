"""The query and management subcommands: each reads the API and renders the answer."""

from __future__ import annotations

import argparse
import datetime as dt

from rich.console import Console

from ..api import ManagementClient
from ..api._calls import parse_when
from . import _render as render


def parse_time(text: str | None, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """``24h``, ``7d``, ``30m`` (that long ago) or an ISO 8601 time; ValueError otherwise."""
    return None if text is None else parse_when(text, now=now)


def client_for(args: argparse.Namespace) -> ManagementClient:
    return ManagementClient(api_key=args.api_key, base_url=args.base_url)


def models(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        found = client.models.list(since=parse_time(args.since))
    if args.json:
        render.print_json(console, found)
    elif not found:
        console.print("No predictions yet. Wrap a model with aither.wrap(model, name=...) and call it.")
    else:
        console.print(render.models_table(found))
    return 0


def predictions(args: argparse.Namespace, console: Console) -> int:
    labelled = {"yes": True, "no": False}.get(args.labelled) if args.labelled else None
    with client_for(args) as client:
        page = client.predictions.list(
            model=args.model,
            version=args.version,
            since=parse_time(args.since),
            until=parse_time(args.until),
            labelled=labelled,
            limit=args.limit,
            cursor=args.cursor,
        )
    if args.json:
        render.print_json(console, page)
    elif not page.items:
        console.print("No predictions match.")
    else:
        console.print(render.predictions_table(page))
    return 0


def metrics(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        result = client.models.metrics(
            args.model_name, version=args.version, since=parse_time(args.since), until=parse_time(args.until)
        )
    if args.json:
        render.print_json(console, result)
    else:
        console.print(render.metrics_panel(result))
    return 0


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
            since=parse_time(args.since),
            until=parse_time(args.until),
            limit=args.limit,
            cursor=args.cursor,
        )
    if args.json:
        render.print_json(console, page)
    elif not page.items:
        console.print("No LLM calls match.")
    else:
        console.print(render.llm_calls_table(page))
    return 0


def costs(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        totals = client.llm_calls.totals(
            group_by=args.by, since=parse_time(args.since), until=parse_time(args.until), limit=args.limit
        )
    if args.json:
        render.print_json(console, list(totals))
    elif not totals:
        console.print("No LLM calls in this window.")
    else:
        console.print(render.costs_table(totals, args.by))
    return 0


def usage(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        result = client.org.usage()
    if args.json:
        render.print_json(console, result)
    else:
        console.print(render.usage_table(result))
    return 0


def labels(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        page = client.labels.list(status=args.status, model=args.model, limit=args.limit, cursor=args.cursor)
    if args.json:
        render.print_json(console, page)
    elif not page.items:
        console.print("No labels match.")
    else:
        console.print(render.labels_table(page))
    return 0


def keys(args: argparse.Namespace, console: Console) -> int:
    with client_for(args) as client:
        if args.keys_command == "list":
            found = client.api_keys.list()
            if args.json:
                render.print_json(console, found)
            else:
                console.print(render.keys_table(found))
        elif args.keys_command == "create":
            created = client.api_keys.create(name=args.name, scopes=args.scope or ["read", "write"])
            if args.json:
                render.print_json(console, created)
            else:
                scopes = ", ".join(created.scopes)
                console.print(f"Created key {created.id} ({created.name}; scopes: {scopes}).", markup=False)
                console.print("Its secret is shown this once; store it now:")
                console.print(created.secret, markup=False, highlight=False, soft_wrap=True)
        else:
            revoked = client.api_keys.revoke(args.key_id)
            if args.json:
                render.print_json(console, revoked)
            else:
                console.print(f"Revoked key {revoked.id} ({revoked.name}); it is refused from now on.")
    return 0
