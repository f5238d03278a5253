"""Staff: the team members who own tasks, their role, and the manager overdue tasks escalate to.

- A name is unique (disabled people keep theirs: their tasks and history still point at them).
- A role is written like the playbook's ``team.roles[].id`` (campaigns match people to steps by it).
- ``manager`` names another staff member; a manager chain may not loop back (A → B → A), since an
  escalation walks it.
- Email and WeCom userid are checked when given: an address of the form ``local@domain.tld``; a userid as
  WeCom defines it (1–64 letters, digits, ``_ - @ .``, starting with a letter, digit or ``@``) and unique,
  since WeCom events name staff by it.

In :func:`update_staff` an argument left as None keeps the value, and an empty string clears it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopflow.accounts.audit import record_audit
from sopflow.errors import InvalidInput, NotFound
from sopflow.i18n import _
from sopflow.playbook.model.base import ID_PATTERN
from sopflow.store.runs import Staff

MAX_NAME_CHARS = 100
MAX_EMAIL_CHARS = 200
_ROLE = re.compile(ID_PATTERN)
# WeCom's rule for a member's UserID (企业微信 通讯录管理 › 创建成员: "长度为1~64个字节。只能由数字、字母和
# “_-@.”四种字符组成，且第一个字符必须是数字或字母或者“@”").
_WECOM_USERID = re.compile(r"^[A-Za-z0-9@][A-Za-z0-9_\-@.]{0,63}$")
# Characters an address never holds unquoted; quoted local parts are too rare in a team list to support.
_EMAIL_FORBIDDEN = re.compile(r"[\s<>()\[\],;:\"\\]")
_DOMAIN_LABEL = re.compile(r"^[^\W_](?:[\w-]{0,61}[^\W_])?$")


class UnknownStaff(NotFound):
    code = "unknown_staff"


@dataclass(frozen=True)
class StaffPublic:
    id: int
    name: str
    role: str
    manager: str | None
    email: str | None
    wecom_userid: str | None
    active: bool
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "manager": self.manager,
            "email": self.email,
            "wecom_userid": self.wecom_userid,
            "active": self.active,
            "created_at": self.created_at.isoformat(),
        }


def check_email(value: str, *, option: str = "--email") -> str:
    """The address without surrounding spaces, or InvalidInput naming ``option`` and what is wrong."""
    address = value.strip()

    def bad(reason: str) -> InvalidInput:
        return InvalidInput(
            _(
                "{option}: {value!r} is not an email address ({reason})",
                option=option,
                value=value,
                reason=reason,
            ),
            code="invalid_email",
        )

    if len(address) > MAX_EMAIL_CHARS:
        raise bad(_("longer than {n} characters", n=MAX_EMAIL_CHARS))
    if address.count("@") != 1:
        raise bad(_("it needs exactly one @"))
    if _EMAIL_FORBIDDEN.search(address) or not address.isprintable():
        raise bad(_('it holds spaces or characters such as <>()[],;:"'))
    local, domain = address.split("@")
    if not local or local.startswith(".") or local.endswith(".") or ".." in local:
        raise bad(_("the part before @ is empty or has misplaced dots"))
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise bad(_("the domain after @ must look like example.com"))
    if labels[-1].isdigit():
        raise bad(_("the domain after @ must look like example.com"))
    return address


def _check_name(value: str, *, option: str = "NAME") -> str:
    name = " ".join(value.split())
    if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise InvalidInput(
            _("{option}: a name needs 1 to {n} printable characters", option=option, n=MAX_NAME_CHARS),
            code="invalid_name",
        )
    return name


def _check_role(value: str) -> str:
    role = value.strip()
    if not _ROLE.match(role):
        raise InvalidInput(
            _(
                "--role {value!r}: a role is written like the playbook's team.roles ids: a letter, then up to "
                "63 letters, digits, _ or - (e.g. ops, group_assistant)",
                value=value,
            ),
            code="invalid_role",
        )
    return role


def _check_wecom_userid(session: Session, value: str, *, person: Staff | None) -> str:
    userid = value.strip()
    if not _WECOM_USERID.match(userid):
        raise InvalidInput(
            _(
                "--wecom-userid {value!r}: a WeCom userid has 1 to 64 letters, digits, _ - @ or ., "
                "and starts with a letter, digit or @",
                value=value,
            ),
            code="invalid_wecom_userid",
        )
    holder = session.scalars(select(Staff).where(Staff.wecom_userid == userid)).first()
    if holder is not None and holder is not person:
        raise InvalidInput(
            _("--wecom-userid {value!r}: {name} already has this userid", value=userid, name=holder.name),
            code="duplicate_wecom_userid",
        )
    return userid


def _known(session: Session) -> str:
    return ", ".join(session.scalars(select(Staff.name).order_by(Staff.name))) or _("none")


def _row(session: Session, name: str, *, option: str = "NAME") -> Staff:
    clean = " ".join(name.split())
    row = session.scalars(select(Staff).where(Staff.name == clean)).one_or_none()
    if row is None:
        raise UnknownStaff(
            _(
                "{option}: no staff member named {name!r}; staff: {known}",
                option=option,
                name=name,
                known=_known(session),
            )
        )
    return row


def _manager(session: Session, name: str, *, person: Staff | None) -> Staff:
    """The staff row ``--manager`` names, refusing a disabled one and a chain that loops back to ``person``."""
    manager = _row(session, name, option="--manager")
    if not manager.active:
        raise InvalidInput(
            _("--manager: {name} is disabled; choose an active manager", name=manager.name),
            code="inactive_manager",
        )
    if person is None:
        return manager
    chain = [person.name]
    current: Staff | None = manager
    seen: set[int] = set()
    while current is not None and current.id not in seen:
        chain.append(current.name)
        if current.id == person.id:
            raise InvalidInput(
                _(
                    "--manager: {name} cannot report to {manager}: the chain would loop ({chain})",
                    name=person.name,
                    manager=manager.name,
                    chain=" → ".join(chain),
                ),
                code="manager_cycle",
            )
        seen.add(current.id)
        current = session.get(Staff, current.manager_id) if current.manager_id is not None else None
    return manager


def public(session: Session, row: Staff) -> StaffPublic:
    manager = session.get(Staff, row.manager_id) if row.manager_id is not None else None
    return StaffPublic(
        id=row.id,
        name=row.name,
        role=row.role,
        manager=manager.name if manager is not None else None,
        email=row.email,
        wecom_userid=row.wecom_userid,
        active=row.active,
        created_at=row.created_at,
    )


def add_staff(
    *,
    session: Session,
    name: str,
    role: str,
    manager: str | None = None,
    email: str | None = None,
    wecom_userid: str | None = None,
    by: str = "system",
    now: datetime | None = None,
) -> StaffPublic:
    clean = _check_name(name)
    existing = session.scalars(select(Staff).where(Staff.name == clean)).one_or_none()
    if existing is not None:
        hint = (
            ""
            if existing.active
            else _(" (disabled; turn it back on with: sopflow staff enable {name})", name=clean)
        )
        raise InvalidInput(
            _("NAME: a staff member named {name!r} already exists{hint}", name=clean, hint=hint),
            code="duplicate_name",
        )
    row = Staff(
        name=clean,
        role=_check_role(role),
        manager_id=_manager(session, manager, person=None).id if manager else None,
        email=check_email(email) if email else None,
        wecom_userid=_check_wecom_userid(session, wecom_userid, person=None) if wecom_userid else None,
        active=True,
        created_at=now or datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    shown = public(session, row)
    record_audit(
        session=session,
        actor=by,
        action="staff.add",
        target_kind="staff",
        target_id=clean,
        details={"role": shown.role, "manager": shown.manager},
        now=now,
    )
    return shown


def update_staff(
    *,
    session: Session,
    name: str,
    role: str | None = None,
    manager: str | None = None,
    email: str | None = None,
    wecom_userid: str | None = None,
    by: str = "system",
) -> StaffPublic:
    """Change what is given (None keeps a value; "" clears the manager, email or userid)."""
    row = _row(session, name)
    # Check everything before changing anything: a refused update leaves the row as it was.
    new_role = _check_role(role) if role is not None else row.role
    new_manager = row.manager_id
    if manager is not None:
        new_manager = _manager(session, manager, person=row).id if manager.strip() else None
    new_email = row.email
    if email is not None:
        new_email = check_email(email) if email.strip() else None
    new_userid = row.wecom_userid
    if wecom_userid is not None:
        new_userid = _check_wecom_userid(session, wecom_userid, person=row) if wecom_userid.strip() else None
    changed = [
        field
        for field, old, new in (
            ("role", row.role, new_role),
            ("manager", row.manager_id, new_manager),
            ("email", row.email, new_email),
            ("wecom_userid", row.wecom_userid, new_userid),
        )
        if old != new
    ]
    row.role, row.manager_id, row.email, row.wecom_userid = new_role, new_manager, new_email, new_userid
    session.flush()
    if changed:
        record_audit(
            session=session,
            actor=by,
            action="staff.update",
            target_kind="staff",
            target_id=row.name,
            details={"changed": changed},
        )
    return public(session, row)


def set_active(*, session: Session, name: str, active: bool, by: str = "system") -> tuple[StaffPublic, bool]:
    """Disable or re-enable a person; returns them and whether anything changed."""
    row = _row(session, name)
    changed = row.active != active
    row.active = active
    session.flush()
    if changed:
        action = "staff.enable" if active else "staff.disable"
        record_audit(session=session, actor=by, action=action, target_kind="staff", target_id=row.name)
    return public(session, row), changed


def reports_of(*, session: Session, name: str) -> list[str]:
    """Active people whose manager is ``name`` (their escalations go there)."""
    row = _row(session, name)
    query = select(Staff.name).where(Staff.manager_id == row.id, Staff.active.is_(True)).order_by(Staff.name)
    return list(session.scalars(query))


def list_staff(*, session: Session, include_inactive: bool = True) -> list[StaffPublic]:
    query = select(Staff).order_by(Staff.role, Staff.name)
    if not include_inactive:
        query = query.where(Staff.active.is_(True))
    rows = list(session.scalars(query))
    return [public(session, row) for row in rows]


def get_staff(*, session: Session, name: str) -> StaffPublic:
    return public(session, _row(session, name))
