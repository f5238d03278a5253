"""``--send CHANNEL=ENDPOINT``: a step on that channel goes out itself (its script, to everyone in the group)
through the endpoint, instead of a reminder to its owner."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.campaign.runs import add_staff, add_version, database
from tests.campaign.worker_support import BASE, FAST, endpoint, set_due, task, utcnow
from tests.channels.robots import RobotServer

from sopflow.campaign.start import start_campaign
from sopflow.campaign.worker import run_worker
from sopflow.errors import InvalidInput, NotFound
from sopflow.store.delivery import Delivery
from sopflow.workspace import Workspace

# the welcome script without its variant and its per-user placeholder: one message for the whole group
GROUP = BASE.replace(
    """    text: "欢迎 {{nickname}} 加入{{course}}！"
    variants:
      - {id: b, text: "{{nickname}} 你好，今晚 8 点开课", weight: 1}""",
    '''    text: "欢迎新同学加入{{course}}！今晚 8 点开课。"''',
)


@pytest.fixture
def robots() -> Iterator[RobotServer]:
    server = RobotServer()
    try:
        yield server
    finally:
        server.stop()


def test_a_group_step_is_sent_itself_and_the_others_remind_their_owner(
    database_url: str, tmp_path: Path, robots: RobotServer
) -> None:
    assert GROUP != BASE
    with database(database_url) as db:
        endpoint(db, "group-robot", "wecom_robot", robots.wecom_url("group"))
        endpoint(db, "ops-robot", "wecom_robot", robots.wecom_url("ops"))
        with db.session() as session:
            version = add_version(session, GROUP)
            add_staff(session, "张经理", "lead")
            add_staff(session, "小王", "ops")
            campaign = start_campaign(
                session=session,
                version=version,
                starts_at=utcnow() + timedelta(days=30),
                notify={"*": "ops-robot"},
                send={"community_group": "group-robot"},
            )
            session.flush()
            cid = campaign.id
            assert campaign.notify == {"*": "ops-robot", "channel:community_group": "group-robot"}
        greet = set_due(db, cid, "greet", utcnow() - timedelta(seconds=5))
        post = set_due(db, cid, "post", utcnow() - timedelta(seconds=5))
        report = run_worker(database=db, workspace=Workspace(tmp_path / "ws"), options=FAST)
        assert report.counts["sent"] == 2
        assert task(db, greet).state == task(db, post).state == "sent"
        bodies = [
            b["text"]["content"] if "text" in b else b["markdown"]["content"] for b in robots.bodies("wecom")
        ]
        group = [b for b in bodies if "欢迎新同学" in b]
        assert group == ["欢迎新同学加入7天写作训练营！今晚 8 点开课。"]  # the script itself, nothing else
        reminder = [b for b in bodies if "发布裂变海报" in b]
        assert len(reminder) == 1 and "sopflow tasks done" in reminder[0]
        with db.sessions() as session:
            purposes = {d.task_id: d.purpose for d in session.scalars(select(Delivery))}
        assert purposes == {greet: "message", post: "reminder"}


def test_personal_scripts_and_unknown_names_are_refused(database_url: str) -> None:
    with database(database_url) as db, db.session() as session:
        version = add_version(session, BASE)
        add_staff(session, "张经理", "lead")
        add_staff(session, "小王", "ops")
        from sopflow.channels.endpoints import add_endpoint

        add_endpoint(
            session=session,
            name="robot",
            kind="wecom_robot",
            url="http://127.0.0.1:9/cgi-bin/webhook/send?key=k",
        )
        with pytest.raises(InvalidInput, match="greet's script welcome is personal"):
            start_campaign(
                session=session, version=version, starts_at=utcnow(), send={"community_group": "robot"}
            )
        with pytest.raises(InvalidInput, match="'telegram'"):
            start_campaign(session=session, version=version, starts_at=utcnow(), send={"telegram": "robot"})
        with pytest.raises(NotFound, match="'nope'"):
            start_campaign(session=session, version=version, starts_at=utcnow(), send={"moments": "nope"})
