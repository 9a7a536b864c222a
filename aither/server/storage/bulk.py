"""Insert many rows at once, straight through the DB-API driver's ``executemany``.

SQLAlchemy's ``connection.execute(table.insert(), rows)`` builds each row's parameters in
Python (type processors, defaults): about a third of the label join's time on a batch of
5,000 labels. Our rows are already plain ``str``/``int``/``float``/``bool``/``None`` with a
value for every column named, so the statement is compiled once per (dialect, columns) and
the rows go to the driver as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect


@lru_cache(maxsize=64)
def _compiled(
    table: sa.Table, dialect: Dialect, columns: tuple[str, ...]
) -> tuple[str, tuple[str, ...] | None]:
    statement = table.insert().values({name: sa.bindparam(name) for name in columns})
    compiled = statement.compile(dialect=dialect)
    positions = compiled.positiontup
    return str(compiled), tuple(positions) if positions is not None else None


def bulk_insert(connection: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """``INSERT`` every row of ``rows`` (dicts with the same keys) in one ``executemany``."""
    if not rows:
        return
    columns = tuple(rows[0])
    sql, positions = _compiled(table, connection.dialect, columns)
    if positions is None:  # named paramstyle (psycopg): the dicts are the parameters
        connection.exec_driver_sql(sql, list(rows))
    else:  # positional paramstyle (sqlite3's qmark)
        values = itemgetter(*positions)
        if len(positions) == 1:
            connection.exec_driver_sql(sql, [(values(row),) for row in rows])
        else:
            connection.exec_driver_sql(sql, [values(row) for row in rows])


@lru_cache(maxsize=32)
def upsert_sql(
    dialect: str, table: str, keys: tuple[str, ...], sums: tuple[str, ...], maxes: tuple[str, ...]
) -> str:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE`` adding ``sums`` and keeping the largest of
    ``maxes``, as the driver's SQL text with named parameters (rows go as dicts).

    For the rollups' upserts, which run in every ingest transaction: building and compiling a
    60-column SQLAlchemy statement each time cost more than running it (measured ~30 ms a batch
    on a busy 2-core machine, enough to push concurrent ingest past its bound).
    """
    names = (*keys, *sums, *maxes)

    def mark(name: str) -> str:
        return f":{name}" if dialect == "sqlite" else f"%({name})s"

    biggest = "max" if dialect == "sqlite" else "greatest"
    updates = [f'"{name}" = {table}."{name}" + excluded."{name}"' for name in sums]
    updates += [f'"{name}" = {biggest}({table}."{name}", excluded."{name}")' for name in maxes]
    columns = ", ".join(f'"{name}"' for name in names)
    marks = ", ".join(mark(name) for name in names)
    conflict = ", ".join(f'"{name}"' for name in keys)
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({marks}) "
        f"ON CONFLICT ({conflict}) DO UPDATE SET {', '.join(updates)}"
    )
