"""Organisations, users and API keys: the rows behind authentication and the management API.

Reads run on any connection; writes run on the writer's (see ``BatchWriter.run``). Every
function takes the caller's ``org_id`` and never returns another organisation's row.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .schema import api_keys, organizations, users

ROLE_ADMIN = "admin"
ROLE_MEMBER = "member"
ROLES = (ROLE_ADMIN, ROLE_MEMBER)


def email_key(email: str) -> str:
    """The caseless form of an e-mail address, the only one addresses are compared in.

    Python folds every script (``Élodie`` and ``élodie`` match), where SQLite's ``lower()``
    folds only ASCII; NFKC first and last makes composed and decomposed accents match too.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email.strip()).casefold())


def new_id(prefix: str) -> str:
    """A random public id such as ``key_3f9c2a1b7d4e8f60``."""
    return f"{prefix}_{secrets.token_hex(8)}"


def split_scopes(text: str) -> frozenset[str]:
    return frozenset(text.split())


def join_scopes(scopes: frozenset[str] | set[str] | list[str] | tuple[str, ...]) -> str:
    return " ".join(sorted(set(scopes)))


@dataclass(frozen=True, slots=True)
class KeyIdentity:
    """Who an API key speaks for."""

    key_id: str
    org_id: str
    user_id: str
    scopes: frozenset[str]
    revoked: bool


def find_key(connection: Connection, key_hash: str) -> KeyIdentity | None:
    row = connection.execute(
        sa.select(
            api_keys.c.id, api_keys.c.org_id, api_keys.c.user_id, api_keys.c.scopes, api_keys.c.revoked_at_ns
        ).where(api_keys.c.key_hash == key_hash)
    ).first()
    if row is None:
        return None
    return KeyIdentity(
        row.id, row.org_id, row.user_id, split_scopes(row.scopes), row.revoked_at_ns is not None
    )


def has_organization(connection: Connection) -> bool:
    return connection.execute(sa.select(organizations.c.id).limit(1)).first() is not None


def _insert_new(
    connection: Connection, table: sa.Table, prefix: str, values: dict[str, Any], **stored_only: Any
) -> dict[str, Any]:
    """Insert a row under a new id of ``prefix``; the row as callers see it (without ``stored_only``)."""
    row = {"id": new_id(prefix), **values}
    connection.execute(table.insert().values({**row, **stored_only}))
    return row


def _org_rows(connection: Connection, table: sa.Table, org_id: str) -> list[dict[str, Any]]:
    """Every row of ``table`` that belongs to the organisation, oldest first."""
    query = sa.select(table).where(table.c.org_id == org_id).order_by(table.c.created_at_ns, table.c.id)
    return [dict(row) for row in connection.execute(query).mappings()]


def create_organization(connection: Connection, name: str, plan: str, now_ns: int) -> dict[str, Any]:
    return _insert_new(
        connection, organizations, "org", {"name": name, "plan": plan, "created_at_ns": now_ns}
    )


def first_row(connection: Connection, table: sa.Table, *where: Any) -> dict[str, Any] | None:
    """The first row of ``table`` matching ``where``, as a plain dict, or None when none does."""
    row = connection.execute(sa.select(table).where(*where)).mappings().first()
    return dict(row) if row else None


def get_organization(connection: Connection, org_id: str) -> dict[str, Any] | None:
    return first_row(connection, organizations, organizations.c.id == org_id)


def create_user(
    connection: Connection, org_id: str, *, email: str, name: str, role: str, now_ns: int
) -> dict[str, Any]:
    values = {"org_id": org_id, "email": email, "name": name, "role": role, "created_at_ns": now_ns}
    return _insert_new(connection, users, "usr", values, email_key=email_key(email))


def get_user(connection: Connection, org_id: str, user_id: str) -> dict[str, Any] | None:
    return first_row(connection, users, users.c.org_id == org_id, users.c.id == user_id)


def find_user_by_email(connection: Connection, org_id: str, email: str) -> dict[str, Any] | None:
    return first_row(connection, users, users.c.org_id == org_id, users.c.email_key == email_key(email))


def list_users(connection: Connection, org_id: str) -> list[dict[str, Any]]:
    return _org_rows(connection, users, org_id)


def create_key(
    connection: Connection,
    *,
    org_id: str,
    user_id: str,
    name: str,
    key_hash: str,
    tail: str,
    scopes: frozenset[str],
    now_ns: int,
) -> dict[str, Any]:
    values = {
        "org_id": org_id,
        "user_id": user_id,
        "name": name,
        "key_hash": key_hash,
        "tail": tail,
        "scopes": join_scopes(scopes),
        "created_at_ns": now_ns,
        "last_used_at_ns": None,
        "revoked_at_ns": None,
    }
    return _insert_new(connection, api_keys, "key", values)


def get_key(connection: Connection, org_id: str, key_id: str) -> dict[str, Any] | None:
    return first_row(connection, api_keys, api_keys.c.org_id == org_id, api_keys.c.id == key_id)


def list_keys(connection: Connection, org_id: str) -> list[dict[str, Any]]:
    return _org_rows(connection, api_keys, org_id)


def revoke_key(connection: Connection, org_id: str, key_id: str, now_ns: int) -> dict[str, Any] | None:
    """Revoke a key (a no-op when it is revoked already); None when the organisation has no such key."""
    connection.execute(
        api_keys.update()
        .where(api_keys.c.org_id == org_id, api_keys.c.id == key_id, api_keys.c.revoked_at_ns.is_(None))
        .values(revoked_at_ns=now_ns)
    )
    return get_key(connection, org_id, key_id)
