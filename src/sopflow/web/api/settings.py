"""``/api/v1/settings``: workspace settings the console changes — today the workspace timezone.

The timezone is kept in the app database (``workspace_settings``, key ``workspace.timezone``), so every server
process and the console agree on it; until someone sets it, it is the ``timezone`` setting of the installation
(``SOPFLOW_TIMEZONE``, default Asia/Shanghai). Naive timestamps of files imported in the console are read in it.
Changing it is for admins (``settings.manage``) and lands in the audit log with the before and after.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from sopflow.accounts.sessions import Authenticated
from sopflow.web.api.console import ERRORS, Reader, app_session
from sopflow.web.auth import client_address, require, services_of
from sopflow.workspace_timezone import set_workspace_timezone, workspace_timezone

router = APIRouter(prefix="/api/v1/settings", tags=["settings"])
SettingsManager = Annotated[Authenticated, Depends(require("settings.manage"))]


class TimezoneOut(BaseModel):
    timezone: str
    default: str = Field(description="The installation's timezone, used while none is set here")


class TimezoneIn(BaseModel):
    timezone: str = Field(min_length=1, max_length=64, description="An IANA name, e.g. Asia/Shanghai")


@router.get("/timezone", response_model=TimezoneOut, responses=ERRORS)
def get_timezone(request: Request, auth: Reader) -> TimezoneOut:
    """The workspace timezone and the installation's default (any logged-in role)."""
    default = services_of(request).settings.timezone
    with app_session(request) as session:
        return TimezoneOut(timezone=workspace_timezone(session=session, default=default), default=default)


@router.put("/timezone", response_model=TimezoneOut, responses=ERRORS)
def put_timezone(body: TimezoneIn, request: Request, auth: SettingsManager) -> TimezoneOut:
    """Set the workspace timezone to an IANA name (admins: ``settings.manage``; audited with before and
    after)."""
    default = services_of(request).settings.timezone
    with app_session(request) as session:
        _before, after = set_workspace_timezone(
            session=session,
            timezone=body.timezone,
            default=default,
            actor=auth.user.name,
            client=client_address(request),
        )
    return TimezoneOut(timezone=after, default=default)
