"""What several migrations create alike: the row id, the organisation column and its foreign
key, the identity of a record decoded from a span, a call's timing, and a table's indexes.

Migrations are history: a database created by them long ago and a new one must end with the
same schema, so what these helpers emit never changes (a migration that needs something else
writes it out, or gets a helper of its own). None of them follows
:mod:`aither.server.storage.schema`, which is today's shape; a test compares the two after the
last migration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
"""SQLite autoincrements only an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity."""

Indexes = Mapping[str, Sequence[str]]
"""A table's indexes: name to columns, in the order they are created."""


def row_id() -> sa.Column[Any]:
    """The autoincrementing ``id`` a table of stored records is keyed by."""
    return sa.Column("id", ROW_ID, autoincrement=True, nullable=False)


def org_id() -> sa.Column[Any]:
    """``org_id``: the organisation every row belongs to (every query filters on it)."""
    return sa.Column("org_id", sa.String(length=32), nullable=False)


def org_foreign_key(table: str) -> sa.ForeignKeyConstraint:
    """``table.org_id`` references ``organizations.id``, named as the naming convention names it."""
    return sa.ForeignKeyConstraint(
        ["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations")
    )


def timing() -> list[sa.Column[Any]]:
    """When a call started, how long it took and whether it failed (predictions, LLM calls, operations)."""
    return [
        sa.Column("time_ns", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("is_error", sa.Boolean(), nullable=False),
    ]


def not_null(kind: sa.types.TypeEngine[Any], *names: str) -> list[sa.Column[Any]]:
    """Columns ``names`` of one type, none nullable (a rollup's key parts and sums)."""
    return [sa.Column(name, kind, nullable=False) for name in names]


def target(*, nullable: bool) -> list[sa.Column[Any]]:
    """What a rollup or an anomaly is about: kind (llm | prediction), service, model, version, environment."""
    return [
        sa.Column("kind", sa.String(length=16), nullable=nullable),
        sa.Column("service", sa.String(length=200), nullable=nullable),
        sa.Column("model", sa.String(length=200), nullable=nullable),
        sa.Column("version", sa.String(length=100), nullable=nullable),
        sa.Column("environment", sa.String(length=100), nullable=nullable),
    ]


def create_rollup_table(name: str, keys: Sequence[sa.Column[Any]], values: Sequence[sa.Column[Any]]) -> None:
    """Create a rollup table: one row per organisation, minute (the hour's start, in an hourly
    table) and ``keys``, holding ``values``; the key is the primary key."""
    op.create_table(
        name,
        org_id(),
        sa.Column("minute_ns", sa.BigInteger(), nullable=False),
        *keys,
        *values,
        sa.PrimaryKeyConstraint("org_id", "minute_ns", *(key.name for key in keys), name=f"pk_{name}"),
    )


def create_record_table(name: str, *columns: sa.schema.SchemaItem) -> None:
    """Create a table of stored records: an autoincrementing ``id`` (the primary key), the
    organisation, then ``columns`` (constraints among them)."""
    op.create_table(
        name, row_id(), org_id(), *columns, sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}"))
    )


def create_span_table(name: str, *columns: sa.schema.SchemaItem) -> None:
    """Create a table of records decoded from spans: a record table whose rows also name the
    trace and span they came from, then ``columns``.

    A span is stored once per organisation (a replay adds nothing); the unique key leads with
    ``span_id``, 64 random bits, so the replay check stays selective.
    """
    create_record_table(
        name,
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        *columns,
        sa.UniqueConstraint("org_id", "span_id", "trace_id", name=op.f(f"uq_{name}_org_id_span_id_trace_id")),
    )


def create_indexes(table: str, indexes: Indexes) -> None:
    """Create ``table``'s ``indexes`` (none of them unique), in their order."""
    for name, columns in indexes.items():
        op.create_index(name, table, list(columns), unique=False)


def drop_indexes(table: str, indexes: Indexes) -> None:
    """Drop ``table``'s ``indexes``, the last created first."""
    for name in reversed(list(indexes)):
        op.drop_index(name, table_name=table)


def drop_table(table: str, indexes: Indexes) -> None:
    """Drop ``table``, its ``indexes`` first (the last created first)."""
    drop_indexes(table, indexes)
    op.drop_table(table)
