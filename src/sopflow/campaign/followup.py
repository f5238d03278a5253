"""Who to follow up after a task, and what each step of a campaign reached: the lists and numbers the
console's campaign page exports and shows.

- A task's audience is decided at its due time (:mod:`sopflow.campaign.audience`) and kept with the task;
  the list has one row per person: ``contact`` (the person's id — often a phone number or WeChat id, so
  it is masked for viewers wherever it is shown or exported), the campaign, the step and the task's state.
  A task whose audience was never decided (done by hand before it came due, or still pending) has none.
- Per-step touches and conversions are ``sopflow targets --campaign ID``'s table
  (:func:`sopflow.analytics.targets.campaign_steps.compute_campaign_steps`) over all of the workspace's
  events, read by the embedded engine.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from sopflow.campaign.status import find_campaign
from sopflow.campaign.tasks import get_task
from sopflow.store.runs import Campaign
from sopflow.workspace import Workspace

AUDIENCE_COLUMNS = ("contact", "campaign_id", "campaign", "step", "task_id", "task_state")


def task_audience(*, session: Session, task_id: int) -> list[dict[str, Any]]:
    """One row per person of the task's audience (see :data:`AUDIENCE_COLUMNS`), in the stored order."""
    task = get_task(session=session, task_id=task_id)
    campaign = session.get(Campaign, task.campaign_id)
    assert campaign is not None  # a foreign key
    return [
        {
            "contact": str(person),
            "campaign_id": campaign.id,
            "campaign": campaign.name,
            "step": task.step_id,
            "task_id": task.id,
            "task_state": task.state,
        }
        for person in task.audience or []
    ]


def campaign_steps_report(*, session: Session, workspace: Workspace, campaign_id: int) -> dict[str, Any]:
    """The per-step table (touched → reacted → converted, revenue, per script variant) as its ``--json``
    shape, over all events of ``workspace``. Reads every event: callers off the event loop run it in a
    thread."""
    from sopflow.analytics.engines import open_engine
    from sopflow.analytics.targets.campaign_steps import compute_campaign_steps, load_campaign_run
    from sopflow.analytics.timerange import TimeRange

    campaign = find_campaign(session=session, campaign_id=campaign_id)
    run = load_campaign_run(session=session, campaign_id=campaign.id)
    zone = ZoneInfo(campaign.timezone)
    engine = open_engine("duckdb", workspace=workspace, tz=zone)
    steps = compute_campaign_steps(engine=engine, run=run, time_range=TimeRange(None, None, zone))
    return steps.as_json()
