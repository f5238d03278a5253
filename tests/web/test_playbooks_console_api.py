"""What the console's Playbooks section reads and writes through the API: validation without storing, the
templates, a version's YAML, schedule and estimate, the diff of two versions, and the approval setting."""

from __future__ import annotations

from typing import Any

from sopflow.accounts.audit import list_audit
from sopflow.playbook.catalog import template_names
from sopflow.web.api.playbook_views import schedule_json, validation
from sopflow.web.console.playbooks.charts import gantt_options

from .console_api import PLAYBOOK, Console, assert_error, console

__all__ = ["console"]

BROKEN = PLAYBOOK.replace("  roles: [{id: ops, name: 运营}]", "  roles: [{id: ops, name: 运营, colour: red}]")


def _published(c: Console, *texts: str) -> Console:
    c.login("op")
    for text in texts:
        c.ok(c.post("/api/v1/playbooks", {"yaml": text}), 201)
    return c


def _versions(c: Console) -> list[dict[str, Any]]:
    return list(c.ok(c.get("/api/v1/playbooks")).get("playbooks", []))


def test_validate_reports_problems_at_their_lines_and_stores_nothing(console: Console) -> None:
    c = console.login("guest")  # validating changes nothing, so viewers may do it too
    good = c.ok(c.post("/api/v1/playbooks/validate", {"yaml": PLAYBOOK}))
    assert good == {
        "valid": True,
        "playbook": {"id": "course", "name": "训练营", "version": "1.0"},
        "problems": [],
    }
    bad = c.ok(c.post("/api/v1/playbooks/validate", {"yaml": BROKEN}))
    assert bad["valid"] is False and bad["playbook"] is None
    [problem] = bad["problems"]
    assert (problem["line"], problem["code"], problem["path"]) == (4, "unknown_field", "team.roles[0].colour")
    assert problem["text"].startswith(f"playbook.yaml:4:{problem['col']}: ")
    assert "colour" in problem["message"]
    # A YAML syntax error (bad indentation) is one problem at its line too.
    lines = PLAYBOOK.splitlines()
    lines[2] = " " + lines[2]
    syntax = c.ok(c.post("/api/v1/playbooks/validate", {"yaml": "\n".join(lines)}))
    assert syntax["valid"] is False
    assert [p["line"] for p in syntax["problems"]] == [3]
    assert _versions(c) == []


def test_validate_refuses_a_body_without_yaml_or_without_csrf(console: Console) -> None:
    c = console.login("op")
    assert_error(c.post("/api/v1/playbooks/validate", {"text": PLAYBOOK}), 422, "invalid_input")
    assert_error(c.post("/api/v1/playbooks/validate", {"yaml": PLAYBOOK}, csrf=False), 403, "csrf_missing")
    empty = c.ok(c.post("/api/v1/playbooks/validate", {"yaml": ""}))
    assert empty["valid"] is False and empty["problems"][0]["code"] == "empty"


def test_templates_are_listed_and_each_one_validates(console: Console) -> None:
    c = console.login("guest")
    listed = c.ok(c.get("/api/v1/playbooks/templates"))["templates"]
    assert [t["name"] for t in listed] == template_names()
    assert all(t["title"] and set(t) == {"name", "title", "summary", "tags"} for t in listed)
    one = c.ok(c.get(f"/api/v1/playbooks/templates/{listed[0]['name']}.yaml"))
    assert one["name"] == listed[0]["name"]
    assert c.ok(c.post("/api/v1/playbooks/validate", {"yaml": one["yaml"]}))["valid"] is True
    error = assert_error(c.get("/api/v1/playbooks/templates/nope"), 404, "unknown_template")
    assert listed[0]["name"] in error["message"]


def test_a_version_answers_its_yaml_schedule_and_estimate(console: Console) -> None:
    c = _published(console, PLAYBOOK)
    version = c.ok(c.get("/api/v1/playbooks/course/versions/1"))
    assert version["yaml"] == PLAYBOOK and version["ref"] == "course@1" and version["approved"] is False
    timeline = c.ok(c.get("/api/v1/playbooks/course/versions/v1/schedule"))
    assert [(s["step"], s["start"], s["at"]) for s in timeline["steps"]] == [
        ("s1", 36000, "D0 10:00"),
        ("s2", 72000, "D0 20:00"),
    ]
    assert timeline["span"] == {"start": -86400 + 9 * 3600, "end": 86400 + 21 * 3600}
    plan = c.ok(c.get("/api/v1/playbooks/course/versions/1/estimate"))
    # 10 posters × 100 reach × 0.1 entry = 100 participants; 10 % pay 99 each; the channel costs 200.
    assert plan["totals"]["new_users"] == 100
    assert plan["totals"]["revenue"] == 990 and plan["totals"]["cost"] == 200
    assert plan["simulations"] is None
    banded = c.ok(c.get("/api/v1/playbooks/course/versions/1/estimate", simulations=500, seed=7))
    band = banded["simulations"]["metrics"]["new_users"]
    assert banded["simulations"]["n"] == 500
    assert band["p10"] <= 100 <= band["p90"] and band["p10"] < band["p90"]
    again = c.ok(c.get("/api/v1/playbooks/course/versions/1/estimate", simulations=500, seed=7))
    assert again["simulations"] == banded["simulations"]  # the same seed gives the same bands


