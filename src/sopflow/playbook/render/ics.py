"""The SOP as an iCalendar file for the team's calendars: one event per step at its absolute time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event

from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.playbook.render import words
from sopflow.playbook.render.blocks import SopDocument, StepView

PRODID = "-//sopflow//playbook render//EN"


def event_uid(doc: SopDocument, step: StepView) -> str:
    """Stable across renders, so re-importing an updated SOP updates the events instead of duplicating them."""
    return f"{doc.playbook_id}-{doc.version}-{step.id}@sopflow"


def description(doc: SopDocument, step: StepView) -> str:
    lab = doc.labels
    pairs = [
        ("action", step.action),
        ("owner", step.owner_text),
        ("channel", step.channel),
        ("node", step.node),
    ]
    if step.deadline_node:
        pairs.append(("deadline", words.node_and_time(step.deadline_node, step.due)))
    pairs += [("audience", step.audience), ("exit_when", step.exit_when)]
    lines = [words.labelled(lab[key], text) for key, text in pairs if text]
    if step.script_text:
        lines += ["", words.labelled(lab["script"], step.script_name), step.script_text]
        for name, text in step.variants:
            lines += ["", words.labelled(f"{lab['variant']} {name}", ""), text]
    if step.materials:
        lines += ["", words.labelled(lab["materials"], ""), *(f"- {m.text()}" for m in step.materials)]
    if step.checklist:
        lines += ["", words.labelled(lab["checklist"], ""), *(f"☐ {item}" for item in step.checklist)]
    if step.notes:
        lines += ["", words.labelled(lab["notes"], step.notes)]
    return "\n".join(lines)


def render_ics(doc: SopDocument, *, now: datetime | None = None) -> bytes:
    if doc.start is None:
        raise InvalidInput(
            _("a calendar needs the campaign's start date: add --start YYYY-MM-DD"), code="start_required"
        )
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", doc.title)
    cal.add("x-wr-timezone", doc.timezone)
    for step in doc.steps:
        assert step.starts_at is not None and step.ends_at is not None
        event = Event()
        event.add("uid", event_uid(doc, step))
        event.add("dtstamp", stamp)
        event.add("dtstart", step.starts_at)
        event.add("dtend", step.ends_at)
        event.add("summary", step.name)
        event.add("description", description(doc, step))
        event.add("location", step.channel)
        event.add("categories", [step.phase])
        cal.add_component(event)
    if doc.steps:
        first = min(s.starts_at for s in doc.steps if s.starts_at is not None).date() - timedelta(days=1)
        last = max(s.ends_at for s in doc.steps if s.ends_at is not None).date() + timedelta(days=1)
        cal.add_missing_timezones(first_date=first, last_date=last)
    return bytes(cal.to_ical())
