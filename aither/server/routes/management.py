"""The management API under ``/api/v1``: organisation, usage, users and API keys.

=================================  =====================  ======================================
route                              scope                  returns
=================================  =====================  ======================================
``GET /org``                       any key                the key's organisation
``GET /org/usage``                 read or admin          counts of the current month
``GET /users/me``                  any key                the key's user
``GET /users``, ``POST /users``    admin                  the organisation's users / a new one
``GET /api-keys``                  admin                  every key, secrets never included
``POST /api-keys``                 admin                  a new key, its secret shown this once
``DELETE /api-keys/{key_id}``      admin                  the revoked key (refused at once)
=================================  =====================  ======================================

A key can only create keys whose scopes are a subset of its own. An id of another
organisation answers 404, exactly like an id that does not exist.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException
from sqlalchemy.engine import Connection

from ...schema import results as r
from ..auth import generate_key, hash_key, key_tail
from ..storage.accounts import (
    create_key,
    create_user,
    find_user_by_email,
    get_organization,
    get_user,
    list_keys,
    list_users,
    revoke_key,
)
from ..storage.usage import period_bounds, read_usage
from . import schemas as s
from .deps import Admin, AnyKey, ReaderOrAdmin, StorageDep
from .responses import AUTHENTICATED, CONFLICT, NOT_FOUND, WITH_BODY, creates

router = APIRouter(prefix="/api/v1", tags=["management"], responses=AUTHENTICATED)


@router.get(
    "/org", response_model=r.Organization, summary="The organisation of the API key", responses=NOT_FOUND
)
def get_org(principal: AnyKey, storage: StorageDep) -> r.Organization:
    with storage.read() as connection:
        row = get_organization(connection, principal.org_id)
    if row is None:  # pragma: no cover - a key always belongs to an organisation
        raise HTTPException(404, "organisation not found")
    return s.organization_from(row)


@router.get("/org/usage", response_model=r.Usage, summary="Usage of the current calendar month")
def get_usage(principal: ReaderOrAdmin, storage: StorageDep) -> r.Usage:
    start, end = period_bounds(time.time_ns())
    with storage.meter.consistent, storage.read() as connection:
        counts = read_usage(connection, principal.org_id, start)
        counts["api_calls"] += storage.meter.pending_calls(principal.org_id, start)
    return r.Usage(
        org_id=principal.org_id, period_start=s.to_time(start), period_end=s.to_time(end), **counts
    )


@router.get(
    "/users/me", response_model=r.User, summary="The user the API key belongs to", responses=NOT_FOUND
)
def get_me(principal: AnyKey, storage: StorageDep) -> r.User:
    with storage.read() as connection:
        row = get_user(connection, principal.org_id, principal.user_id)
    if row is None:  # pragma: no cover - a key always belongs to a user
        raise HTTPException(404, "user not found")
    return s.user_from(row)


@router.get("/users", response_model=list[r.User], summary="Users of the organisation")
def get_users(principal: Admin, storage: StorageDep) -> list[r.User]:
    with storage.read() as connection:
        return [s.user_from(row) for row in list_users(connection, principal.org_id)]


@creates(router, "/users", r.User, "Add a user", {**WITH_BODY, **CONFLICT})
def post_user(body: s.UserCreate, principal: Admin, storage: StorageDep) -> r.User:
    def create(connection: Connection) -> dict[str, Any] | None:
        if find_user_by_email(connection, principal.org_id, body.email) is not None:
            return None
        return create_user(
            connection,
            principal.org_id,
            email=body.email,
            name=body.name or body.email.split("@")[0],
            role=body.role,
            now_ns=time.time_ns(),
        )

    row = storage.writer.run(create)
    if row is None:
        raise HTTPException(409, f"a user with email {body.email!r} already exists")
    return s.user_from(row)


@router.get("/api-keys", response_model=list[r.APIKey], summary="API keys of the organisation")
def get_api_keys(principal: Admin, storage: StorageDep) -> list[r.APIKey]:
    with storage.read() as connection:
        rows = list_keys(connection, principal.org_id)
    return [r.APIKey(**s.api_key_fields(row, storage.meter.last_used(row["id"]))) for row in rows]


@creates(
    router,
    "/api-keys",
    r.CreatedAPIKey,
    "Create an API key; the secret is in this response only",
    {**WITH_BODY, **NOT_FOUND},
)
def post_api_key(body: s.ApiKeyCreate, principal: Admin, storage: StorageDep) -> r.CreatedAPIKey:
    wanted = frozenset(body.scopes)
    beyond = wanted - principal.scopes
    if beyond:
        raise HTTPException(
            403, f"a key can't create a key with scopes it lacks: {', '.join(sorted(beyond))}"
        )
    secret = generate_key()

    def create(connection: Connection) -> dict[str, Any] | None:
        owner = body.user_id or principal.user_id
        if get_user(connection, principal.org_id, owner) is None:
            return None
        return create_key(
            connection,
            org_id=principal.org_id,
            user_id=owner,
            name=body.name,
            key_hash=hash_key(secret),
            tail=key_tail(secret),
            scopes=wanted,
            now_ns=time.time_ns(),
        )

    row = storage.writer.run(create)
    if row is None:
        raise HTTPException(404, f"no user {body.user_id!r}")
    return r.CreatedAPIKey(**s.api_key_fields(row), secret=secret)


@router.delete(
    "/api-keys/{key_id}", response_model=r.APIKey, summary="Revoke an API key", responses=NOT_FOUND
)
def delete_api_key(key_id: str, principal: Admin, storage: StorageDep) -> r.APIKey:
    row = storage.writer.run(
        lambda connection: revoke_key(connection, principal.org_id, key_id, time.time_ns())
    )
    if row is None:
        raise HTTPException(404, f"no API key {key_id!r}")
    return r.APIKey(**s.api_key_fields(row, storage.meter.last_used(row["id"])))
