"""``/api/v1/settings``: workspace settings the console changes — today the workspace timezone.

The timezone is kept in the app database (``workspace_settings``, key ``workspace.timezone``), so every server
process and the console agree on it; until someone sets it, it is the ``timezone`` setting of the installation
(``SOPFLOW_TIMEZONE``, default Asia/Shanghai). Naive timestamps of files imported in the console are read in it.
Changing it is for admins (``settings.manage``) and lands in the audit log with the before and after.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from sopflow.accounts.audit import record_audit
from sopflow.accounts.sessions import Authenticated
from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.store.runs import WorkspaceSetting
from sopflow.web.api.console import ERRORS, Reader, app_session
from sopflow.web.auth import client_address, require, services_of

router = APIRouter(prefix="/api/v1/settings", tags=["settings"])
SettingsManager = Annotated[Authenticated, Depends(require("settings.manage"))]
TIMEZONE_KEY = "workspace.timezone"


def check_timezone(value: str) -> str:
    clean = value.strip()
    try:
        if not clean or clean != clean.strip("/") or ".." in clean:
            raise ValueError(clean)
        ZoneInfo(clean)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones, like 'America'
        raise InvalidInput(
            _("timezone: unknown timezone {value!r}; use an IANA name such as Asia/Shanghai", value=value),
            code="invalid_timezone",
        ) from None
    return clean


def workspace_timezone(*, session: Session, default: str) -> str:
    """The workspace's timezone: the one set in the console, else ``default`` (the installation's)."""
    setting = session.get(WorkspaceSetting, TIMEZONE_KEY)
    if setting is None or not isinstance(setting.value, str):
        return default
    return setting.value


def set_workspace_timezone(
    *,
    session: Session,
    timezone: str,
    default: str,
    actor: str,
    client: str | None = None,
    now: datetime | None = None,
) -> tuple[str, str]:
    """Set it (audited); returns (before, after). Raises :class:`InvalidInput` for an unknown name."""
    after = check_timezone(timezone)
    before = workspace_timezone(session=session, default=default)
    setting = session.get(WorkspaceSetting, TIMEZONE_KEY)
    if setting is None:
        setting = WorkspaceSetting(key=TIMEZONE_KEY)
        session.add(setting)
    setting.value = after
    setting.updated_at = now or datetime.now(UTC)
    session.flush()
    record_audit(
        session=session,
        actor=actor,
        action="workspace.setting",
        target_kind="setting",
        target_id=TIMEZONE_KEY,
        details={"before": before, "after": after},
        client=client,
        now=now,
    )
    return before, after


class TimezoneOut(BaseModel):
    timezone: str
    default: str = Field(description="The installation's timezone, used while none is set here")


class TimezoneIn(BaseModel):
    timezone: str = Field(min_length=1, max_length=64, description="An IANA name, e.g. Asia/Shanghai")


@router.get("/timezone", response_model=TimezoneOut, responses=ERRORS)
def get_timezone(request: Request, auth: Reader) -> TimezoneOut:
    default = services_of(request).settings.timezone
    with app_session(request) as session:
        return TimezoneOut(timezone=workspace_timezone(session=session, default=default), default=default)


@router.put("/timezone", response_model=TimezoneOut, responses=ERRORS)
def put_timezone(body: TimezoneIn, request: Request, auth: SettingsManager) -> TimezoneOut:
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
