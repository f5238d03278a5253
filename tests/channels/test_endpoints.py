"""Endpoints as a service (both database backends) and ``sopflow endpoints``: secrets never shown."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from sopflow.channels.endpoints import (
    EndpointRefused,
    add_endpoint,
    disable_endpoint,
    endpoint_config,
    get_endpoint,
    list_endpoints,
    remove_endpoint,
    send_test_message,
)
from sopflow.channels.receivers import Receiver, start_receiver
from sopflow.channels.registry import check_endpoint
from sopflow.errors import InvalidInput, NotFound
from sopflow.store.database import open_database

Run = Callable[..., Any]
SECRET = "whsec-9b1f7e55c0d2"
WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7aaa-4bc4-97a0-0ec2sifa5aaa"


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    database = open_database(database_url)
    try:
        with database.session() as s:
            yield s
    finally:
        database.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with start_receiver(secret=SECRET) as running:
        yield running


def test_add_list_get_disable_remove(session: Session) -> None:
    added = add_endpoint(session=session, name="ops-group", kind="wecom_robot", url=WECOM)
    add_endpoint(session=session, name="hook", kind="webhook", url="https://example.com/h", secret=SECRET)
    assert added.url == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=69…aa"
    assert [(e.name, e.has_secret, e.active) for e in list_endpoints(session=session)] == [
        ("hook", True, True),
        ("ops-group", False, True),
    ]
    assert SECRET not in json.dumps([e.as_json() for e in list_endpoints(session=session)])
    assert endpoint_config(session=session, name="hook").secret == SECRET
    assert disable_endpoint(session=session, name="hook").active is False
    assert [e.name for e in list_endpoints(session=session, include_inactive=False)] == ["ops-group"]
    removed, deleted = remove_endpoint(session=session, name="ops-group")
    assert deleted and removed.name == "ops-group"
    with pytest.raises(NotFound, match="no endpoint named 'ops-group'; endpoints: hook"):
        get_endpoint(session=session, name="ops-group")


def test_a_duplicate_name_is_refused(session: Session) -> None:
    add_endpoint(session=session, name="ops", kind="wecom_robot", url=WECOM)
    with pytest.raises(InvalidInput, match="already exists"):
        add_endpoint(session=session, name="ops", kind="webhook", url="https://example.com")


@pytest.mark.parametrize(
    ("kind", "url", "secret", "options", "field"),
    [
        ("sms", "https://x", None, {}, "--kind"),
        ("wecom_robot", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", None, {}, "--url"),
        ("wecom_robot", WECOM, "s3cret", {}, "--secret"),
        ("wecom_robot", WECOM, None, {"color": "red"}, "--option color"),
        ("feishu_bot", "https://open.feishu.cn/open-apis/bot/v2/hook/", None, {}, "--url"),
        ("dingtalk_robot", "https://oapi.dingtalk.com/robot/send", None, {}, "--url"),
        ("dingtalk_robot", "https://oapi.dingtalk.com/robot/send?access_token=t&sign=x", None, {}, "--url"),
        ("email", "smtp://[", None, {}, "--url"),
        ("email", "https://smtp.example.com", None, {}, "--url"),
        ("email", "smtp://smtp.example.com:587", None, {}, "from"),
        ("email", "smtp://smtp.example.com:587?from=not-an-address", None, {}, "from"),
        ("email", "smtp://u@smtp.example.com:587?from=a@example.com", None, {}, "--secret"),
        ("email", "smtp://u:pw@smtp.example.com:587?from=a@example.com", "pw", {}, "--url"),
        ("email", "smtp://u@smtp.example.com:587?from=a@example.com&starttls=0", "pw", {}, "starttls"),
        ("email", "smtp://smtp.example.com:587?from=a@example.com", None, {"to": "x"}, "to"),
        ("webhook", "ftp://example.com", None, {}, "--url"),
    ],
)
def test_check_endpoint_names_the_field(
    kind: str, url: str, secret: str | None, options: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        check_endpoint(kind, url, secret, options)
    assert info.value.message.startswith(f"{field}: ")


def test_valid_endpoints_pass() -> None:
    check_endpoint("wecom_robot", WECOM, None, {})
    check_endpoint("feishu_bot", "https://open.feishu.cn/open-apis/bot/v2/hook/abc", "s", {})
    check_endpoint("dingtalk_robot", "https://oapi.dingtalk.com/robot/send?access_token=t", "SECx", {})
    check_endpoint("email", "smtp://u@smtp.example.com:587?from=a@example.com", "pw", {"to": "b@example.com"})
    check_endpoint("email", "smtps://smtp.example.com?from=a@example.com", None, {})
    check_endpoint("webhook", "http://127.0.0.1:8080/hook", None, {})


def test_send_test_message_and_a_refusal(session: Session, receiver: Receiver) -> None:
    add_endpoint(session=session, name="hook", kind="webhook", url=receiver.url, secret=SECRET)
    result = send_test_message(session=session, name="hook")
    assert "HTTP 200" in result.response
    (got,) = receiver.received()
    assert got.body["metadata"] == {"purpose": "test"} and got.delivery_id.startswith("test-")
    add_endpoint(session=session, name="bad", kind="webhook", url=receiver.url, secret="wrong-secret-1")
    with pytest.raises(
        EndpointRefused, match=r"endpoint bad \(webhook\) refused the test message: .*401"
    ) as info:
        send_test_message(session=session, name="bad")
    assert "wrong-secret-1" not in info.value.message and info.value.exit_code == 2


# ---- the CLI ------------------------------------------------------------------------------------------


def test_cli_add_list_test_remove_never_shows_the_secret(
    run_cli: Run,
    tmp_path: Path,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("SOPFLOW_DATABASE_URL", raising=False)
    ws = str(tmp_path / "ws")
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    added = run_cli(
        [
            "endpoints",
            "add",
            "team-hook",
            "--kind",
            "webhook",
            "--url",
            receiver.url,
            "--secret",
            "-",
            "--workspace",
            ws,
            "--json",
        ]
    )
    assert added.exit_code == 0, added.stderr
    record = json.loads(added.stdout)
    assert set(record) == {"id", "name", "kind", "url", "has_secret", "options", "active", "created_at"}
    assert record["has_secret"] is True
    run_cli(["endpoints", "add", "ops", "--kind", "wecom_robot", "--url", WECOM, "--workspace", ws])
    outputs = [added]
    listed = run_cli(["endpoints", "list", "--workspace", ws, "--json"])
    outputs.append(listed)
    assert [e["name"] for e in json.loads(listed.stdout)["endpoints"]] == ["ops", "team-hook"]
    table = run_cli(["endpoints", "list", "--workspace", ws], lang="zh_CN")
    outputs.append(table)
    assert "key=69…aa" in table.stdout and "693a91f6" not in table.stdout
    tested = run_cli(["endpoints", "test", "team-hook", "--workspace", ws, "--json"])
    outputs.append(tested)
    assert tested.exit_code == 0 and json.loads(tested.stdout)["ok"] is True
    assert len(receiver.received()) == 1
    removed = run_cli(["endpoints", "remove", "team-hook", "--workspace", ws, "--json"])
    assert json.loads(removed.stdout)["deleted"] is True
    everything = "".join(o.stdout + o.stderr for o in outputs) + caplog.text
    assert SECRET not in everything and "0ec2sifa5aaa" not in everything


def test_cli_errors_are_clean_and_exit_2(
    run_cli: Run, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOPFLOW_DATABASE_URL", raising=False)
    ws = str(tmp_path / "ws")
    bad = run_cli(
        [
            "endpoints",
            "add",
            "x",
            "--kind",
            "wecom_robot",
            "--url",
            "https://qyapi.weixin.qq.com/x",
            "--workspace",
            ws,
        ]
    )
    assert bad.exit_code == 2 and bad.stderr.startswith("--url: a WeCom robot URL carries its key=")
    opt = run_cli(
        [
            "endpoints",
            "add",
            "x",
            "--kind",
            "webhook",
            "--url",
            receiver.url,
            "--option",
            "oops",
            "--workspace",
            ws,
        ]
    )
    assert opt.exit_code == 2 and "--option 'oops': expected KEY=VALUE" in opt.stderr
    missing = run_cli(["endpoints", "test", "nope", "--workspace", ws], lang="zh_CN")
    assert missing.exit_code == 2 and "nope" in missing.stderr and "Traceback" not in missing.stderr
    run_cli(
        [
            "endpoints",
            "add",
            "down",
            "--kind",
            "webhook",
            "--url",
            "http://127.0.0.1:9/hook",
            "--secret",
            SECRET,
            "--workspace",
            ws,
        ]
    )
    refused = run_cli(["endpoints", "test", "down", "--workspace", ws])
    assert refused.exit_code == 2 and "endpoint down (webhook) refused the test message" in refused.stderr
    assert SECRET not in refused.stderr
    empty = run_cli(["endpoints", "list", "--workspace", str(tmp_path / "empty")])
    assert "No endpoints yet" in empty.stdout


def test_an_endpoint_with_delivery_history_is_disabled_not_deleted(session: Session) -> None:
    from datetime import UTC, datetime

    from sopflow.store.delivery import Delivery, Endpoint
    from sopflow.store.runs import Campaign, PlaybookVersion, Staff, Task

    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    add_endpoint(session=session, name="ops", kind="wecom_robot", url=WECOM)
    endpoint_id = session.query(Endpoint).one().id
    version = PlaybookVersion(
        playbook_id="camp",
        version=1,
        name="camp",
        declared_version="1",
        content="x",
        content_hash="h",
        published_at=now,
    )
    staff = Staff(name="王", role="ops", created_at=now)
    session.add_all([version, staff])
    session.flush()
    campaign = Campaign(
        name="c",
        playbook_version_id=version.id,
        playbook_id="camp",
        version=1,
        timezone="Asia/Shanghai",
        starts_at=now,
        day_zero=now,
        status="running",
        created_at=now,
    )
    session.add(campaign)
    session.flush()
    task = Task(
        campaign_id=campaign.id,
        step_id="s1",
        phase_id="p1",
        position=1,
        name="s1",
        role="ops",
        owner_id=staff.id,
        channel="group",
        action="post",
        state="sent",
        delivery_id="d-1",
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    session.flush()
    session.add(
        Delivery(
            task_id=task.id,
            endpoint_id=endpoint_id,
            purpose="reminder",
            delivery_id="d-1",
            attempt=1,
            worker="w",
            status="sent",
            started_at=now,
        )
    )
    session.flush()
    endpoint, deleted = remove_endpoint(session=session, name="ops")
    assert deleted is False and endpoint.active is False
    assert get_endpoint(session=session, name="ops").active is False
