"""Sharded ClickHouse: the telemetry tables on every shard, a ``Distributed`` table over them.

With ``cluster=<name>`` in the telemetry URL (``AITHER_CLICKHOUSE_CLUSTER``), the node aither
connects to (the entry) names the cluster's nodes in its ``remote_servers`` config, read from
``system.clusters``. The migrations run on every node, one connection each, in ``<db>_local``
(``ON CLUSTER`` would need ZooKeeper); then the entry gets, in ``<db>``, for each table a
``Distributed`` table over the local ones, sharded by :data:`~.schema.SHARDING_KEYS`. Every
query of the store names ``<db>.<table>`` and so reads and writes through them unchanged: the
entry's session sets ``insert_distributed_sync`` (an insert returns once every shard holds its
rows, so a 200 still means stored) and ``distributed_product_mode = 'global'`` (an ``IN`` or
``JOIN`` over a sharded table runs its subquery once, at the entry, and sends the result to the
shards). Retention and prune act on each node's local tables.

A quirk of 18.16 for whoever writes a query: ``FINAL`` with ``ORDER BY`` over a ``Distributed``
table fails ("Cannot find column org_id in source stream") unless the query names the sorting
key's first column; every query of the store filters on ``org_id``, which is that column.
"""

from __future__ import annotations

import re

from ..storage.engine import DatabaseURLError
from .client import NativeExecutor
from .schema import MIGRATIONS, SHARDING_KEYS, pending_migrations, record_migration

_CREATED = re.compile(r"CREATE TABLE IF NOT EXISTS \{db\}\.(\w+)")


def local_database(database: str) -> str:
    """The database of the shards' own tables, beside the entry's ``Distributed`` ones."""
    return f"{database}_local"


def created_tables(statements: tuple[str, ...]) -> list[str]:
    """The tables a migration's statements create (views excluded: they live on each shard)."""
    return [match.group(1) for statement in statements if (match := _CREATED.match(statement))]


class Shards:
    """The nodes of a cluster, each with its own connection to its local database."""

    def __init__(self, entry: NativeExecutor, cluster: str) -> None:
        self.entry = entry
        self.cluster = cluster
        self.local = local_database(entry.database)
        found = entry.execute(
            "SELECT host_name, port, is_local FROM system.clusters WHERE cluster = %(cluster)s "
            "ORDER BY shard_num, replica_num",
            {"cluster": cluster},
        )
        if not found:
            raise DatabaseURLError(
                f"ClickHouse at {entry.address} has no cluster {cluster!r} in its remote_servers config; "
                "name one it has, or leave cluster= out for a single server"
            )
        # the entry by the address aither reaches it at (the config may say localhost); and if
        # the entry holds no shard, its own empty local tables give the Distributed ones their columns
        addresses = [entry.address_tuple if is_local else (host, int(port)) for host, port, is_local in found]
        if entry.address_tuple not in addresses:
            addresses.append(entry.address_tuple)
        self.nodes: list[NativeExecutor] = []
        try:
            for host, port in dict.fromkeys(addresses):
                self.nodes.append(entry.at(host, port, self.local))
        except Exception:
            self.close()
            raise

    def distribute(self, up_to: int | None) -> list[int]:
        """Create the entry's ``Distributed`` tables of the migrations it does not list yet; the
        versions recorded (the shards' own tables exist by then)."""
        db, x = self.entry.database, self.entry
        applied = []
        for version, description, statements in pending_migrations(x, db, up_to):
            for table in created_tables(statements):
                x.execute(
                    f"CREATE TABLE IF NOT EXISTS {db}.{table} AS {self.local}.{table} ENGINE = "
                    f"Distributed('{self.cluster}', '{self.local}', '{table}', {SHARDING_KEYS[table]})"
                )
            record_migration(x, db, version, description)
            applied.append(version)
        self._refuse_unsharded()
        return applied

    def _refuse_unsharded(self) -> None:
        """Stop when ``<db>`` holds tables of a single server (a database used before without
        ``cluster=``): reads and writes would go to them, on this node alone, and never say so."""
        db = self.entry.database
        tables = sorted({table for _, _, statements in MIGRATIONS for table in created_tables(statements)})
        found = self.entry.execute(
            "SELECT name FROM system.tables WHERE database = %(db)s AND name IN %(tables)s "
            "AND engine != 'Distributed' ORDER BY name",
            {"db": db, "tables": tuple(tables)},
        )
        if found:
            names = ", ".join(row[0] for row in found)
            raise DatabaseURLError(
                f"ClickHouse database {db!r} at {self.entry.address} holds tables of a single server "
                f"({names}), not Distributed ones over cluster {self.cluster!r}: name another database "
                "for the cluster (its shards' tables go in <database>_local), or leave cluster= out"
            )

    def close(self) -> None:
        for node in self.nodes:
            node.close()
