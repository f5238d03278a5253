"""Policies applied at a task's due time: who it is for (audience, exit), and the frequency cap.

- Audience: :mod:`sopflow.campaign.audience` over the workspace's events up to the due time, through the
  analytics engine (a snapshot refreshed every few seconds, :mod:`.snapshot`). With no events at all the audience is unknown (None)
  and the reminder goes out without a list. A step that filters its audience and finds nobody is skipped
  (there is no one to send it to), with the reason.
- Frequency cap (``policies.frequency_cap`` of the task's playbook): a person already touched
  ``max_touches`` times within ``per``, counting touches of every running campaign (``recipient_touches``),
  is left out of the list and counted in ``task.capped``. When everyone is capped the task is postponed
  to the moment the first person is free again, if that is before its deadline; otherwise skipped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopflow.analytics.experiments.assignment import assign_variant
from sopflow.analytics.frame import Engine
from sopflow.campaign.audience import AudienceSpec, audience_spec, evaluate_audience
from sopflow.campaign.worker.context import Policies
from sopflow.campaign.worker.snapshot import Snapshot
from sopflow.campaign.worker.states import chunks
from sopflow.i18n import _
from sopflow.playbook.timenode import format_duration, parse_duration
from sopflow.store.delivery import RecipientTouch
from sopflow.store.runs import Campaign, Task


@dataclass(frozen=True)
class Decision:
    persons: list[str] | None  # None: unknown (the workspace has no events)
    capped: int
    action: str  # send, skip, postpone
    until: datetime | None = None
    reason: str = ""

    def audience_values(self) -> dict[str, Any]:
        """What the decision records on its task: the audience list, its size and how many were capped."""
        size = None if self.persons is None else len(self.persons)
        return {"audience": self.persons, "audience_size": size, "capped": self.capped}


def _audience(
    snapshot: Snapshot, policies: Policies, task: Task, campaign: Campaign
) -> tuple[list[str] | None, str]:
    engine = snapshot.engine()
    step = next((s for s in policies.playbook.timeline.steps() if s.id == task.step_id), None)
    if engine is None or step is None or task.due_at is None:
        return None, ""
    cutoff = int(task.due_at.timestamp() * 1_000_000)
    spec = audience_spec(playbook=policies.playbook, step=step, campaign_name=campaign.name, cutoff_us=cutoff)
    found = evaluate_audience(engine, spec)
    persons = in_arm(campaign, found.persons)
    if persons:
        return persons, ""
    if found.persons:
        return [], _(
            "nobody of the step's audience is in this arm ({arm}) of the experiment", arm=campaign.arm
        )
    if spec.filtered and _members(engine, spec):
        return [], _(
            "nobody in the step's audience at its due time ({exited} left by its exit condition)",
            exited=found.exited,
        )
    return None, ""  # no campaign members known: the reminder goes out without a list


def in_arm(campaign: Campaign, persons: list[str]) -> list[str]:
    """The persons of ``campaign``'s arm when it runs side by side with other versions (else all)."""
    if campaign.arm is None or campaign.experiment_key is None or not campaign.arms:
        return persons
    weights = [(str(name), float(weight)) for name, weight in campaign.arms]
    key = campaign.experiment_key
    return [p for p in persons if assign_variant(person=p, key=key, weights=weights) == campaign.arm]


def _members(engine: Engine, spec: AudienceSpec) -> int:
    """How many people the campaign has at all (a filter that finds nobody among nobody decides nothing)."""
    everyone = replace(
        spec,
        channels=(),
        reached=None,
        not_reached=None,
        where=(),
        personas=(),
        exit_event=None,
        exit_stage=None,
    )
    return len(evaluate_audience(engine, everyone).persons)


def recent_touches(session: Session, persons: list[str], since: datetime) -> dict[str, list[datetime]]:
    found: dict[str, list[datetime]] = defaultdict(list)
    for part in chunks(persons):
        rows = session.execute(
            select(RecipientTouch.person, RecipientTouch.at)
            .join(Campaign, Campaign.id == RecipientTouch.campaign_id)
            .where(Campaign.status == "running", RecipientTouch.at > since, RecipientTouch.person.in_(part))
        )
        for person, at in rows:
            found[person].append(at)
    return found


def decide(
    session: Session, *, snapshot: Snapshot, policies: Policies, task: Task, campaign: Campaign, now: datetime
) -> Decision:
    persons, why = _audience(snapshot, policies, task, campaign)
    if persons is not None and not persons:
        return Decision([], 0, "skip", reason=why)
    cap = policies.playbook.policies.frequency_cap
    if cap is None or not persons:
        return Decision(persons, 0, "send")
    per = timedelta(seconds=parse_duration(cap.per))
    touches = recent_touches(session, persons, now - per)
    capped = {p for p, times in touches.items() if len(times) >= cap.max_touches}
    if not capped:
        return Decision(persons, 0, "send")
    kept = [p for p in persons if p not in capped]
    if kept:
        return Decision(kept, len(capped), "send")
    # Everyone is capped: the earliest moment one of them falls back under the cap.
    free = min(sorted(touches[p])[len(touches[p]) - cap.max_touches] + per for p in capped)
    limit = task.deadline_at or (task.due_at or now) + timedelta(seconds=campaign.max_late_seconds)
    shown = f"{cap.max_touches}/{format_duration(int(per.total_seconds()))}"
    if free <= limit:
        return Decision(
            persons,
            len(capped),
            "postpone",
            until=free,
            reason=_(
                "postponed: all {count} person(s) reached the frequency cap ({cap}); next free at {at}",
                count=len(capped),
                cap=shown,
                at=f"{free.astimezone(policies.zone):%Y-%m-%d %H:%M}",
            ),
        )
    return Decision(
        [],
        len(capped),
        "skip",
        reason=_(
            "skipped: all {count} person(s) reached the frequency cap ({cap}) until after the deadline",
            count=len(capped),
            cap=shown,
        ),
    )
