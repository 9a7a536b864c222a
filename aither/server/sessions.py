"""Dashboard sign-in: server-side sessions behind an HttpOnly, SameSite=Strict cookie.

A browser signs in with an API key (``POST /api/v1/session``) and gets a random session
token in the cookie ``aither_session``; the ``ui_sessions`` table keeps the token's SHA-256,
the key it speaks for, that key's scopes, a CSRF token and the expiry. Every ``/api/v1``
route accepts the cookie as well as ``Authorization: Bearer``:

- the key's state is read on every request, so revoking the key ends its sessions at once;
- an expired or unknown session is a 401;
- every request that is not ``GET``/``HEAD``/``OPTIONS`` must send the session's CSRF token
  in ``X-CSRF-Token`` (403 otherwise). SameSite=Strict already keeps other sites' requests
  from carrying the cookie; the header is the second lock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .auth import AuthError, Principal
from .storage import Storage
from .storage.accounts import join_scopes, split_scopes
from .storage.schema import api_keys, ui_sessions

COOKIE_NAME: Final = "aither_session"
CSRF_HEADER: Final = "X-CSRF-Token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_TTL_S: Final = 12 * 3600


@dataclass(frozen=True, slots=True)
class UiSession:
    """A signed-in browser: who it speaks for, its CSRF token and when it ends."""

    principal: Principal
    csrf_token: str
    expires_at_ns: int


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_session(storage: Storage, principal: Principal, ttl_s: int) -> tuple[str, UiSession]:
    """Store a new session for ``principal``; (the cookie's token, the session). Blocking."""
    token = secrets.token_urlsafe(32)
    now = time.time_ns()
    session = UiSession(principal, secrets.token_urlsafe(32), now + ttl_s * 1_000_000_000)
    row = {
        "token_hash": _hash(token),
        "key_id": principal.key_id,
        "org_id": principal.org_id,
        "user_id": principal.user_id,
        "scopes": join_scopes(principal.scopes),
        "csrf_token": session.csrf_token,
        "created_at_ns": now,
        "expires_at_ns": session.expires_at_ns,
    }

    def insert(connection: Connection) -> None:
        # expired sessions go when a new one comes: the table stays as small as its live rows
        connection.execute(ui_sessions.delete().where(ui_sessions.c.expires_at_ns <= now))
        connection.execute(ui_sessions.insert().values(row))

    storage.writer.run(insert)
    return token, session


def find_session(storage: Storage, token: str) -> UiSession:
    """The live session of a cookie's token; 401 when unknown, expired, or its key is revoked."""
    with storage.read() as connection:
        row = connection.execute(
            sa.select(ui_sessions, api_keys.c.revoked_at_ns)
            .join(api_keys, api_keys.c.id == ui_sessions.c.key_id)
            .where(ui_sessions.c.token_hash == _hash(token))
        ).first()
    if row is None:
        raise AuthError(401, "not signed in: the session is unknown or was signed out")
    now = time.time_ns()
    if row.expires_at_ns <= now:
        raise AuthError(401, "the session has expired: sign in again")
    if row.revoked_at_ns is not None:
        raise AuthError(401, "the API key of this session has been revoked")
    storage.meter.api_call(row.org_id, row.key_id, now)
    principal = Principal(row.key_id, row.org_id, row.user_id, split_scopes(row.scopes))
    return UiSession(principal, row.csrf_token, row.expires_at_ns)


def check_csrf(session: UiSession, method: str, header: str | None) -> None:
    """403 for a write whose ``X-CSRF-Token`` is not the session's."""
    if method.upper() in SAFE_METHODS:
        return
    if not header or not hmac.compare_digest(header.encode(), session.csrf_token.encode()):
        raise AuthError(403, f"a write with the session cookie needs the session's {CSRF_HEADER} header")


def cookie_principal(storage: Storage, token: str, method: str, csrf_header: str | None) -> Principal:
    """The principal of a request that carries the session cookie (and no ``Authorization``)."""
    session = find_session(storage, token)
    check_csrf(session, method, csrf_header)
    return session.principal


def delete_session(storage: Storage, token: str) -> None:
    """Sign out: the session's row goes, so the cookie is worth nothing from now on."""
    digest = _hash(token)
    storage.writer.run(
        lambda connection: connection.execute(ui_sessions.delete().where(ui_sessions.c.token_hash == digest))
    )
