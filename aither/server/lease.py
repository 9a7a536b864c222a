"""A lease in the relational store: the work that must run once runs on one server of several.

Several ``aither server`` processes may share one database behind a load balancer: any of them
ingests and answers queries, but the window rules, retention and alert delivery must run
exactly once. The server that holds the lease named :data:`PERIODIC` does them; the others
skip them. The holder renews the lease every third of its TTL; a server that dies stops
renewing, and another takes the lease over once it has expired (within ``ttl_s``).

Taking the lease is one conditional UPDATE (``holder = me OR expires_at < now``), so on
PostgreSQL under concurrency, and on SQLite across processes sharing a file, exactly one
server wins. Each change of holder adds one to the lease's **fencing token**; a holder's
writes call :func:`fence` with the token they were started under, in the same transaction, so
a holder that was paused (a long GC, a stopped VM) and lost the lease meanwhile cannot act on
it: its transaction fails with :class:`LeaseLost` and rolls back.

Clocks: expiry is in wall-clock nanoseconds of the servers, so their clocks must agree to well
under the TTL (NTP does); a holder also stops acting on its own at 80 % of the TTL after its
last renewal, without asking the database, in case the renewal itself is what hangs.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from .storage.schema import leases

logger = logging.getLogger("aither.server")

PERIODIC: Final = "periodic"
"""The lease of the once-only work: window rules, retention, alert delivery."""
DEFAULT_TTL_S: Final = 10.0
_SAFETY: Final = 0.8
"""A holder acts for this share of the TTL after a renewal, then waits for the next one."""


class LeaseLost(Exception):
    """This server's lease was taken over (or expired and was taken): the work must not run."""


def holder_id() -> str:
    """``host:pid:random``: unique per process, and readable in the ``leases`` table."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{secrets.token_hex(4)}"


def acquire(connection: Connection, name: str, holder: str, ttl_s: float, now_ns: int) -> int | None:
    """Take or renew the lease ``name`` for ``holder``; its fencing token, or None if another holds it.

    Renewing keeps the token; taking it over from another (expired) holder adds one.
    """
    expires = now_ns + int(ttl_s * 1e9)
    mine = leases.c.holder == holder
    # the SET expressions read the row as it was before the UPDATE (SQL semantics, both databases)
    renewed = connection.execute(
        leases.update()
        .where(leases.c.name == name, sa.or_(mine, leases.c.expires_at_ns < now_ns))
        .values(
            token=sa.case((mine, leases.c.token), else_=leases.c.token + 1),
            acquired_at_ns=sa.case((mine, leases.c.acquired_at_ns), else_=now_ns),
            holder=holder,
            expires_at_ns=expires,
        )
        .returning(leases.c.token)
    ).first()
    if renewed is not None:
        return int(renewed[0])
    insert = (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(leases)
    created = connection.execute(
        insert.values(name=name, holder=holder, token=1, expires_at_ns=expires, acquired_at_ns=now_ns)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(leases.c.token)
    ).first()
    return int(created[0]) if created is not None else None


def release(connection: Connection, name: str, holder: str) -> None:
    """Give the lease up now (a clean shutdown), so another server need not wait for its expiry."""
    connection.execute(
        leases.update().where(leases.c.name == name, leases.c.holder == holder).values(expires_at_ns=0)
    )


def fence(connection: Connection, name: str, token: int) -> None:
    """Raise :class:`LeaseLost` unless ``token`` is still the lease's; call inside the work's transaction.

    The no-op UPDATE locks the lease row on PostgreSQL until the transaction ends, so a
    takeover either waits for this transaction or is seen by it; SQLite's one writer at a
    time gives the same order.
    """
    result = connection.execute(
        leases.update().where(leases.c.name == name, leases.c.token == token).values(token=leases.c.token)
    )
    if result.rowcount != 1:
        raise LeaseLost(f"the lease {name!r} moved on from token {token}")


def read(connection: Connection, name: str) -> dict[str, object] | None:
    """The lease's row (holder, token, expiry), for the API and tests."""
    row = connection.execute(sa.select(leases).where(leases.c.name == name)).mappings().first()
    return dict(row) if row is not None else None


