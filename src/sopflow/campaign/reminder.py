"""The messages the worker sends: a task's reminder to its owner, the message itself where the campaign
sends a step's channel through an endpoint (``--send CHANNEL=ENDPOINT``), and an overdue task's escalation.

A reminder carries everything the owner needs to act without opening anything else: what to do, on which
channel, by when, for how many people, the rendered script ready to paste (each variant with its share
when the script is being tested), the materials and the checklist.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sopflow.channels.base import Attachment, Message
from sopflow.i18n import _
from sopflow.playbook.model import Playbook
from sopflow.store.runs import Campaign, Staff, Task


def _when(task: Task, zone: ZoneInfo) -> str:
    return f"{task.due_at.astimezone(zone):%Y-%m-%d %H:%M}" if task.due_at else "-"


def _variant_lines(playbook: Playbook, task: Task) -> list[str]:
    script = next((s for s in playbook.scripts if s.id == task.script_id), None)
    if script is None or not script.variants:
        return []
    total = 1.0 + sum(v.weight for v in script.variants)
    lines = [_("Script test: send each person the variant the audience list names for them.")]
    lines.append(f"[control {1.0 / total:.0%}] {task.text}")
    lines += [f"[{v.id} {v.weight / total:.0%}] {v.text}" for v in script.variants]
    return lines


def reminder_message(*, task: Task, campaign: Campaign, owner: Staff, playbook: Playbook) -> Message:
    zone = ZoneInfo(campaign.timezone)
    title = _("[{campaign}] {step}", campaign=campaign.name, step=task.name)
    lines = [
        _("To do: {action}", action=task.action),
        _("Owner: {owner} · channel: {channel}", owner=owner.name, channel=task.channel),
        _("Due: {due}", due=_when(task, zone)),
    ]
    if task.deadline_at is not None:
        lines.append(
            _("Deadline: {deadline}", deadline=f"{task.deadline_at.astimezone(zone):%Y-%m-%d %H:%M}")
        )
    if task.audience_size is not None:
        lines.append(
            _(
                "Audience: {count} person(s) (list: sopflow tasks audience {id})",
                count=task.audience_size,
                id=task.id,
            )
        )
    variants = _variant_lines(playbook, task)
    if variants:
        lines += ["", *variants]
    elif task.text:
        lines += ["", _("Script (ready to paste):"), task.text]
    materials = {m.id: m for m in playbook.materials}
    attachments = tuple(
        Attachment(name=materials[m].name, kind=materials[m].kind, uri=materials[m].uri)
        for m in task.materials
        if m in materials
    )
    if attachments:
        lines += ["", _("Materials:")] + [f"- {a.name}{f' {a.uri}' if a.uri else ''}" for a in attachments]
    if task.checklist:
        lines += ["", _("Checklist:")] + [f"- [ ] {item}" for item in task.checklist]
    lines += ["", _("When done: sopflow tasks done {id}", id=task.id)]
    text = "\n".join(lines)
    markdown = f"**{title}**\n\n" + "\n".join(f"> {line}" if line else "" for line in lines)
    return Message(
        title=title,
        text=text,
        markdown=markdown,
        format="markdown",
        attachments=attachments,
        delivery_id=task.delivery_id,
        metadata={
            "campaign_id": str(campaign.id),
            "campaign": campaign.name,
            "task_id": str(task.id),
            "step": task.step_id,
            "owner": owner.name,
        },
    )


SEND_PREFIX = "channel:"  # campaign.notify key of a channel whose steps are sent, not reminded


def sends_itself(campaign: Campaign, task: Task) -> bool:
    """Whether the task's message goes out itself (the step's channel is sent through an endpoint)."""
    return f"{SEND_PREFIX}{task.channel}" in (campaign.notify or {})


def task_message(*, task: Task, campaign: Campaign, owner: Staff, playbook: Playbook) -> Message:
    """What a delivery of ``task`` carries: the message itself or the reminder to its owner."""
    if sends_itself(campaign, task):
        return outgoing_message(task=task, campaign=campaign, playbook=playbook)
    return reminder_message(task=task, campaign=campaign, owner=owner, playbook=playbook)


def outgoing_message(*, task: Task, campaign: Campaign, playbook: Playbook) -> Message:
    """The step's script as the users read it (in a community group, say), with its materials; no task
    details, no checklist. Per-user placeholders cannot be filled in one message and are refused at start."""
    materials = {m.id: m for m in playbook.materials}
    attachments = tuple(
        Attachment(name=materials[m].name, kind=materials[m].kind, uri=materials[m].uri)
        for m in task.materials
        if m in materials
    )
    links = [a.uri for a in attachments if a.uri]
    text = "\n".join([task.text or task.action, *links])
    return Message(
        title=task.name,
        text=text,
        markdown=text,
        format="text",
        link=links[0] if links else "",
        attachments=attachments,
        delivery_id=task.delivery_id,
        metadata={
            "campaign_id": str(campaign.id),
            "campaign": campaign.name,
            "task_id": str(task.id),
            "step": task.step_id,
            "kind": "message",
        },
    )


def escalation_message(
    *, task: Task, campaign: Campaign, owner: Staff, manager: Staff, count: int
) -> Message:
    zone = ZoneInfo(campaign.timezone)
    title = _("[{campaign}] overdue: {step}", campaign=campaign.name, step=task.name)
    text = "\n".join(
        [
            _(
                "{manager}, the task of {owner} is overdue (reminder {count}):",
                manager=manager.name,
                owner=owner.name,
                count=count,
            ),
            _("To do: {action}", action=task.action),
            _("Due: {due}", due=_when(task, zone)),
            _("Task: sopflow tasks done {id}", id=task.id),
        ]
    )
    return Message(
        title=title,
        text=text,
        markdown=f"**{title}**\n\n{text}",
        format="markdown",
        delivery_id=f"{task.delivery_id}-esc{count}",
        metadata={"campaign_id": str(campaign.id), "task_id": str(task.id), "escalation": str(count)},
    )
