"""The demo's campaign run: the playbook published and approved, its team added, a campaign started whose
reminders go to a webhook receiver on 127.0.0.1, the worker run over what has come due, and the status.

The campaign is placed so that its timeline's first day was yesterday: the worker then delivers that
day's tasks and today's so far (``max_late`` is two days, so none is missed), and the later ones wait.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from sqlalchemy.orm import Session

from sopflow.campaign.staff import add_staff
from sopflow.campaign.start import start_campaign
from sopflow.campaign.status import campaign_status
from sopflow.campaign.status_view import print_status
from sopflow.campaign.timing import local_to_utc
from sopflow.campaign.worker.context import WorkerOptions
from sopflow.campaign.worker.loop import run_worker
from sopflow.channels.endpoints import add_endpoint
from sopflow.channels.receivers.webhook_receiver import start_receiver
from sopflow.i18n import _
from sopflow.playbook.model import Playbook
from sopflow.playbook.schedule import schedule
from sopflow.playbook.timenode import DAY
from sopflow.playbook.versions import approve_version, publish_text, version_row
from sopflow.settings import load_settings
from sopflow.store.database import open_app_database
from sopflow.store.runs import Campaign
from sopflow.workspace import Workspace

DEMO_ENDPOINT = "demo-webhook"
MAX_LATE = 2 * DAY


def demo_start_day(playbook: Playbook, today: date) -> date:
    """D0's date such that the timeline's first step falls on the day before ``today``."""
    first_day = min(row.offset for row in schedule(playbook)) // DAY
    return today - timedelta(days=1 + first_day)


def add_demo_team(session: Session, playbook: Playbook) -> None:
    """One person per role (the first the playbook names); managers from the roles' ``escalate_to``."""
    people = {role.id: (role.people[0] if role.people else role.name) for role in playbook.team.roles}
    escalate = {role.id: role.escalate_to for role in playbook.team.roles}
    ordered = sorted(people, key=lambda r: escalate.get(r) is not None)  # managers first
    for role_id in ordered:
        boss = escalate.get(role_id)
        manager = people.get(boss) if boss and boss != role_id else None
        add_staff(session=session, name=people[role_id], role=role_id, manager=manager)


def _start(
    session: Session, *, playbook: Playbook, text: str, source: Path, url: str, secret: str
) -> Campaign:
    published = publish_text(session=session, text=text, source=str(source), note="demo", by="demo")
    version = published.version
    approve_version(session=session, playbook_id=version.playbook_id, version=version.version, by="demo")
    add_demo_team(session, playbook)
    add_endpoint(session=session, name=DEMO_ENDPOINT, kind="webhook", url=url, secret=secret)
    zone = ZoneInfo(playbook.meta.timezone)
    start_day = demo_start_day(playbook, datetime.now(zone).date())
    row = version_row(session=session, playbook_id=version.playbook_id, version=version.version)
    return start_campaign(
        session=session,
        version=row,
        starts_at=local_to_utc(datetime.combine(start_day, time(20, 0)), zone),
        name=_("{name} (demo run)", name=playbook.meta.name),
        notify={"*": DEMO_ENDPOINT},
        max_late=MAX_LATE,
        by="demo",
    )


def run_demo_campaign(*, console: Console, playbook: Playbook, source: Path, workspace: Workspace) -> int:
    """Start the demo campaign, deliver what is due, print its status; returns the campaign id."""
    secret = secrets.token_hex(16)
    database = open_app_database(load_settings(home=workspace.root))
    receiver = start_receiver(secret=secret, log=workspace.root / "demo-receiver.jsonl")
    try:
        with database.session() as session:
            campaign = _start(
                session,
                playbook=playbook,
                text=source.read_text(encoding="utf-8"),
                source=source,
                url=receiver.url,
                secret=secret,
            )
            session.flush()
            campaign_id, name = campaign.id, campaign.name
        console.print(
            _(
                "Campaign {id} started: {name}; reminders go to the webhook receiver at {url}",
                id=campaign_id,
                name=name,
                url=receiver.url,
            )
        )
        console.print(
            _(
                "Its timeline began yesterday and no worker has run since: the worker now delivers what came "
                "due (none is older than max_late, {hours} h); those past their deadline count as late in the on-time rate.",
                hours=MAX_LATE // 3600,
            )
        )
        report = run_worker(
            database=database, workspace=workspace, options=WorkerOptions(once=True, concurrency=4)
        )
        console.print(
            _(
                "Worker: {sent} reminder(s) delivered, {touched} touch(es) recorded; the receiver got {received}.",
                sent=report.counts["sent"],
                touched=report.counts["touched"],
                received=len(receiver.received()),
            )
        )
        with database.session() as session:
            status = campaign_status(session=session, campaign_id=campaign_id, now=datetime.now(UTC))
        print_status(status, console)
    finally:
        receiver.stop()
        database.close()
    return campaign_id
