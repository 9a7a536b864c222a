"""The two ways aither talks to ClickHouse: a server over the native protocol, or chDB in-process.

``clickhouse://user:password@host:9000/aither`` goes through ``clickhouse-driver`` (the native
protocol: it works with every server from 18.16 on, where the HTTP client ``clickhouse-connect``
refuses old ones). ``chdb:///path/to/dir`` runs ClickHouse inside the process (the ``chdb``
package), for a single node or a test. Both take the same SQL with ``%(name)s`` parameters and
tables named with their database, and return rows as tuples, so the store above them has one
dialect.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, unquote, urlsplit

from ..storage.engine import DatabaseURLError
from ..storage.writer import WriterBusy

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class TelemetryUnavailable(WriterBusy):
    """ClickHouse did not answer (down, unreachable, timed out): every route answers 503 with
    ``Retry-After`` (the app's handler of :class:`WriterBusy`), so exporters retry."""


class Executor(Protocol):
    """Runs SQL against one ClickHouse database; thread-safe."""

    database: str
    engine: str
    """``clickhouse`` (a server) or ``chdb`` (in-process)."""
    cluster: str | None
    """The cluster whose ``Distributed`` tables ``database`` holds (``cluster=`` in the URL);
    None: one server."""

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]: ...

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None: ...

    def insert_columns(self, table: str, columns: Sequence[str], data: Sequence[Sequence[Any]]) -> None:
        """Insert rows given column by column (``data[i]``: the values of ``columns[i]``)."""
        ...

    def close(self) -> None: ...


# clickhouse-driver's escaping of a string literal (``escape_chars_map``), as one translate
# table: the driver joins a generator over every character, which made the IN lists of the
# ingest path's queries (thousands of span ids) a few per cent of the server's CPU
_ESCAPES = str.maketrans(
    {"\b": "\\b", "\f": "\\f", "\r": "\\r", "\n": "\\n", "\t": "\\t", "\0": "\\0",
     "\a": "\\a", "\v": "\\v", "\\": "\\\\", "'": "\\'"}
)  # fmt: skip


def escape_value(value: Any) -> Any:
    """``value`` as the driver's client-side substitution writes it into SQL: strings, numbers,
    None and tuples or lists of them here, anything else (dates, enums, UUIDs) by the driver."""
    kind = type(value)
    if kind is str:  # ids and names are mostly letters and digits: nothing to escape
        return "'" + (value if value.isalnum() else value.translate(_ESCAPES)) + "'"
    if kind is int or kind is float:
        return value
    if value is None:
        return "NULL"
    if kind is tuple:
        return "(" + _items(value) + ")"
    if kind is list:
        return "[" + _items(value) + "]"
    from clickhouse_driver.util.escape import escape_param

    return escape_param(value, None)


def _items(values: Sequence[Any]) -> str:
    """The items of a tuple or list, escaped and joined (strings, the common item, inline)."""
    parts = []
    for item in values:
        if type(item) is str:
            parts.append("'" + (item if item.isalnum() else item.translate(_ESCAPES)) + "'")
        else:
            parts.append(str(escape_value(item)))
    return ", ".join(parts)


def substitute(sql: str, params: dict[str, Any] | None) -> str:
    """``sql`` with its ``%(name)s`` parameters written in, as the driver would."""
    if params is None:
        return sql
    return sql % {name: escape_value(value) for name, value in params.items()}


def _database_name(url: str, path: str) -> str:
    name = path.strip("/") or "aither"
    if not set(name) <= _NAME_CHARS:
        raise DatabaseURLError(f"telemetry database URL {url!r}: the database name must be [A-Za-z0-9_]")
    return name


def _cluster_name(url: str, query: str) -> str | None:
    names = parse_qs(query).get("cluster")
    if not names:
        return None
    name = names[-1]
    if not set(name) <= _NAME_CHARS | {"-", "."}:
        raise DatabaseURLError(f"telemetry database URL {url!r}: the cluster name must be [A-Za-z0-9_.-]")
    return name


# the server's codes for a shard it could not reach (ALL_CONNECTION_TRIES_FAILED, NETWORK_ERROR,
# SOCKET_TIMEOUT): to the client, ClickHouse did not answer, as when it is down
_SHARD_UNREACHABLE = frozenset({279, 210, 209})


@contextmanager
def _installed(message: str) -> Iterator[None]:
    """Imports of an optional package: one that is missing stops the server with ``message``
    (``{}``: the missing module's name), as a URL it can't use."""
    try:
        yield
    except ModuleNotFoundError as exc:
        raise DatabaseURLError(message.format(exc.name)) from exc


