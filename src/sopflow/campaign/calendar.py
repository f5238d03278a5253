"""The team's calendar of a campaign: one iCalendar event per task that has a due time.

- ``DTSTART`` is the due time in UTC (a calendar shows it in each reader's own zone, so a step at D+3 20:00
  Asia/Shanghai stays right across a daylight-saving change wherever the team sits); ``DTEND`` is the
  deadline, or 30 minutes later when the task has none.
- ``UID`` is the task's delivery id, stable for the life of the task, and ``SEQUENCE`` the number of changes
  in its history: importing the file again updates the events (a new due time after a pause, an ``after:``
  step that got its time) instead of adding copies.
- ``ATTENDEE`` is the owner and ``ORGANIZER`` the owner's manager (else the owner), each only when they have
  an email address: RFC 5545 wants an organizer wherever there are attendees.
- A ``VALARM`` 15 minutes before each event; skipped tasks are ``STATUS:CANCELLED``.
"""

from __future__ import annotations

from datetime import UTC, timedelta

from icalendar import Alarm, Calendar, Event, vCalAddress
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopflow.campaign.start import frozen_playbook
from sopflow.campaign.status import find_campaign
from sopflow.i18n import _
from sopflow.playbook.model import Playbook
from sopflow.store.runs import Campaign, PlaybookVersion, Staff, Task, TaskEvent

PRODID = "-//sopflow//campaign calendar//EN"
DEFAULT_LENGTH = timedelta(minutes=30)
ALARM_BEFORE = timedelta(minutes=15)


def campaign_calendar(*, session: Session, campaign_id: int) -> bytes:
    campaign = find_campaign(session=session, campaign_id=campaign_id)
    version = session.get(PlaybookVersion, campaign.playbook_version_id)
    playbook = frozen_playbook(version) if version is not None else None
    tasks = list(
        session.scalars(
            select(Task)
            .where(Task.campaign_id == campaign.id, Task.due_at.is_not(None))
            .order_by(Task.due_at, Task.position)
        )
    )
    staff = {s.id: s for s in session.scalars(select(Staff))}
    counted = session.execute(
        select(TaskEvent.task_id, func.count())
        .join(Task, Task.id == TaskEvent.task_id)
        .where(Task.campaign_id == campaign.id)
        .group_by(TaskEvent.task_id)
    )
    changes: dict[int, int] = {task_id: int(n) for task_id, n in counted}
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", _("{name} · team tasks", name=campaign.name))
    cal.add("x-wr-timezone", campaign.timezone)
    for task in tasks:
        owner = staff.get(task.owner_id)
        manager = staff.get(owner.manager_id) if owner is not None and owner.manager_id else None
        cal.add_component(
            _event(
                task,
                campaign=campaign,
                playbook=playbook,
                owner=owner,
                manager=manager,
                sequence=max(0, changes.get(task.id, 1) - 1),
            )
        )
    return bytes(cal.to_ical())


def _event(
    task: Task,
    *,
    campaign: Campaign,
    playbook: Playbook | None,
    owner: Staff | None,
    manager: Staff | None,
    sequence: int,
) -> Event:
    assert task.due_at is not None
    start = task.due_at.astimezone(UTC)
    end = task.deadline_at.astimezone(UTC) if task.deadline_at is not None else start + DEFAULT_LENGTH
    if end <= start:
        end = start + DEFAULT_LENGTH
    owner_name = owner.name if owner is not None else ""
    summary = _("{step} · {owner}", step=task.name, owner=owner_name)
    event = Event()
    event.add("uid", f"{task.delivery_id}@sopflow")
    event.add("dtstamp", task.updated_at.astimezone(UTC))
    event.add("last-modified", task.updated_at.astimezone(UTC))
    event.add("sequence", sequence)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    event.add("description", description(task, playbook=playbook, owner=owner_name))
    event.add("location", task.channel)
    event.add("categories", [campaign.name])
    event.add("status", "CANCELLED" if task.state == "skipped" else "CONFIRMED")
    if owner is not None and owner.email:
        organizer = manager if manager is not None and manager.email else owner
        event.add("organizer", _address(organizer, role=None))
        event.add("attendee", _address(owner, role="REQ-PARTICIPANT"))
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", summary)
    alarm.add("trigger", -ALARM_BEFORE)
    event.add_component(alarm)
    return event


def _address(person: Staff, *, role: str | None) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["cn"] = person.name
    if role is not None:
        address.params["role"] = role
    return address


def description(task: Task, *, playbook: Playbook | None, owner: str) -> str:
    """What the owner needs at the event: the action, the script ready to paste, materials, checklist."""
    lines = [
        _("To do: {action}", action=task.action),
        _("Owner: {owner} · channel: {channel}", owner=owner, channel=task.channel),
    ]
    if task.audience_size is not None:
        lines.append(_("Audience: {count} person(s)", count=task.audience_size))
    if task.text:
        lines += ["", _("Script (ready to paste):"), task.text]
    materials = {m.id: m for m in playbook.materials} if playbook is not None else {}
    if task.materials:
        lines += ["", _("Materials:")]
        for material_id in task.materials:
            material = materials.get(material_id)
            if material is None:
                lines.append(f"- {material_id}")
            else:
                lines.append(f"- {material.name}{f' {material.uri}' if material.uri else ''}")
    if task.checklist:
        lines += ["", _("Checklist:")] + [f"☐ {item}" for item in task.checklist]
    lines += ["", _("When done: sopflow tasks done {id}", id=task.id)]
    return "\n".join(lines)