def test_bad_version_references_name_the_problem(console: Console) -> None:
    c = _published(console, PLAYBOOK)
    assert_error(c.get("/api/v1/playbooks/course/versions/9"), 404, "unknown_version")
    assert_error(c.get("/api/v1/playbooks/ghost/versions/1/schedule"), 404, "unknown_playbook")
    assert_error(c.get("/api/v1/playbooks/course/versions/x/estimate"), 422, "invalid_version")
    too_many = c.get("/api/v1/playbooks/course/versions/1/estimate", simulations=10**9)
    assert assert_error(too_many, 422, "invalid_input")["field"] == "query.simulations"
    assert_error(c.get("/api/v1/playbooks/course/diff", to="1"), 422, "invalid_input")
    assert_error(c.get("/api/v1/playbooks/course/diff", **{"from": "1", "to": "0"}), 422, "invalid_version")


def test_the_diff_of_two_versions_shows_the_yaml_and_the_numbers(console: Console) -> None:
    changed = PLAYBOOK.replace("expected_rate: 0.1, value: 99", "expected_rate: 0.2, value: 99")
    c = _published(console, PLAYBOOK, changed)
    diff = c.ok(c.get("/api/v1/playbooks/course/diff", **{"from": "1", "to": "v2"}))
    assert diff["same_content"] is False
    assert "-    - {id: pay, name: 付费, event: pay, aarrr: revenue, expected_rate: 0.1" in diff["yaml_diff"]
    assert "+    - {id: pay, name: 付费, event: pay, aarrr: revenue, expected_rate: 0.2" in diff["yaml_diff"]
    revenue = next(n for n in diff["numbers"] if n["metric"] == "revenue")
    assert (revenue["from"], revenue["to"], revenue["change"]) == (990, 1980, 990)


def test_only_admins_change_the_approval_setting_and_it_is_audited(console: Console) -> None:
    c = console.login("op")
    assert c.ok(c.get("/api/v1/playbooks/approval")) == {"required": True}
    assert_error(c.client.put("/api/v1/playbooks/approval", json={"required": False}), 403, "csrf_missing")
    for name in ("op", "guest"):
        c.login(name)
        response = c.client.put(
            "/api/v1/playbooks/approval", json={"required": False}, headers={"X-CSRF-Token": c.csrf}
        )
        assert_error(response, 403, "forbidden")
    c.login("boss")
    headers = {"X-CSRF-Token": c.csrf}
    bad = c.client.put("/api/v1/playbooks/approval", json={"required": "maybe"}, headers=headers)
    assert_error(bad, 422, "invalid_input")
    assert c.ok(c.get("/api/v1/playbooks/approval")) == {"required": True}
    answer = c.client.put("/api/v1/playbooks/approval", json={"required": False}, headers=headers)
    assert c.ok(answer) == {"required": False, "before": True}
    assert c.ok(c.get("/api/v1/playbooks/approval")) == {"required": False}
    with c.services.database.session() as session:
        entries = [e.as_json() for e in list_audit(session=session, limit=50)]
    [entry] = [e for e in entries if e["action"] == "workspace.setting"]
    assert entry["actor"] == "boss" and entry["target_id"] == "campaign.require_approval"
    assert entry["details"] == {"before": True, "after": False}


def test_a_viewer_can_neither_publish_nor_approve(console: Console) -> None:
    c = _published(console, PLAYBOOK)
    c.login("guest")
    assert_error(c.post("/api/v1/playbooks", {"yaml": PLAYBOOK.replace('"1.0"', '"1.1"')}), 403, "forbidden")
    assert_error(c.post("/api/v1/playbooks/course/versions/1/approve"), 403, "forbidden")
    c.login("op")
    assert_error(c.post("/api/v1/playbooks/course/versions/1/approve"), 403, "forbidden")
    [summary] = _versions(c)
    assert (summary["versions"], summary["latest_approved"]) == (1, None)


def test_the_gantt_chart_puts_each_step_on_its_row_from_its_time_to_its_deadline() -> None:
    playbook, _view = validation(PLAYBOOK.replace("action: 再发一条}", "action: 再发一条, deadline: 2h}"))
    assert playbook is not None
    options = gantt_options(schedule_json(playbook))
    # The first step is drawn on top: rows are listed bottom-up, as ECharts' category axis counts them.
    assert options["yAxis"]["data"] == ["D0 20:00 提醒", "D0 10:00 发圈"]
    assert [item["value"][:3] for item in options["series"][0]["data"]] == [[0, 20.0, 22.0], [1, 10.0, 10.0]]
    # The axis spans the timeline (D-1 09:00 … D+1 21:00) in whole days aligned on D0.
    assert (options["xAxis"]["min"], options["xAxis"]["max"], options["xAxis"]["interval"]) == (-24, 48, 24)
