"""``/api/v1/auth/login|logout|me`` and ``/api/v1/audit``: console logins over the REST API.

Log in with ``POST /api/v1/auth/login`` and ``{"name", "password"}``: the answer sets the ``sopflow_session``
cookie (HttpOnly, SameSite=Strict, Secure outside local development) and gives ``{"user", "csrf_token"}``.
Every later unsafe request (POST, PUT, PATCH, DELETE) sends that token back in ``X-CSRF-Token``.
Errors have the one JSON shape ``{"error": {"code", "message", "field"?}}``: 401 (wrong password, no or
expired session), 403 (role, CSRF), 422 (malformed body), 429 (too many failed logins, with Retry-After).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from sopflow.accounts.audit import DEFAULT_LIMIT, MAX_LIMIT, list_audit
from sopflow.accounts.sessions import Authenticated, login, logout
from sopflow.web.api import users
from sopflow.web.api.users import UserOut
from sopflow.web.auth import (
    SESSION_COOKIE,
    CurrentUser,
    clear_session_cookie,
    client_address,
    require,
    services_of,
    session_policy,
    set_session_cookie,
)

router = APIRouter()
auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
audit_router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": 'Error: {"error": {"code", "message", "field"?}}'}
    for status in (401, 403, 422, 429)
}


class LoginRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="Login name")
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="Send it back in the X-CSRF-Token header of every unsafe request")
    expires_at: datetime = Field(description="When the session ends unless used again sooner")


class LoggedOut(BaseModel):
    logged_out: bool


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target_kind: str
    target_id: str
    details: dict[str, Any]
    client: str | None


class AuditList(BaseModel):
    entries: list[AuditEntryOut] = Field(description="Newest first")


def _session_out(auth: Authenticated) -> SessionOut:
    return SessionOut(
        user=UserOut(**auth.user.as_json()), csrf_token=auth.csrf_token, expires_at=auth.expires_at
    )


@auth_router.post("/login", response_model=SessionOut, responses=_ERRORS)
def login_endpoint(body: LoginRequest, request: Request, response: Response) -> SessionOut:
    """Check the password and start a session (sets the session cookie)."""
    services = services_of(request)
    policy = session_policy(request)
    with services.database.session() as session:
        outcome = login(
            session=session,
            name=body.name,
            password=body.password,
            client=client_address(request),
            policy=policy,
        )
    # Raised only now, after the commit: the failed attempt must stay counted.
    started = outcome.unwrap()
    set_session_cookie(
        response, token=started.token, settings=services.settings, request=request, policy=policy
    )
    return _session_out(started.auth)


@auth_router.post("/logout", response_model=LoggedOut, responses=_ERRORS)
def logout_endpoint(auth: CurrentUser, request: Request, response: Response) -> LoggedOut:
    """End this session (needs the CSRF token, like every unsafe request)."""
    services = services_of(request)
    with services.database.session() as session:
        ended = logout(
            session=session, token=request.cookies.get(SESSION_COOKIE, ""), client=client_address(request)
        )
    clear_session_cookie(response, settings=services.settings, request=request)
    return LoggedOut(logged_out=ended)


@auth_router.get("/me", response_model=SessionOut, responses=_ERRORS)
def me_endpoint(auth: CurrentUser) -> SessionOut:
    """Who is logged in, and the session's CSRF token (for a page loaded after login)."""
    return _session_out(auth)


@audit_router.get("", response_model=AuditList, responses=_ERRORS)
def audit_endpoint(
    request: Request,
    auth: Annotated[Authenticated, Depends(require("audit.read"))],
    actor: str | None = None,
    action: Annotated[str | None, Query(description="e.g. user.create; user.* for a family")] = None,
    since: Annotated[datetime | None, Query(description="ISO time; without an offset, UTC")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> AuditList:
    """The audit log, newest first (admins only)."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with services_of(request).database.session() as session:
        entries = list_audit(session=session, actor=actor, action=action, since=since, limit=limit)
    return AuditList(entries=[AuditEntryOut(**entry.as_json()) for entry in entries])


router.include_router(auth_router)
router.include_router(audit_router)
router.include_router(users.router)