class NativeExecutor:
    """A ClickHouse server over the native TCP protocol; one connection per thread."""

    engine = "clickhouse"

    def __init__(self, url: str) -> None:
        with _installed("the ClickHouse driver is not installed ({}); pip install 'aither[clickhouse]'"):
            from clickhouse_driver import Client
        parts = urlsplit(url)
        self.database = _database_name(url, parts.path)
        self.cluster = _cluster_name(url, parts.query)
        self._options: dict[str, Any] = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 9000,
            "user": unquote(parts.username) if parts.username else "default",
            "password": unquote(parts.password) if parts.password else "",
            "connect_timeout": 5,
            "send_receive_timeout": 60,
        }
        if self.cluster is not None:
            # an insert returns once each shard holds its rows (a 200 means stored); an IN or JOIN
            # over sharded tables runs its subquery at this node and ships the result to the shards
            self._options["settings"] = {"insert_distributed_sync": 1, "distributed_product_mode": "global"}
        self._client_class = Client
        from clickhouse_driver.errors import NetworkError, ServerException, SocketTimeoutError

        self._server_error = ServerException

        self._unreachable: tuple[type[BaseException], ...] = (
            NetworkError,
            SocketTimeoutError,
            EOFError,
            OSError,
        )
        self._local = threading.local()
        self._clients: list[Any] = []
        self._lock = threading.Lock()
        # the database itself, before any client names it as its default
        self._call(f"CREATE DATABASE IF NOT EXISTS {self.database}", None, database="default")

    @property
    def address_tuple(self) -> tuple[str, int]:
        return self._options["host"], self._options["port"]

    @property
    def address(self) -> str:
        return "{}:{}".format(*self.address_tuple)

    def at(self, host: str, port: int, database: str) -> NativeExecutor:
        """An executor of another node (a shard) and database, with this one's credentials."""
        user, password = quote(self._options["user"], safe=""), quote(self._options["password"], safe="")
        host_part = f"[{host}]" if ":" in host else host
        return NativeExecutor(f"clickhouse://{user}:{password}@{host_part}:{port}/{database}")

    def _client(self, database: str | None = None) -> Any:
        key = database or self.database
        clients: dict[str, Any] = self._local.__dict__.setdefault("clients", {})
        if key not in clients:
            clients[key] = self._client_class(database=key, **self._options)
            with self._lock:
                self._clients.append(clients[key])
        return clients[key]

    def _call(
        self, sql: str, params: Any, database: str | None = None, **options: Any
    ) -> list[tuple[Any, ...]]:
        try:
            rows: list[tuple[Any, ...]] = self._client(database).execute(sql, params, **options)
        except self._unreachable as error:
            raise TelemetryUnavailable(f"ClickHouse did not answer ({error}); retry shortly") from error
        except self._server_error as error:
            if error.code in _SHARD_UNREACHABLE:
                message = str(error.message).strip().splitlines()[0]
                raise TelemetryUnavailable(
                    f"a ClickHouse shard did not answer ({message}); retry shortly"
                ) from error
            raise
        return rows

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self._call(substitute(sql, params), None)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if rows:  # the driver sends the rows in its native (columnar) blocks
            self._call(f"INSERT INTO {table} ({', '.join(columns)}) VALUES", list(rows))

    def insert_columns(self, table: str, columns: Sequence[str], data: Sequence[Sequence[Any]]) -> None:
        # as the driver sends them: no transposing of rows, no per-value type checks
        if data and len(data[0]):
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES"
            self._call(sql, list(data), columnar=True, types_check=False)

    def close(self) -> None:
        with self._lock:
            for client in self._clients:
                client.disconnect()
            self._clients.clear()


class ChdbExecutor:
    """ClickHouse inside this process (chDB), its data in a directory; one query at a time."""

    engine = "chdb"
    cluster: str | None = None

    def __init__(self, url: str) -> None:
        with _installed("chdb:// needs the chdb and clickhouse-driver packages ({} is missing)"):
            from chdb import session
            from clickhouse_driver.util.escape import escape_params
        parts = urlsplit(url)
        if not parts.path or parts.path == "/":
            raise DatabaseURLError(f"telemetry database URL {url!r}: name a directory, chdb:///path/to/dir")
        if _cluster_name(url, parts.query) is not None:
            raise DatabaseURLError(
                f"telemetry database URL {url!r}: chDB runs in this process and cannot be a cluster; "
                "use clickhouse://host:9000/db?cluster=<name>"
            )
        self.database = "aither"
        self._escape = escape_params
        self._session = session.Session(parts.path)
        self._lock = threading.Lock()
        self._run(f"CREATE DATABASE IF NOT EXISTS {self.database}")

    def _run(self, sql: str) -> str:
        with self._lock:
            result = self._session.query(sql, "JSONCompact")
        data: bytes = result.bytes()
        return data.decode()

    def _substitute(self, sql: str, params: dict[str, Any] | None) -> str:
        if not params:
            return sql
        escaped: dict[str, Any] = self._escape(params, None)
        return sql % escaped

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        text = self._run(_with_settings(self._substitute(sql, params)))
        if not text.strip():
            return []
        return [tuple(row) for row in json.loads(text)["data"]]

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        values = ", ".join(
            "(" + ", ".join(str(self._escape({"v": value}, None)["v"]) for value in row) + ")" for row in rows
        )
        self._run(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}")

    def insert_columns(self, table: str, columns: Sequence[str], data: Sequence[Sequence[Any]]) -> None:
        self.insert(table, columns, list(zip(*data, strict=True)))

    def close(self) -> None:
        with self._lock:
            self._session.close()


def _with_settings(sql: str) -> str:
    # 64-bit integers as JSON numbers, as the native protocol hands them back
    if sql.lstrip().upper().startswith("SELECT"):
        return f"{sql} SETTINGS output_format_json_quote_64bit_integers = 0"
    return sql


def value_set(values: Sequence[Any]) -> tuple[Any, ...]:
    """``values`` as the right side of ``IN %(name)s``: never one element, which the driver would
    write as ``(x)``, a bare value (a one-tuple key would then no longer be a set of tuples)."""
    items = tuple(values)
    return items * 2 if len(items) == 1 else items


def open_executor(url: str) -> Executor:
    """The executor for a telemetry database URL (``clickhouse://...`` or ``chdb:///dir``)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("clickhouse", "clickhouse+native"):
        return NativeExecutor(url)
    if scheme == "chdb":
        return ChdbExecutor(url)
    raise DatabaseURLError(
        f"telemetry database URL {url!r}: use clickhouse://user@host:9000/aither or chdb:///path/to/dir"
    )
