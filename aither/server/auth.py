"""API keys and scopes.

A key is ``aith_`` followed by 43 URL-safe random characters (256 bits). The server keeps only
its SHA-256 (a fast hash is right for a random secret of that size: there is nothing to guess)
and its last four characters, to tell keys apart in lists. The secret is shown once, when the
key is created.

Scopes: ``read`` (query the API), ``write`` (send telemetry), ``admin`` (manage users and keys).
A key can only create keys whose scopes are a subset of its own.

Failed sign-ins are rate-limited per client address (:class:`FailedSignIns`): an address may
fail ``burst`` times at once, then earns attempts back at ``rate`` per minute; past that its
failures answer 429 with ``Retry-After`` instead of 401. Only failures are limited: a valid
key is never slowed or refused, even from an address that is throttled (several clients behind
one NAT share an address, and one misconfigured client must not lock the others out). Keys are
256-bit random secrets, so the limit is not what stops guessing; it stops floods of bad keys
and tells a misconfigured client to back off.
"""

from __future__ import annotations

import collections
import hashlib
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .storage import Storage
from .storage.accounts import find_key

KEY_PREFIX: Final = "aith_"
SCOPE_READ: Final = "read"
SCOPE_WRITE: Final = "write"
SCOPE_ADMIN: Final = "admin"
SCOPES: Final = (SCOPE_READ, SCOPE_WRITE, SCOPE_ADMIN)


def generate_key() -> str:
    """A new secret API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def key_tail(secret: str) -> str:
    return secret[-4:]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller, as its API key says."""

    key_id: str
    org_id: str
    user_id: str
    scopes: frozenset[str]


class AuthError(Exception):
    """401, 403 or 429, with the message to send back (and, for 429, seconds to wait)."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str] | None:
        """The headers the answer needs: ``WWW-Authenticate`` for 401, ``Retry-After`` for 429."""
        if self.status == 401:
            return {"WWW-Authenticate": "Bearer"}
        if self.retry_after is not None:
            return {"Retry-After": str(self.retry_after)}
        return None


class FailedSignIns:
    """A token bucket per client address, spent by failed sign-ins only. Thread-safe.

    Memory is bounded: the least recently failing addresses are forgotten past ``max_addresses``
    (forgetting one only gives it a full bucket again).
    """

    def __init__(
        self,
        burst: int,
        per_minute: float,
        max_addresses: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.per_second = per_minute / 60.0
        self.max_addresses = max_addresses
        self._clock = clock
        self._buckets: collections.OrderedDict[str, tuple[float, float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def failed(self, address: str) -> int | None:
        """Count a failure from ``address``; seconds to wait when it is over its limit, else None."""
        now = self._clock()
        with self._lock:
            tokens, updated = self._buckets.pop(address, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - updated) * self.per_second)
            if tokens >= 1.0:
                self._buckets[address] = (tokens - 1.0, now)
                wait = None
            else:
                self._buckets[address] = (tokens, now)
                wait = max(1, math.ceil((1.0 - tokens) / self.per_second))
            while len(self._buckets) > self.max_addresses:
                self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)


def bearer_token(authorization: str | None) -> str:
    """The key of an ``Authorization: Bearer <key>`` header; 401 when there is none."""
    if not authorization:
        raise AuthError(401, "missing API key: send the header 'Authorization: Bearer <your aither API key>'")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "the Authorization header must be 'Bearer <your aither API key>'")
    return token.strip()


def authenticate(
    storage: Storage,
    authorization: str | None,
    *,
    address: str | None = None,
    failures: FailedSignIns | None = None,
) -> Principal:
    """The principal behind a request's ``Authorization`` header; counts the call. Blocking.

    Raises:
        AuthError: 401 for a missing, unknown or revoked key; 429 instead when ``address``
            has failed more often than ``failures`` allows.
    """
    try:
        token = bearer_token(authorization)
        with storage.read() as connection:
            identity = find_key(connection, hash_key(token))
        if identity is None:
            raise AuthError(401, "invalid API key")
        if identity.revoked:
            raise AuthError(401, "this API key has been revoked")
    except AuthError as error:
        wait = failures.failed(address) if failures is not None and address is not None else None
        if wait is not None:
            raise AuthError(
                429, f"too many failed sign-ins from this address; retry in {wait}s", retry_after=wait
            ) from error
        raise
    storage.meter.api_call(identity.org_id, identity.key_id, time.time_ns())
    return Principal(identity.key_id, identity.org_id, identity.user_id, identity.scopes)


def require_scope(principal: Principal, scope: str) -> None:
    """403 unless the principal's key has ``scope``."""
    if scope not in principal.scopes:
        held = ", ".join(sorted(principal.scopes)) or "none"
        raise AuthError(403, f"this API key lacks the '{scope}' scope (it has: {held})")
