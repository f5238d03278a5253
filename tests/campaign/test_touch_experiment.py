"""A real campaign's touches are the experiments' exposures: the worker evaluates the audience of a step
whose script has variants, records each person's ``sop_touch`` with their variant, and ``sopflow experiment
analyze --campaign ID`` reads them (the same shape the simulator writes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.campaign.worker_support import BASE, FAST, campaign, set_due, task
from tests.events.helpers import event

from sopflow.campaign.worker import run_worker
from sopflow.events.store import EventStore
from sopflow.settings import load_settings
from sopflow.store.database import open_app_database

# greet's audience without the persona filter: persons who came by the fission channel and joined the group
TEXT = BASE.replace(
    "audience: {personas: [office], channels: [fission], reached: join}",
    "audience: {channels: [fission], reached: join}",
)


def test_touches_of_a_campaign_feed_the_experiment(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    settings = load_settings(home=tmp_path / "ws")
    workspace = settings.workspace.ensure()
    now = datetime.now(UTC)
    before = (now - timedelta(days=2)).isoformat()
    rows = []
    for i in range(120):
        user = f"u{i:03d}"
        rows.append(
            event(
                "signup", user, before, channel="fission" if i < 100 else "moments", campaign="camp-fission"
            )
        )
        if i % 5:
            rows.append(event("join_group", user, before, campaign="camp-fission"))
    store = EventStore.open(workspace)
    try:
        store.append_rows(rows)
    finally:
        store.close()
    db = open_app_database(settings)
    try:
        cid = campaign(db, text=TEXT)
        greet = set_due(db, cid, "greet", now - timedelta(minutes=1))
        run_worker(database=db, workspace=workspace, options=FAST)
        done = task(db, greet)
    finally:
        db.close()
    # no endpoint: the task waits for its owner, but its audience was decided at its due time
    assert done.audience_size == 80  # 100 by fission, 4 in 5 of them joined
    assert sorted(done.audience or []) == sorted(f"u{i:03d}" for i in range(100) if i % 5)
    result = run_cli(["tasks", "done", str(greet), "--workspace", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.stderr
    db = open_app_database(settings)
    try:
        run_worker(database=db, workspace=workspace, options=FAST)  # records the touches of the done task
        assert task(db, greet).touched_at is not None
    finally:
        db.close()
    analyzed = run_cli(
        [
            "experiment",
            "analyze",
            "--step",
            "greet",
            "--metric",
            "conversion:pay",
            "--campaign",
            str(cid),
            "--workspace",
            str(tmp_path / "ws"),
            "--json",
        ]
    )
    assert analyzed.exit_code == 0, analyzed.stderr
    data = json.loads(analyzed.stdout)
    arms = {v["variant"]: v["persons"] for v in data["variants"]}
    assert set(arms) == {"control", "b"} and sum(arms.values()) == 80
