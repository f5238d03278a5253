"""Console authentication for the REST API: the session cookie, CSRF, and role checks as FastAPI dependencies.

- ``current_user``: the logged-in user of the ``sopflow_session`` cookie, or 401. For an unsafe method (POST,
  PUT, PATCH, DELETE) the request must also carry the session's CSRF token in ``X-CSRF-Token``, else 403:
  SameSite=Strict already keeps other sites' forms from sending the cookie, the token covers older browsers
  and same-site pages that are not ours.
- ``require(action)``: ``current_user`` plus the role check of :func:`sopflow.accounts.roles.can`, or 403.

The ingest API keeps its own API-key auth (:mod:`sopflow.web.api.native`); nothing here touches it.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Response

from sopflow.accounts.roles import ACTIONS, can
from sopflow.accounts.sessions import DEFAULT_POLICY, Authenticated, SessionPolicy, verify_session
from sopflow.errors import Forbidden
from sopflow.i18n import _
from sopflow.settings import Settings
from sopflow.web.services import Services

SESSION_COOKIE = "sopflow_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def services_of(request: Request) -> Services:
    services = request.app.state.services
    assert isinstance(services, Services)
    return services


def session_policy(request: Request) -> SessionPolicy:
    """The app's session lifetimes (``app.state.session_policy``, which tests may shorten), else the default."""
    policy = getattr(request.app.state, "session_policy", None)
    return policy if isinstance(policy, SessionPolicy) else DEFAULT_POLICY


def client_address(request: Request) -> str | None:
    # The socket's peer, not X-Forwarded-For: a header anyone can set must not steer the rate limiter.
    return request.client.host if request.client else None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cookie_secure(settings: Settings, request: Request) -> bool:
    """Secure everywhere except plain HTTP in development on a loopback address (``sopflow serve`` on
    127.0.0.1), where there is no TLS and the cookie never leaves the machine."""
    if request.url.scheme == "https":
        return True
    return not (settings.env == "development" and _loopback(settings.host))


def set_session_cookie(
    response: Response, *, token: str, settings: Settings, request: Request, policy: SessionPolicy
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(policy.absolute.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=cookie_secure(settings, request),
    )


def clear_session_cookie(response: Response, *, settings: Settings, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=cookie_secure(settings, request),
    )


def _check_csrf(request: Request, auth: Authenticated) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        raise Forbidden(
            _(
                "missing CSRF token: send the header {header} with the token given at login",
                header=CSRF_HEADER,
            ),
            code="csrf_missing",
        )
    if not hmac.compare_digest(sent.encode("utf-8"), auth.csrf_token.encode("utf-8")):
        raise Forbidden(_("the CSRF token does not match this session"), code="csrf_mismatch")


def current_user(request: Request) -> Authenticated:
    """The verified session of this request (401 without one; 403 for an unsafe request without its token)."""
    services = services_of(request)
    with services.database.session() as session:
        auth = verify_session(
            session=session,
            token=request.cookies.get(SESSION_COOKIE),
            policy=session_policy(request),
        )
    if request.method not in SAFE_METHODS:
        _check_csrf(request, auth)
    request.state.auth = auth
    return auth


CurrentUser = Annotated[Authenticated, Depends(current_user)]


def require(action: str) -> Callable[[Authenticated], Authenticated]:
    """A dependency that lets the request through only for roles that may do ``action``."""
    if action not in ACTIONS:  # fail when the route is declared, not on its first request
        raise ValueError(f"unknown action {action!r}")

    def dependency(auth: CurrentUser) -> Authenticated:
        if not can(auth.user.role, action):
            raise Forbidden(
                _(
                    "your role {role} may not do this ({action}); ask an admin",
                    role=auth.user.role,
                    action=action,
                ),
                code="forbidden",
            )
        return auth

    return dependency
