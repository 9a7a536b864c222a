"""API keys and scopes.

A key is ``aith_`` followed by 43 URL-safe random characters (256 bits). The server keeps only
its SHA-256 (a fast hash is right for a random secret of that size: there is nothing to guess)
and its last four characters, to tell keys apart in lists. The secret is shown once, when the
key is created.

Scopes: ``read`` (query the API), ``write`` (send telemetry), ``admin`` (manage users and keys).
A key can only create keys whose scopes are a subset of its own.
"""

from __future__ import annotations

import hashlib
import secrets
import time
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
    """401 or 403, with the message to send back."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bearer_token(authorization: str | None) -> str:
    """The key of an ``Authorization: Bearer <key>`` header; 401 when there is none."""
    if not authorization:
        raise AuthError(401, "missing API key: send the header 'Authorization: Bearer <your aither API key>'")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "the Authorization header must be 'Bearer <your aither API key>'")
    return token.strip()


def authenticate(storage: Storage, authorization: str | None) -> Principal:
    """The principal behind a request's ``Authorization`` header; counts the call. Blocking."""
    token = bearer_token(authorization)
    with storage.read() as connection:
        identity = find_key(connection, hash_key(token))
    if identity is None:
        raise AuthError(401, "invalid API key")
    if identity.revoked:
        raise AuthError(401, "this API key has been revoked")
    storage.meter.api_call(identity.org_id, identity.key_id, time.time_ns())
    return Principal(identity.key_id, identity.org_id, identity.user_id, identity.scopes)


def require_scope(principal: Principal, scope: str) -> None:
    """403 unless the principal's key has ``scope``."""
    if scope not in principal.scopes:
        held = ", ".join(sorted(principal.scopes)) or "none"
        raise AuthError(403, f"this API key lacks the '{scope}' scope (it has: {held})")
