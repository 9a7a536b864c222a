"""FastAPI dependencies shared by the ``/api/v1`` routes: the storage and the authenticated caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from ..auth import (
    SCOPE_ADMIN,
    SCOPE_READ,
    AuthError,
    FailedSignIns,
    Principal,
    authenticate,
    require_scope,
)
from ..config import ServerSettings
from ..sessions import COOKIE_NAME, CSRF_HEADER, cookie_principal
from ..storage import Storage


def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


def get_settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def http_error(error: AuthError) -> HTTPException:
    return HTTPException(error.status, error.message, headers=error.headers)


def authenticate_request(request: Request) -> Principal:
    """The caller of ``request`` (blocking), its failures counted against its address."""
    failures: FailedSignIns | None = getattr(request.app.state, "failed_sign_ins", None)
    return authenticate(
        get_storage(request),
        request.headers.get("authorization"),
        address=request.client.host if request.client else None,
        failures=failures,
    )


def caller(*scopes: str) -> Callable[[Request], Principal]:
    """A dependency: the request's principal, which must hold one of ``scopes`` (any key if none)."""

    def dependency(request: Request) -> Principal:
        try:
            authorization = request.headers.get("authorization")
            cookie = request.cookies.get(COOKIE_NAME)
            if authorization is None and cookie:  # the dashboard's session (aither/server/sessions.py)
                principal = cookie_principal(
                    get_storage(request), cookie, request.method, request.headers.get(CSRF_HEADER)
                )
            else:
                principal = authenticate_request(request)
            if scopes and not principal.scopes.intersection(scopes):
                require_scope(principal, scopes[0])
        except AuthError as error:
            raise http_error(error) from None
        return principal

    return dependency


AnyKey = Annotated[Principal, Depends(caller())]
Reader = Annotated[Principal, Depends(caller(SCOPE_READ))]
ReaderOrAdmin = Annotated[Principal, Depends(caller(SCOPE_READ, SCOPE_ADMIN))]
Admin = Annotated[Principal, Depends(caller(SCOPE_ADMIN))]
StorageDep = Annotated[Storage, Depends(get_storage)]
