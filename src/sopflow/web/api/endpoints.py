"""``/api/v1/endpoints``: where reminders and messages are delivered (robots, email, webhooks).

The same service as ``sopflow endpoints`` (:mod:`sopflow.channels.endpoints`): URLs come back with their keys
masked and secrets never come back (``has_secret`` says whether one is set). Adding, changing and disabling
are for admins (``endpoints.manage``); sending a test message through the real adapter is open to operators
(``endpoints.test``). Every one of them is in the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from sopflow.accounts.audit import record_audit
from sopflow.accounts.sessions import Authenticated
from sopflow.channels.endpoints import (
    EndpointPublic,
    EndpointRefused,
    add_endpoint,
    disable_endpoint,
    get_endpoint,
    list_endpoints,
    send_test_message,
)
from sopflow.channels.registry import check_endpoint
from sopflow.errors import InvalidInput, NotFound
from sopflow.i18n import _
from sopflow.store.delivery import Endpoint
from sopflow.web.api.console import ERRORS, Reader, app_session
from sopflow.web.auth import client_address, require

router = APIRouter(prefix="/api/v1/endpoints", tags=["endpoints"])
EndpointManager = Annotated[Authenticated, Depends(require("endpoints.manage"))]
EndpointTester = Annotated[Authenticated, Depends(require("endpoints.test"))]
TEST_ERRORS = {
    **ERRORS,
    502: {"description": "The endpoint refused the test message (code endpoint_refused)"},
}
NamePath = Annotated[str, Path(max_length=100)]
Options = Annotated[
    dict[Annotated[str, Field(max_length=50)], Annotated[str, Field(max_length=500)]], Field(max_length=20)
]


class EndpointOut(BaseModel):
    id: int
    name: str
    kind: str
    url: str = Field(description="With its keys and tokens masked")
    has_secret: bool
    options: dict[str, str]
    active: bool
    created_at: datetime


class EndpointList(BaseModel):
    endpoints: list[EndpointOut]


class EndpointCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(max_length=30, description="wecom_robot, feishu_bot, dingtalk_robot, email, webhook…")
    url: str = Field(min_length=1, max_length=2000)
    secret: str | None = Field(None, max_length=500, description="Signing secret or SMTP password")
    options: Options = Field(default_factory=dict)


class EndpointUpdate(BaseModel):
    url: str | None = Field(None, min_length=1, max_length=2000)
    secret: str | None = Field(None, max_length=500, description="A new secret; empty text removes it")
    options: Options | None = None
    active: bool | None = Field(None, description="true enables a disabled endpoint again")


class TestRequest(BaseModel):
    to: str = Field("", max_length=300, description="Recipient for person-addressed kinds (an email address)")


class TestResult(BaseModel):
    endpoint: str
    ok: bool
    response: str
    seconds: float


def endpoint_out(endpoint: EndpointPublic) -> EndpointOut:
    return EndpointOut(**endpoint.as_json())


def _audit(
    session: Session, request: Request, auth: Authenticated, action: str, name: str, **details: object
) -> None:
    record_audit(
        session=session,
        actor=auth.user.name,
        action=action,
        target_kind="endpoint",
        target_id=name,
        details=details or None,
        client=client_address(request),
    )


def parse_url(url: str) -> str:
    """``url`` if the standard library can take it apart, else :class:`InvalidInput` naming the URL: the kind
    checks call ``urlsplit`` and read the port, which raise ValueError for text like ``smtp://[``."""
    try:
        parts = urlsplit(url.strip())
        _port = parts.port
    except ValueError:
        raise InvalidInput(
            _("url: {url!r} is not a valid URL", url=url[:200]), code="invalid_endpoint"
        ) from None
    return url


