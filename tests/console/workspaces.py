"""Workspaces for console tests, built with the library before the server starts: a published and approved
playbook with its team, a running campaign whose timeline began yesterday, and simulated events."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from sopflow.campaign.demo import add_demo_team, demo_start_day
from sopflow.campaign.start import start_campaign
from sopflow.campaign.timing import local_to_utc
from sopflow.playbook.catalog import write_template
from sopflow.playbook.loader import load_playbook
from sopflow.playbook.versions import approve_version, publish_text, version_row
from sopflow.settings import load_settings
from sopflow.store.database import open_app_database

TEMPLATE = "community_fission"


def running_campaign(workspace: Path, *, name: str = "Console test campaign") -> int:
    """Publish and approve the template, add its team, start a campaign D0 tomorrow-ish; its id."""
    source = write_template(name=TEMPLATE, output=workspace / "playbook.yaml", force=True)
    playbook = load_playbook(source)
    database = open_app_database(load_settings(home=workspace))
    try:
        with database.session() as session:
            published = publish_text(
                session=session, text=source.read_text("utf-8"), source=str(source), note="", by="test"
            )
            version = published.version
            approve_version(
                session=session, playbook_id=version.playbook_id, version=version.version, by="test"
            )
            add_demo_team(session, playbook)
            zone = ZoneInfo(playbook.meta.timezone)
            start_day = demo_start_day(playbook, datetime.now(zone).date())
            row = version_row(session=session, playbook_id=version.playbook_id, version=version.version)
            campaign = start_campaign(
                session=session,
                version=row,
                starts_at=local_to_utc(datetime.combine(start_day, time(20, 0)), zone),
                name=name,
                by="test",
            )
            return int(campaign.id)
    finally:
        database.close()
