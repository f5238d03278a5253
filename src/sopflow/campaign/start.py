"""Start a campaign: freeze a playbook version and materialise every step into a task.

- Owners by role: ``--assign role=person`` first; else a staff member of that role named in the playbook's
  ``team.roles[].people``; else the first active staff member with that role. A role with nobody is an
  error, and the whole start writes nothing.
- Reminders: ``--notify role=ENDPOINT`` (``*=ENDPOINT`` for every role without its own). Messages
  themselves: ``--send channel=ENDPOINT`` sends the steps on that channel (their script, to everyone there)
  instead of reminding their owner.
- ``at:`` steps get their absolute due time now (see :mod:`sopflow.campaign.timing`), quiet hours applied;
  ``after:`` steps wait (``pending`` without a due time) until the step they follow is sent or done.
- Scripts are rendered with the playbook's variables and the campaign's (name, owner, step time, start
  date); per-user placeholders (``{{nickname}}``, ``{{invite_link}}``) stay for the sender to fill.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopflow.accounts.audit import record_audit
from sopflow.campaign.reminder import SEND_PREFIX
from sopflow.campaign.timing import Quiet, after_quiet_hours, day_zero, node_time
from sopflow.errors import InvalidInput, NotFound
from sopflow.i18n import _
from sopflow.playbook.loader import parse_playbook
from sopflow.playbook.model import Playbook, Step
from sopflow.playbook.problems import PlaybookInvalid
from sopflow.playbook.schedule import schedule
from sopflow.playbook.templating import render_text
from sopflow.playbook.timenode import parse_after, parse_duration
from sopflow.store.delivery import Endpoint
from sopflow.store.runs import Campaign, PlaybookVersion, Staff, Task, TaskEvent

DEFAULT_DEADLINE = 86_400  # a step without `deadline:` is overdue a day after it was due
DEFAULT_MAX_LATE = 3600
ALL_ROLES = "*"


def frozen_playbook(version: PlaybookVersion) -> Playbook:
    """The playbook a version row holds (it was validated when published)."""
    playbook, problems = parse_playbook(version.content, filename=f"{version.playbook_id}@{version.version}")
    if playbook is None:
        raise PlaybookInvalid(problems)
    return playbook


def campaign_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(_("unknown timezone {value!r}", value=name), code="invalid_timezone") from None


def parse_pairs(items: list[str], *, option: str, shape: str = "ROLE=NAME") -> dict[str, str]:
    """``["a=b", "c=d,e=f"]`` → ``{"a": "b", "c": "d", "e": "f"}``; a malformed item names the option."""
    pairs: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            key, sep, value = part.partition("=")
            if not part.strip():
                continue
            if not sep or not key.strip() or not value.strip():
                raise InvalidInput(
                    _("{option}: expected {shape}, got {value!r}", option=option, shape=shape, value=part),
                    code="invalid_option",
                )
            pairs[key.strip()] = value.strip()
    return pairs


@dataclass(frozen=True)
class Arm:
    """One arm of playbook versions run side by side: the experiment's key, this arm, and every arm's
    weight (persons are assigned with :func:`~sopflow.analytics.experiments.assignment.assign_variant`)."""

    key: str
    name: str
    arms: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Owners:
    by_role: dict[str, Staff]


def resolve_owners(*, session: Session, playbook: Playbook, assign: dict[str, str]) -> Owners:
    roles = {role.id: role for role in playbook.team.roles}
    unknown = sorted(set(assign) - set(roles))
    if unknown:
        raise InvalidInput(
            _(
                "--assign names role {role!r}, which the playbook does not have (roles: {known})",
                role=unknown[0],
                known=", ".join(roles),
            ),
            code="unknown_role",
        )
    staff = list(session.scalars(select(Staff).where(Staff.active.is_(True)).order_by(Staff.id)))
    by_name = {s.name: s for s in staff}
    needed = sorted({step.owner for step in playbook.timeline.steps()})
    owners: dict[str, Staff] = {}
    for role_id in needed:
        if role_id in assign:
            person = by_name.get(assign[role_id])
            if person is None:
                raise NotFound(
                    _(
                        "--assign {role}={name}: no active staff member named {name!r} (add one with: "
                        "sopflow staff add {name} --role {role})",
                        role=role_id,
                        name=assign[role_id],
                    ),
                    code="unknown_staff",
                )
            owners[role_id] = person
            continue
        named = [by_name[p] for p in roles[role_id].people if p in by_name]
        holders = named or [s for s in staff if s.role == role_id]
        if not holders:
            raise InvalidInput(
                _(
                    "role {role!r} ({name}) has no person: add one with `sopflow staff add NAME --role "
                    "{role}` or pass --assign {role}=NAME",
                    role=role_id,
                    name=roles[role_id].name,
                ),
                code="role_without_person",
            )
        owners[role_id] = holders[0]
    return Owners(owners)


def resolve_endpoints(*, session: Session, playbook: Playbook, notify: dict[str, str]) -> dict[str, int]:
    roles = {role.id for role in playbook.team.roles}
    endpoints = {e.name: e for e in session.scalars(select(Endpoint).where(Endpoint.active.is_(True)))}
    chosen: dict[str, int] = {}
    for role_id, name in notify.items():
        if role_id != ALL_ROLES and role_id not in roles:
            raise InvalidInput(
                _(
                    "--notify names role {role!r}, which the playbook does not have (roles: {known})",
                    role=role_id,
                    known=", ".join(sorted(roles)),
                ),
                code="unknown_role",
            )
        endpoint = endpoints.get(name)
        if endpoint is None:
            raise NotFound(
                _(
                    "--notify {role}={name}: no endpoint named {name!r} (see `sopflow endpoints list`)",
                    role=role_id,
                    name=name,
                ),
                code="unknown_endpoint",
            )
        chosen[role_id] = endpoint.id
    return chosen


_PER_USER = ("{{nickname}}", "{{invite_link}}")


def resolve_sends(*, session: Session, playbook: Playbook, send: dict[str, str]) -> dict[str, int]:
    """``--send CHANNEL=ENDPOINT``: the steps on CHANNEL go out themselves through ENDPOINT (a group robot
    in the community group, the team's webhook…). One message reaches everyone there, so a step whose
    script is tested per person (variants) or names a person (``{{nickname}}``) cannot be sent this way."""
    if not send:
        return {}
    steps = list(playbook.timeline.steps())
    channels = sorted({step.channel for step in steps})
    endpoints = {e.name: e for e in session.scalars(select(Endpoint).where(Endpoint.active.is_(True)))}
    scripts = {script.id: script for script in playbook.scripts}
    chosen: dict[str, int] = {}
    for channel, name in send.items():
        if channel not in channels:
            raise InvalidInput(
                _(
                    "--send names channel {channel!r}, which no step uses (channels: {known})",
                    channel=channel,
                    known=", ".join(channels),
                ),
                code="unknown_channel",
            )
        endpoint = endpoints.get(name)
        if endpoint is None:
            raise NotFound(
                _(
                    "--send {channel}={name}: no endpoint named {name!r} (see `sopflow endpoints list`)",
                    channel=channel,
                    name=name,
                ),
                code="unknown_endpoint",
            )
        for step in (s for s in steps if s.channel == channel and s.script):
            script = scripts[step.script or ""]
            if script.variants or any(p in script.text for p in _PER_USER):
                raise InvalidInput(
                    _(
                        "--send {channel}: step {step}'s script {script} is personal (variants or per-user "
                        "placeholders), so one message cannot carry it; remind its owner instead (--notify)",
                        channel=channel,
                        step=step.id,
                        script=script.id,
                    ),
                    code="personal_script",
                )
        chosen[channel] = endpoint.id
    return chosen


def _script_text(playbook: Playbook, step: Step, values: dict[str, str]) -> str:
    if step.script is None:
        return ""
    script = next(s for s in playbook.scripts if s.id == step.script)
    return render_text(script.text, values)


def step_values(
    playbook: Playbook, *, name: str, owner: str, at: datetime | None, first: datetime
) -> dict[str, str]:
    values = dict(playbook.variables)
    values.update(
        campaign_name=name,
        owner=owner,
        start_date=first.strftime("%Y-%m-%d"),
        step_time=at.strftime("%Y-%m-%d %H:%M") if at is not None else "",
    )
    return values


def start_campaign(
    *,
    session: Session,
    version: PlaybookVersion,
    starts_at: datetime,
    timezone: str | None = None,
    name: str | None = None,
    assign: dict[str, str] | None = None,
    notify: dict[str, str] | None = None,
    send: dict[str, str] | None = None,
    max_late: int = DEFAULT_MAX_LATE,
    by: str = "",
    now: datetime | None = None,
    arm: Arm | None = None,
) -> Campaign:
    """Create the campaign and all its tasks in ``session`` (the caller's transaction: all or nothing)."""
    now = now or datetime.now(UTC)
    playbook = frozen_playbook(version)
    zone = campaign_zone(timezone or playbook.meta.timezone)
    owners = resolve_owners(session=session, playbook=playbook, assign=assign or {})
    endpoints = resolve_endpoints(session=session, playbook=playbook, notify=notify or {})
    sends = resolve_sends(session=session, playbook=playbook, send=send or {})
    d0 = day_zero(starts_at, zone)
    first_day = starts_at.astimezone(zone).date()
    campaign = Campaign(
        name=name or f"{playbook.meta.id} {first_day.isoformat()}",
        playbook_version_id=version.id,
        playbook_id=version.playbook_id,
        version=version.version,
        timezone=zone.key,
        starts_at=starts_at,
        day_zero=d0,
        status="running",
        assignments={role: staff.name for role, staff in owners.by_role.items()},
        notify={**(notify or {}), **{f"{SEND_PREFIX}{c}": n for c, n in (send or {}).items()}},
        max_late_seconds=max_late,
        created_at=now,
        created_by=by,
        experiment_key=arm.key if arm else None,
        arm=arm.name if arm else None,
        arms=[list(pair) for pair in arm.arms] if arm else None,
    )
    session.add(campaign)
    session.flush()
    record_audit(
        session=session,
        actor=by or "system",
        action="campaign.start",
        target_kind="campaign",
        target_id=campaign.id,
        details={"playbook": f"{version.playbook_id}@{version.version}", "starts_at": starts_at.isoformat()},
        now=now,
    )
    quiet = Quiet.of(playbook.policies.quiet_hours)
    for position, row in enumerate(schedule(playbook)):
        step = row.step
        owner = owners.by_role[step.owner]
        planned = node_time(first_day, row.offset, zone) if step.at is not None else None
        due = after_quiet_hours(planned, quiet, zone) if planned is not None else None
        deadline = parse_duration(step.deadline) if step.deadline else DEFAULT_DEADLINE
        after = parse_after(step.after) if step.after is not None else None
        shown_at = due.astimezone(zone) if due is not None else None
        values = step_values(
            playbook, name=campaign.name, owner=owner.name, at=shown_at, first=d0.astimezone(zone)
        )
        task = Task(
            campaign_id=campaign.id,
            step_id=step.id,
            phase_id=row.phase_id,
            position=position,
            name=step.name,
            role=step.owner,
            owner_id=owner.id,
            channel=step.channel,
            action=render_text(step.action, values),
            script_id=step.script,
            text=_script_text(playbook, step, values),
            materials=list(step.materials),
            checklist=list(step.checklist),
            after_step=after.step if after else None,
            after_delay=after.delay if after else 0,
            planned_at=planned,
            due_at=due,
            deadline_seconds=deadline,
            deadline_at=due + timedelta(seconds=deadline) if due is not None else None,
            state="pending",
            endpoint_id=sends.get(step.channel) or endpoints.get(step.owner, endpoints.get(ALL_ROLES)),
            delivery_id=uuid.uuid4().hex,
            attempts=0,
            capped=0,
            escalations=0,
            created_at=now,
            updated_at=now,
        )
        session.add(task)
        session.flush()
        session.add(
            TaskEvent(
                task_id=task.id,
                at=now,
                to_state="pending",
                actor=by or "system",
                reason=_created_reason(planned, due, after, zone),
            )
        )
    return campaign


def _created_reason(planned: datetime | None, due: datetime | None, after: object, zone: ZoneInfo) -> str:
    if planned is None:
        return _("waits for the step it follows")
    assert due is not None
    shown = f"{due.astimezone(zone):%Y-%m-%d %H:%M}"
    if due != planned:
        return _(
            "due {due}: moved out of quiet hours (planned {planned})",
            due=shown,
            planned=f"{planned.astimezone(zone):%Y-%m-%d %H:%M}",
        )
    return _("due {due}", due=shown)


def start_side_by_side(
    *,
    session: Session,
    versions: list[PlaybookVersion],
    split: list[float],
    starts_at: datetime,
    name: str | None = None,
    **options: Any,
) -> list[Campaign]:
    """Two (or more) versions of one playbook run at once as an experiment: a campaign per version, all
    with the same name (so the analytics see one campaign), each person in exactly one of them. The arm of a
    version is ``v<version>``; it is the ``variant`` of the arm's touches on steps whose script has no
    variants of its own, so ``sopflow experiment analyze --campaign NAME --step STEP`` compares them."""
    ids = {v.playbook_id for v in versions}
    numbers = [v.version for v in versions]
    if len(ids) != 1 or len(set(numbers)) != len(numbers):
        raise InvalidInput(
            _(
                "--versus: give other versions of the same playbook (got {refs})",
                refs=", ".join(f"{v.playbook_id}@{v.version}" for v in versions),
            ),
            code="invalid_versus",
        )
    if len(split) != len(versions) or any(not w > 0 for w in split):
        raise InvalidInput(
            _("--split: one positive weight per version ({n}), got {given}", n=len(versions), given=split),
            code="invalid_split",
        )
    playbook_id = versions[0].playbook_id
    day = starts_at.astimezone(campaign_zone(frozen_playbook(versions[0]).meta.timezone)).date()
    shared = name or f"{playbook_id} {day.isoformat()} " + " vs ".join(f"v{n}" for n in numbers)
    arms = tuple((f"v{v.version}", float(w)) for v, w in zip(versions, split, strict=True))
    key = f"{playbook_id}:{uuid.uuid4().hex[:12]}"
    return [
        start_campaign(
            session=session,
            version=version,
            starts_at=starts_at,
            name=shared,
            arm=Arm(key=key, name=arm_name, arms=arms),
            **options,
        )
        for version, (arm_name, _weight) in zip(versions, arms, strict=True)
    ]
