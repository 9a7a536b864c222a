"""The dashboard's page and its sign-in routes.

=============================  ==========================================================
route                          does
=============================  ==========================================================
``GET /``                      the dashboard (one HTML page; the router runs in the browser)
``POST /api/v1/session``       sign in with ``{"api_key": ...}``: sets the session cookie
``GET /api/v1/session``        the signed-in key, its scopes and the CSRF token
``DELETE /api/v1/session``     sign out: deletes the session (needs ``X-CSRF-Token``)
=============================  ==========================================================
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from ..auth import AuthError, authenticate
from ..routes.deps import StorageDep, get_settings, http_error
from ..routes.responses import AUTHENTICATED, WITH_BODY
from ..routes.schemas import to_time
from ..sessions import (
    COOKIE_NAME,
    CSRF_HEADER,
    UiSession,
    check_csrf,
    create_session,
    delete_session,
    find_session,
)

STATIC = Path(__file__).with_name("static")

# The page loads only its own files: no inline script, nothing from another origin.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter()


class SignIn(BaseModel):
    api_key: str = Field(min_length=1, max_length=200, description="an aither API key")


class SessionInfo(BaseModel):
    """The signed-in session: send ``csrf_token`` as ``X-CSRF-Token`` on every write."""

    key_id: str
    org_id: str
    user_id: str
    scopes: list[str]
    csrf_token: str
    expires_at: dt.datetime


def _info(session: UiSession) -> SessionInfo:
    principal = session.principal
    return SessionInfo(
        key_id=principal.key_id,
        org_id=principal.org_id,
        user_id=principal.user_id,
        scopes=sorted(principal.scopes),
        csrf_token=session.csrf_token,
        expires_at=to_time(session.expires_at_ns),
    )


def current_session(request: Request, storage: StorageDep) -> UiSession:
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        raise HTTPException(401, "not signed in")
    try:
        session = find_session(storage, token)
        check_csrf(session, request.method, request.headers.get(CSRF_HEADER))
    except AuthError as error:
        raise http_error(error) from None
    return session


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers=_PAGE_HEADERS)


@router.post(
    "/api/v1/session",
    response_model=SessionInfo,
    tags=["dashboard"],
    summary="Sign in",
    responses={**AUTHENTICATED, **WITH_BODY},
)
def sign_in(body: SignIn, request: Request, response: Response, storage: StorageDep) -> SessionInfo:
    try:
        # wrong keys here count against the address like any other failed sign-in
        principal = authenticate(
            storage,
            f"Bearer {body.api_key.strip()}",
            address=request.client.host if request.client else None,
            failures=getattr(request.app.state, "failed_sign_ins", None),
        )
    except AuthError as error:
        raise http_error(error) from None
    ttl_s = get_settings(request).ui_session_hours * 3600
    token, session = create_session(storage, principal, ttl_s)
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=ttl_s,
        expires=ttl_s,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return _info(session)


@router.get(
    "/api/v1/session",
    response_model=SessionInfo,
    tags=["dashboard"],
    summary="The session",
    responses=AUTHENTICATED,
)
def get_session(session: Annotated[UiSession, Depends(current_session)]) -> SessionInfo:
    return _info(session)


@router.delete(
    "/api/v1/session", status_code=204, tags=["dashboard"], summary="Sign out", responses=AUTHENTICATED
)
def sign_out(
    request: Request, storage: StorageDep, _session: Annotated[UiSession, Depends(current_session)]
) -> Response:
    delete_session(storage, request.cookies[COOKIE_NAME])
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response
