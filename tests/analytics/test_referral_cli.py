"""``sopflow referral`` end to end on a small workspace (embedded engine), with and without a playbook."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.events.helpers import event, identify

from sopflow.events.store import EventStore
from sopflow.workspace import Workspace

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "sopflow" / "playbook" / "templates"
PLAYBOOK = TEMPLATES / "moments_7day.yaml"  # inviters stage: order_paid where product = 21天减脂营
CAMP = {"product": "21天减脂营"}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    with EventStore.open(Workspace.resolve(root)) as store:
        store.append_rows(
            [
                event("add_friend", "anon-a", "2024-03-04 08:00"),
                identify("a", "anon-a", "2024-03-04 09:00"),
                event("order_paid", "a", "2024-03-04 10:00", revenue=399, properties=CAMP),
                # b names a by a's anonymous id; b paid
                event("add_friend", "b", "2024-03-05 10:00", inviter_id="anon-a"),
                event(
                    "order_paid", "b", "2024-03-06 10:00", inviter_id="anon-a", revenue=399, properties=CAMP
                ),
                event("add_friend", "c", "2024-03-06 10:00", inviter_id="a"),
                event("order_paid", "c", "2024-03-07 10:00", revenue=99, properties={"product": "书"}),
                event("add_friend", "d", "2024-03-08 10:00", inviter_id="b"),
                event("add_friend", "e", "2024-03-08 10:00", inviter_id="e"),  # self-invite
                event("add_friend", "f", "2024-03-09 10:00", inviter_id="never-seen"),
            ]
        )
    return root


def test_json_without_playbook(run_cli: Callable[..., Any], workspace: Path) -> None:
    result = run_cli(["referral", "--workspace", str(workspace), "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["persons"], data["invitees"], data["inviters"], data["unknown_inviters"]) == (6, 4, 3, 1)
    assert data["self_invites"] == 1 and data["cycles_broken"] == 0
    assert data["could_invite"]["rule"] == "all_persons"
    assert data["k_factor"] == pytest.approx(4 / 6)
    assert data["max_depth"] == 2
    assert data["plan"] is None
    # a → b: 2024-03-04 08:00 → 03-05 10:00 (26 h); a → c: 50 h; b → d: 72 h
    assert data["viral_cycle"] == {"median_seconds": 50 * 3600.0, "pairs": 3}
    top = data["top_sharers"][0]
    assert (top["person"], top["invitees"], top["invitees_paid"], top["invitees_revenue"]) == (
        "a",
        2,
        2,
        498.0,
    )


def test_playbook_stage_plan_and_tree(run_cli: Callable[..., Any], workspace: Path, tmp_path: Path) -> None:
    tree = tmp_path / "out" / "tree.json"
    result = run_cli(
        [
            "referral",
            "--workspace",
            str(workspace),
            "--playbook",
            str(PLAYBOOK),
            "--tree",
            str(tree),
            "--json",
        ]
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["could_invite"] == {
        "rule": "inviters_stage",
        "stage": "order",
        "event": "order_paid",
        "persons": 2,
    }
    assert data["k_factor"] == 2.0
    assert data["plan"]["playbook"] == "moments-7day-fitness"
    assert data["plan"]["k_per_generation"] == [0.4, 0.4]
    assert [g["plan_k"] for g in data["generations"]] == [0.4, 0.4, 0.0]
    rows = json.loads(tree.read_text(encoding="utf-8"))
    # by generation, then arrival (unknown inviters last), then id
    assert [(r["person"], r["inviter"], r["generation"]) for r in rows] == [
        ("a", None, 0), ("never-seen", None, 0), ("b", "a", 1), ("c", "a", 1), ("f", "never-seen", 1),
        ("d", "b", 2),
    ]  # fmt: skip
    assert rows[1]["first_ts"] is None


def test_tables_for_people(run_cli: Callable[..., Any], workspace: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree.csv"
    english = run_cli(["referral", "--workspace", str(workspace), "--tree", str(tree)])
    assert english.exit_code == 0, english.stderr
    assert "K-factor" in english.stdout and "every person" in english.stdout
    assert "Wrote 6 rows" in english.stdout
    assert tree.read_text(encoding="utf-8-sig").startswith("person,inviter,generation,first_ts\n")
    chinese = run_cli(["referral", "--workspace", str(workspace), "--playbook", str(PLAYBOOK)], lang="zh_CN")
    assert chinese.exit_code == 0, chinese.stderr
    assert "裂变" in chinese.stdout and "邀请" in chinese.stdout


def test_bad_inputs(run_cli: Callable[..., Any], workspace: Path, tmp_path: Path) -> None:
    bad_tree = run_cli(["referral", "--workspace", str(workspace), "--tree", str(tmp_path / "t.xlsx")])
    assert bad_tree.exit_code == 2 and ".csv" in bad_tree.stderr
    assert not (tmp_path / "t.xlsx").exists()
    missing = run_cli(["referral", "--workspace", str(workspace), "--playbook", str(tmp_path / "none.yaml")])
    assert missing.exit_code != 0 and "Traceback" not in missing.stderr
    top = run_cli(["referral", "--workspace", str(workspace), "--top", "0"])
    assert top.exit_code == 2 and "--top" in top.stderr
