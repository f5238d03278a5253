"""``/api/v1/staff``: the team that owns a campaign's tasks (list, add, change, disable, enable).

Answers are the ``--json`` shapes of ``sopflow staff``: ``{"staff": [person, ...]}`` for the list and
``{"staff": person}`` for one. Viewers see email and WeCom userid masked (``138****5678``), as the roles say.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from sopflow.accounts.roles import at_least, mask_contact
from sopflow.accounts.sessions import Authenticated
from sopflow.campaign.staff import StaffPublic, add_staff, get_staff, list_staff, set_active, update_staff
from sopflow.web.api.console import ERRORS, Reader, StaffManager, app_session

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])


class StaffCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: str = Field(min_length=1, max_length=100, description="A playbook role id, such as ops")
    manager: str | None = Field(None, max_length=100, description="Another staff member's name")
    email: str | None = Field(None, max_length=200)
    wecom_userid: str | None = Field(None, max_length=64)


class StaffChange(BaseModel):
    """Fields left out keep their value; an empty string clears the manager, email or userid."""

    role: str | None = Field(None, max_length=100)
    manager: str | None = Field(None, max_length=100)
    email: str | None = Field(None, max_length=200)
    wecom_userid: str | None = Field(None, max_length=64)
    active: bool | None = Field(None, description="false disables the person, true enables them again")


def _shown(person: StaffPublic, auth: Authenticated) -> dict[str, Any]:
    shape = person.as_json()
    if not at_least(auth.user.role, "operator"):
        shape["email"] = mask_contact(shape["email"])
        shape["wecom_userid"] = mask_contact(shape["wecom_userid"])
    return shape


@router.get("", responses=ERRORS)
def list_endpoint(request: Request, auth: Reader, active_only: bool = False) -> dict[str, Any]:
    """The team, disabled members too unless ``active_only`` (any logged-in role; viewers see email and
    WeCom userid masked)."""
    with app_session(request) as session:
        people = list_staff(session=session, include_inactive=not active_only)
    return {"staff": [_shown(p, auth) for p in people]}


@router.post("", status_code=201, responses=ERRORS)
def create_endpoint(body: StaffCreate, request: Request, auth: StaffManager) -> dict[str, Any]:
    """Add a person to the team with their playbook role (operators and admins: ``staff.manage``);
    answers the person."""
    with app_session(request) as session:
        person = add_staff(
            session=session,
            name=body.name,
            role=body.role,
            manager=body.manager or None,
            email=body.email or None,
            wecom_userid=body.wecom_userid or None,
            by=auth.user.name,
        )
    return {"staff": _shown(person, auth)}


@router.patch("/{name}", responses=ERRORS)
def change_endpoint(name: str, body: StaffChange, request: Request, auth: StaffManager) -> dict[str, Any]:
    """Change a person's role, manager, email or WeCom userid, or disable or enable them (operators and
    admins: ``staff.manage``); all or nothing, answers the person."""
    # One transaction: a refused field leaves the person as they were, the active flag included.
    with app_session(request) as session:
        update_staff(
            session=session,
            name=name,
            role=body.role,
            manager=body.manager,
            email=body.email,
            wecom_userid=body.wecom_userid,
            by=auth.user.name,
        )
        if body.active is not None:
            set_active(session=session, name=name, active=body.active, by=auth.user.name)
        person = get_staff(session=session, name=name)
    return {"staff": _shown(person, auth)}