def update_endpoint(
    *,
    session: Session,
    name: str,
    url: str | None = None,
    secret: str | None = None,
    options: dict[str, str] | None = None,
    active: bool | None = None,
) -> tuple[EndpointPublic, list[str]]:
    """Change an endpoint's fields (checked as when it was added); returns it and the names of what changed."""
    row = session.scalars(select(Endpoint).where(Endpoint.name == name)).one_or_none()
    if row is None:
        get_endpoint(session=session, name=name)  # raises the NotFound that lists the endpoints
        raise NotFound(_("no endpoint named {name!r}", name=name))
    new_url = row.url if url is None else parse_url(url).strip()
    new_secret = row.secret if secret is None else (secret or None)
    new_options = dict(row.options or {}) if options is None else dict(options)
    check_endpoint(row.kind, new_url, new_secret, new_options)
    changed = [
        field
        for field, before, after in (
            ("url", row.url, new_url),
            ("secret", row.secret, new_secret),
            ("options", row.options or {}, new_options),
            ("active", row.active, row.active if active is None else active),
        )
        if before != after
    ]
    row.url, row.secret, row.options = new_url, new_secret, new_options
    if active is not None:
        row.active = active
    session.flush()
    return get_endpoint(session=session, name=name), changed


@router.get("", response_model=EndpointList, responses=ERRORS)
def list_all(request: Request, auth: Reader) -> EndpointList:
    """Every delivery endpoint, disabled ones too, URLs masked and secrets left out (any logged-in role)."""
    with app_session(request) as session:
        return EndpointList(endpoints=[endpoint_out(e) for e in list_endpoints(session=session)])


@router.post("", response_model=EndpointOut, status_code=201, responses=ERRORS)
def create(body: EndpointCreate, request: Request, auth: EndpointManager) -> EndpointOut:
    """Add a delivery endpoint, checked for its kind (admins: ``endpoints.manage``); answers it masked."""
    with app_session(request) as session:
        endpoint = add_endpoint(
            session=session,
            name=body.name,
            kind=body.kind,
            url=parse_url(body.url),
            secret=body.secret,
            options=body.options,
        )
        _audit(session, request, auth, "endpoint.add", endpoint.name, kind=endpoint.kind)
    return endpoint_out(endpoint)


@router.get("/{name}", response_model=EndpointOut, responses=ERRORS)
def get_one(name: NamePath, request: Request, auth: Reader) -> EndpointOut:
    """One delivery endpoint, URL masked and secret left out (any logged-in role)."""
    with app_session(request) as session:
        return endpoint_out(get_endpoint(session=session, name=name))


@router.patch("/{name}", response_model=EndpointOut, responses=ERRORS)
def update(name: NamePath, body: EndpointUpdate, request: Request, auth: EndpointManager) -> EndpointOut:
    """Change an endpoint's URL, secret or options, or enable it again (admins: ``endpoints.manage``);
    checked as when it was added, answers it masked."""
    with app_session(request) as session:
        endpoint, changed = update_endpoint(
            session=session,
            name=name,
            url=body.url,
            secret=body.secret,
            options=body.options,
            active=body.active,
        )
        _audit(session, request, auth, "endpoint.update", name, changed=changed)
    return endpoint_out(endpoint)


@router.post("/{name}/disable", response_model=EndpointOut, responses=ERRORS)
def disable(name: NamePath, request: Request, auth: EndpointManager) -> EndpointOut:
    """Disable an endpoint: nothing is delivered through it until it is enabled again (admins:
    ``endpoints.manage``)."""
    with app_session(request) as session:
        endpoint = disable_endpoint(session=session, name=name)
        _audit(session, request, auth, "endpoint.disable", name)
    return endpoint_out(endpoint)


@router.post("/{name}/test", response_model=TestResult, responses=TEST_ERRORS)
def send_test(name: NamePath, body: TestRequest, request: Request, auth: EndpointTester) -> TestResult:
    """Send one test message through the endpoint's real adapter and show the receiver's answer."""
    with app_session(request) as session:
        get_endpoint(session=session, name=name)  # 404 before anything is sent or recorded
    try:
        with app_session(request) as session:
            result = send_test_message(session=session, name=name, recipient=body.to)
    except EndpointRefused as exc:
        with app_session(request) as session:
            _audit(session, request, auth, "endpoint.test", name, ok=False, reason=exc.message[:300])
        raise
    with app_session(request) as session:
        _audit(session, request, auth, "endpoint.test", name, ok=True)
    return TestResult(**result.as_json())