class LeaseKeeper:
    """Takes and renews one lease on its own thread; :meth:`token` says whether to act. Thread-safe.

    Args:
        engine: the database the servers share (renewals use their own short transactions, not
            the writer's queue, so a long ingest backlog does not cost the lease).
        name: the lease.
        ttl_s: how long a lease lasts without renewal: the longest a dead holder's work waits.
        holder: this server's id (default: :func:`holder_id`).
    """

    def __init__(
        self, engine: Engine, *, name: str = PERIODIC, ttl_s: float = DEFAULT_TTL_S, holder: str | None = None
    ) -> None:
        self.engine = engine
        self.name = name
        self.ttl_s = ttl_s
        self.holder = holder or holder_id()
        self._token: int | None = None
        self._valid_until = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.acquired = threading.Event()
        """Set while this server holds the lease (for tests and whoever must wait for it)."""
        self.takeovers = 0
        """Times this server took the lease (the first time included)."""
        self.errors = 0

    def token(self) -> int | None:
        """The fencing token while this server holds the lease; None when it does not (or may not)."""
        with self._lock:
            if self._token is not None and time.monotonic() < self._valid_until:
                return self._token
            return None

    def renew(self) -> int | None:
        """One attempt to take or renew the lease now (the thread calls it every third of the TTL)."""
        started = time.monotonic()
        try:
            with self.engine.begin() as connection:
                token = acquire(connection, self.name, self.holder, self.ttl_s, time.time_ns())
        except Exception:
            self.errors += 1
            logger.exception("aither server: renewing the %r lease failed; trying again", self.name)
            token = None
            # keep acting until the current validity runs out: a database blip is not a takeover
            with self._lock:
                if time.monotonic() >= self._valid_until:
                    self._token = None
                    self.acquired.clear()
                return self._token
        with self._lock:
            if token is not None and token != self._token:
                self.takeovers += 1
                logger.info("aither server: %s holds the %r lease (token %d)", self.holder, self.name, token)
            self._token = token
            self._valid_until = started + self.ttl_s * _SAFETY if token is not None else 0.0
        if token is not None:
            self.acquired.set()
        else:
            self.acquired.clear()
        return token

    def start(self) -> LeaseKeeper:
        if self._thread is None:
            self.renew()
            self._thread = threading.Thread(target=self._run, name="aither-lease", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop renewing and give the lease up, so another server takes it at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            held, self._token, self._valid_until = self._token is not None, None, 0.0
        self.acquired.clear()
        if held:
            try:
                with self.engine.begin() as connection:
                    release(connection, self.name, self.holder)
            except Exception:  # it expires by itself within the TTL
                logger.warning("aither server: could not release the %r lease; it expires", self.name)

    def _run(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            self.renew()


_Loop = TypeVar("_Loop", bound="HolderLoop")


class HolderLoop:
    """Periodic work of the lease's holder, on its own thread: :meth:`work` every ``every_s``
    seconds while ``lease`` says this server holds the lease (its fencing token, or None); with
    no ``lease``, always (a server alone). A run that fails is logged and tried again at the
    next; a server that does not hold the lease looks again within a second."""

    name = "aither-loop"
    """The thread's name."""
    what = "periodic work"
    """What the log says failed."""

    def __init__(self, every_s: float, lease: Callable[[], int | None] | None = None) -> None:
        self.every_s = every_s
        self.lease = lease
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self.runs = 0
        self.ran = threading.Event()
        """Set once a run has completed (for whoever must know the loop has run)."""

    def work(self, token: int | None) -> None:
        """One run, under fencing token ``token`` (None with no lease)."""
        raise NotImplementedError

    def start(self: _Loop) -> _Loop:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            token = self.lease() if self.lease is not None else None
            if self.lease is not None and token is None:
                self._stop.wait(min(self.every_s, 1.0))  # not the holder: look again soon
                continue
            try:
                self.work(token)
                self.runs += 1
                self.ran.set()
            except Exception:
                logger.exception("aither server: %s failed; it will be tried again", self.what)
            self._stop.wait(self.every_s)
