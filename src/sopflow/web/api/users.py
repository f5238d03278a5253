"""``/api/v1/users``: the team's console accounts. Listing is open to every logged-in user; changes are
for admins (``users.manage``) and land in the audit log with the admin's name and address."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from sopflow.accounts.public import UserPublic
from sopflow.accounts.sessions import Authenticated
from sopflow.accounts.users import (
    WithPassword,
    change_role,
    create_user,
    disable_user,
    enable_user,
    list_users,
    reset_password,
)
from sopflow.web.auth import client_address, require, services_of

router = APIRouter(prefix="/api/v1/users", tags=["users"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": 'Error: {"error": {"code", "message", "field"?}}'}
    for status in (401, 403, 404, 422)
}
Reader = Annotated[Authenticated, Depends(require("read"))]
Admin = Annotated[Authenticated, Depends(require("users.manage"))]


class UserOut(BaseModel):
    id: int
    name: str
    display_name: str
    role: str
    active: bool
    created_at: datetime
    password_changed_at: datetime
    last_login_at: datetime | None


class UserList(BaseModel):
    users: list[UserOut]


class UserAnswer(BaseModel):
    user: UserOut


class UserWithPassword(BaseModel):
    user: UserOut
    password: str | None = Field(
        description="The generated password (shown once), or null when one was given"
    )


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: str = Field(description="admin, operator or viewer")
    display_name: str = Field("", max_length=200)
    password: str | None = Field(None, max_length=1024, description="Omit to have one generated")


class PasswordReset(BaseModel):
    password: str | None = Field(None, max_length=1024, description="Omit to have one generated")


class RoleChange(BaseModel):
    role: str = Field(description="admin, operator or viewer")


def _out(user: UserPublic) -> UserOut:
    return UserOut(**user.as_json())


def _with_password(result: WithPassword) -> UserWithPassword:
    return UserWithPassword(user=_out(result.user), password=result.password if result.generated else None)


@router.get("", response_model=UserList, responses=_ERRORS)
def list_endpoint(request: Request, auth: Reader) -> UserList:
    """Every console account, disabled ones included (any logged-in role)."""
    with services_of(request).database.session() as session:
        return UserList(users=[_out(user) for user in list_users(session=session)])


@router.post("", response_model=UserWithPassword, status_code=201, responses=_ERRORS)
def create_endpoint(body: UserCreate, request: Request, auth: Admin) -> UserWithPassword:
    """Create an account (admins); without a password one is generated and shown once."""
    with services_of(request).database.session() as session:
        result = create_user(
            session=session,
            name=body.name,
            role=body.role,
            password=body.password,
            display_name=body.display_name,
            actor=auth.user.name,
            client=client_address(request),
        )
    return _with_password(result)


@router.post("/{name}/disable", response_model=UserAnswer, responses=_ERRORS)
def disable_endpoint(name: str, request: Request, auth: Admin) -> UserAnswer:
    """Disable an account and end its sessions (admins; never the last active admin)."""
    with services_of(request).database.session() as session:
        user = disable_user(session=session, name=name, actor=auth.user.name, client=client_address(request))
    return UserAnswer(user=_out(user))


@router.post("/{name}/enable", response_model=UserAnswer, responses=_ERRORS)
def enable_endpoint(name: str, request: Request, auth: Admin) -> UserAnswer:
    """Enable a disabled account again (admins)."""
    with services_of(request).database.session() as session:
        user = enable_user(session=session, name=name, actor=auth.user.name, client=client_address(request))
    return UserAnswer(user=_out(user))


@router.post("/{name}/reset-password", response_model=UserWithPassword, responses=_ERRORS)
def reset_endpoint(name: str, body: PasswordReset, request: Request, auth: Admin) -> UserWithPassword:
    """Set a new password, generated when none is given, and end the account's sessions (admins)."""
    with services_of(request).database.session() as session:
        result = reset_password(
            session=session,
            name=name,
            password=body.password,
            actor=auth.user.name,
            client=client_address(request),
        )
    return _with_password(result)


@router.post("/{name}/role", response_model=UserAnswer, responses=_ERRORS)
def role_endpoint(name: str, body: RoleChange, request: Request, auth: Admin) -> UserAnswer:
    """Change an account's role: admin, operator or viewer (admins; never demote the last active admin)."""
    with services_of(request).database.session() as session:
        user = change_role(
            session=session, name=name, role=body.role, actor=auth.user.name, client=client_address(request)
        )
    return UserAnswer(user=_out(user))
