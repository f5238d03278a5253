"""Two playbook versions side by side: a campaign per version under one name, each person in exactly one
arm, the arm as the variant of its touches, and ``experiment analyze`` comparing the versions."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from tests.campaign.worker_support import BASE, FAST, set_due, task
from tests.events.helpers import event

from sopflow.analytics.experiments.assignment import assign_variant
from sopflow.campaign.worker import run_worker
from sopflow.events.store import EventStore
from sopflow.settings import load_settings
from sopflow.store.database import open_app_database
from sopflow.store.runs import Campaign

V2 = BASE.replace("action: 发布裂变海报", "action: 发布裂变海报（新版文案）")


def _cli(run_cli: Callable[..., Any], *args: str) -> Any:
    result = run_cli(list(args))
    assert result.exit_code == 0, (args, result.stderr)
    return json.loads(result.stdout) if "--json" in args else result


def test_versions_side_by_side_split_persons_and_feed_the_experiment(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    ws = tmp_path / "ws"
    w = ("--workspace", str(ws))
    v1, v2 = tmp_path / "v1.yaml", tmp_path / "v2.yaml"
    v1.write_text(BASE, encoding="utf-8")
    v2.write_text(V2, encoding="utf-8")
    _cli(run_cli, "playbook", "publish", str(v1), *w)
    _cli(run_cli, "playbook", "publish", str(v2), *w)
    _cli(run_cli, "playbook", "approval", "off", *w)
    _cli(run_cli, "staff", "add", "张经理", "--role", "lead", *w)
    _cli(run_cli, "staff", "add", "小王", "--role", "ops", *w)
    start = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d %H:%M")
    started = _cli(
        run_cli,
        "campaign",
        "start",
        "--playbook",
        "camp-fission@2",
        "--versus",
        "camp-fission@1",
        "--split",
        "1,1",
        "--start",
        start,
        "--json",
        *w,
    )
    arms = [c["campaign"] for c in started["campaigns"]]
    assert arms[0]["name"] == arms[1]["name"]  # one name: the analytics see one campaign
    assert started["experiment"]["arms"] == [["v2", 1.0], ["v1", 1.0]]
    key = started["experiment"]["key"]

    settings = load_settings(home=ws)
    now = datetime.now(UTC)
    users = [f"u{i:03d}" for i in range(200)]
    with EventStore.open(settings.workspace) as store:
        store.append_rows(
            [
                event("signup", u, (now - timedelta(days=1)).isoformat(), campaign="camp-fission")
                for u in users
            ]
        )
    db = open_app_database(settings)
    try:
        posts = [set_due(db, a["id"], "post", now - timedelta(seconds=5)) for a in arms]
        run_worker(database=db, workspace=settings.workspace, options=FAST)
        audiences = [set(task(db, p).audience or []) for p in posts]
        with db.sessions() as session:
            arm_of = {c.id: c.arm for c in session.scalars(select(Campaign))}
    finally:
        db.close()
    assert audiences[0] | audiences[1] == set(users) and not audiences[0] & audiences[1]
    weights = [("v2", 1.0), ("v1", 1.0)]
    for campaign, audience in zip(arms, audiences, strict=True):
        assert all(
            assign_variant(person=u, key=key, weights=weights) == arm_of[campaign["id"]] for u in audience
        )
    for post in posts:
        _cli(run_cli, "tasks", "done", str(post), *w)
    db = open_app_database(settings)
    try:
        run_worker(database=db, workspace=settings.workspace, options=FAST)  # the touches of the done tasks
    finally:
        db.close()
    result = _cli(
        run_cli,
        "experiment",
        "analyze",
        "--step",
        "post",
        "--metric",
        "conversion:pay",
        "--campaign",
        arms[0]["name"],
        "--control",
        "v1",
        "--json",
        *w,
    )
    persons = Counter({v["variant"]: v["persons"] for v in result["variants"]})
    assert persons == Counter({"v1": len(audiences[1]), "v2": len(audiences[0])})


def test_versus_needs_other_versions_of_the_same_playbook(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    ws = tmp_path / "ws"
    w = ("--workspace", str(ws))
    path = tmp_path / "v1.yaml"
    path.write_text(BASE, encoding="utf-8")
    _cli(run_cli, "playbook", "publish", str(path), *w)
    _cli(run_cli, "playbook", "approval", "off", *w)
    _cli(run_cli, "staff", "add", "张经理", "--role", "lead", *w)
    _cli(run_cli, "staff", "add", "小王", "--role", "ops", *w)
    same = run_cli(
        [
            "campaign",
            "start",
            "--playbook",
            "camp-fission@1",
            "--versus",
            "camp-fission@1",
            "--start",
            "now",
            *w,
        ]
    )
    assert same.exit_code == 2 and "--versus" in same.stderr
    path.write_text(V2, encoding="utf-8")
    _cli(run_cli, "playbook", "publish", str(path), *w)
    bad = run_cli(
        [
            "campaign",
            "start",
            "--playbook",
            "camp-fission@2",
            "--versus",
            "camp-fission@1",
            "--split",
            "1,x",
            "--start",
            "now",
            *w,
        ]
    )
    assert bad.exit_code == 2 and "--split" in bad.stderr
    zero = run_cli(
        [
            "campaign",
            "start",
            "--playbook",
            "camp-fission@2",
            "--versus",
            "camp-fission@1",
            "--split",
            "1,0",
            "--start",
            "now",
            *w,
        ]
    )
    assert zero.exit_code == 2 and "--split" in zero.stderr
    assert _cli(run_cli, "campaign", "list", "--json", *w)["campaigns"] == []


def test_arms_follow_the_weights() -> None:
    weights = [("v2", 1.0), ("v1", 3.0)]
    counts = Counter(assign_variant(person=f"p{i}", key="camp:abc", weights=weights) for i in range(4000))
    assert 0.70 < counts["v1"] / 4000 < 0.80
