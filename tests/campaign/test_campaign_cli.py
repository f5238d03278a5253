"""``sopflow campaign …`` and ``sopflow tasks …`` end to end: publish, approve, start, work the tasks."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import CliResult

from sopflow.store.cli import app_session
from sopflow.store.runs import Task

BASE = Path(__file__).resolve().parents[1] / "playbook" / "fixtures" / "base.yaml"
Run = Callable[..., CliResult]


def _ok(run_cli: Run, *args: str, lang: str = "en") -> CliResult:
    result = run_cli(list(args), lang=lang)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result


def _json(run_cli: Run, *args: str) -> dict:  # type: ignore[type-arg]
    return json.loads(_ok(run_cli, *args, "--json").stdout)


@pytest.fixture
def workspace(tmp_path: Path, run_cli: Run) -> Path:
    ws = tmp_path / "ws"
    w = ("--workspace", str(ws))
    _ok(run_cli, "playbook", "publish", str(BASE), *w)
    _ok(run_cli, "staff", "add", "张经理", "--role", "lead", *w)
    _ok(run_cli, "staff", "add", "小王", "--role", "ops", "--manager", "张经理", *w)
    return ws


def test_a_campaign_from_start_to_done(workspace: Path, run_cli: Run) -> None:
    w = ("--workspace", str(workspace))
    refused = run_cli(["campaign", "start", "--playbook", "camp-fission", "--start", "now", *w])
    assert refused.exit_code == 2 and "approve" in refused.stderr
    _ok(run_cli, "playbook", "approve", "camp-fission", "1", "--by", "张经理", *w)
    started = _json(
        run_cli,
        "campaign",
        "start",
        "--playbook",
        "camp-fission@1",
        "--start",
        "2030-01-10 09:00",
        "--by",
        "张经理",
        *w,
    )
    campaign = started["campaign"]
    assert campaign["status"] == "running" and campaign["timezone"] == "Asia/Shanghai"
    assert campaign["assignments"] == {"ops": "小王", "lead": "张经理"}
    steps = {t["step"]: t for t in started["tasks"]}
    assert steps["post"]["due_local"] == "2030-01-07 10:00" and steps["post"]["owner"] == "小王"
    assert steps["greet"]["text"] == "欢迎 {{nickname}} 加入7天写作训练营！"
    assert steps["sell"]["due_at"] is None

    mine = _json(run_cli, "tasks", "--mine", "小王", *w)["tasks"]
    assert [t["step"] for t in mine] == ["post", "greet"]
    greet = steps["greet"]["id"]
    done = _json(run_cli, "tasks", "done", str(greet), "--note", "已欢迎 35 人", "--by", "小王", *w)["task"]
    assert done["state"] == "done" and done["note"] == "已欢迎 35 人"
    shown = _json(run_cli, "tasks", "show", str(steps["sell"]["id"]), *w)["task"]
    assert shown["due_at"] is not None  # a day after greet was done
    assert shown["history"][-1]["reason"].endswith("after greet")
    skipped = _json(run_cli, "tasks", "skip", str(steps["post"]["id"]), "--why", "海报没过审", *w)["task"]
    assert skipped["state"] == "skipped"

    assert _json(run_cli, "campaign", "pause", str(campaign["id"]), *w)["campaign"]["status"] == "paused"
    assert _json(run_cli, "campaign", "resume", str(campaign["id"]), *w)["campaign"]["status"] == "running"
    listed = _json(run_cli, "campaign", "list", *w)["campaigns"]
    assert [c["tasks"] for c in listed] == [{"done": 1, "pending": 1, "skipped": 1}]
    cancelled = _json(run_cli, "campaign", "cancel", str(campaign["id"]), "--why", "test", *w)["campaign"]
    assert cancelled["status"] == "cancelled" and cancelled["tasks"] == {"done": 1, "skipped": 2}
    assert _json(run_cli, "tasks", *w)["tasks"] == []
    assert len(_json(run_cli, "tasks", "--all", *w)["tasks"]) == 3
    audit = [(e["action"], e["actor"]) for e in reversed(_json(run_cli, "audit", *w)["entries"])]
    staff = [e["target_id"] for e in _json(run_cli, "audit", "--action", "staff.*", *w)["entries"]]
    assert sorted(staff) == sorted(["张经理", "小王"])
    runs = [a for a in audit if a[0].startswith(("playbook.", "campaign."))]
    login = runs[0][1]  # no --by: $SOPFLOW_USER or the login name
    assert runs == [
        ("playbook.publish", login),
        ("playbook.approve", "张经理"),
        ("campaign.start", "张经理"),
        ("campaign.pause", login),
        ("campaign.resume", login),
        ("campaign.cancel", login),
    ]


def test_the_audience_list_is_exported_once_known(workspace: Path, run_cli: Run, tmp_path: Path) -> None:
    w = ("--workspace", str(workspace))
    _ok(run_cli, "playbook", "approval", "off", *w)
    started = _json(run_cli, "campaign", "start", "--playbook", "camp-fission", "--start", "now", *w)
    greet = next(t for t in started["tasks"] if t["step"] == "greet")["id"]
    out = tmp_path / "list.csv"
    unknown = run_cli(["tasks", "audience", str(greet), "-o", str(out), *w])
    assert unknown.exit_code == 2 and "not known yet" in unknown.stderr and not out.exists()
    with app_session(workspace) as session:
        task = session.get(Task, greet)
        assert task is not None
        task.audience, task.audience_size = ["u1", "u2", "u3"], 3
    result = _json(run_cli, "tasks", "audience", str(greet), "-o", str(out), "--by", "小王", *w)
    assert result == {"task": greet, "persons": 3, "output": str(out)}
    exported = _json(run_cli, "audit", "--action", "export.*", *w)["entries"]
    assert [(e["actor"], e["target_id"], e["details"]["persons"]) for e in exported] == [
        ("小王", str(greet), 3)
    ]
    with out.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["person"] for r in rows] == ["u1", "u2", "u3"]
    assert {r["variant"] for r in rows} <= {"control", "b"}  # the welcome script is being tested


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["campaign", "start", "--playbook", "nope", "--start", "now"], "nope"),
        (["campaign", "start", "--playbook", "camp-fission@7", "--start", "now"], "7"),
        (
            ["campaign", "start", "--playbook", "camp-fission", "--start", "next tuesday"],
            "--start 'next tuesday'",
        ),
        (
            ["campaign", "start", "--playbook", "camp-fission", "--start", "now", "--tz", "Mars/Base"],
            "Mars/Base",
        ),
        (
            ["campaign", "start", "--playbook", "camp-fission", "--start", "now", "--assign", "ops"],
            "ROLE=NAME",
        ),
        (
            ["campaign", "start", "--playbook", "camp-fission", "--start", "now", "--max-late", "soon"],
            "--max-late",
        ),
        (["campaign", "show", "99"], "no campaign with id 99"),
        (["campaign", "pause", "99"], "no campaign with id 99"),
        (["tasks", "done", "42"], "no task with id 42"),
        (["tasks", "skip", "42", "--why", "x"], "no task with id 42"),
        (["tasks", "--state", "later"], "--state 'later'"),
        (["tasks", "--mine", "nobody"], "'nobody'"),
    ],
)
def test_bad_input_is_named_and_exits_2(workspace: Path, run_cli: Run, args: list[str], message: str) -> None:
    _ok(run_cli, "playbook", "approval", "off", "--workspace", str(workspace))
    result = run_cli([*args, "--workspace", str(workspace)])
    assert result.exit_code == 2, result
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert _json(run_cli, "campaign", "list", "--workspace", str(workspace))["campaigns"] == []


def test_messages_speak_chinese_by_default(workspace: Path, run_cli: Run) -> None:
    result = run_cli(["tasks", "done", "42", "--workspace", str(workspace)], lang="zh_CN")
    assert result.exit_code == 2 and "没有 id 为 42 的任务" in result.stderr
