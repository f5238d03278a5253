"""The built-in templates: every one validates, is complete, plans to its own targets; `templates` and `new`."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopflow.playbook import catalog
from sopflow.playbook.catalog import UnknownTemplate, list_templates, template_path
from sopflow.playbook.estimate import estimate
from sopflow.playbook.loader import check_file, load_playbook
from sopflow.playbook.model import Playbook

TEMPLATES_DIR = Path(catalog.__file__).parent / "templates"
ALL_TEMPLATES = sorted(TEMPLATES_DIR.glob("*.yaml"))
# The templates written with this test; each must use every section of the playbook model.
COMPLETE = {
    "moments_7day": ["add_friend", "interact", "consult", "order", "repurchase"],
    "offline_salon": ["register", "check_in", "join_group", "member", "referral"],
    "store_funnel": ["follow", "visit", "pay", "renew", "referral"],
}

RunCli = Callable[..., Any]


def _load(name: str) -> Playbook:
    return load_playbook(TEMPLATES_DIR / f"{name}.yaml")


# validity -------------------------------------------------------------------------------------------


def test_at_least_four_templates_are_shipped() -> None:
    names = {p.stem for p in ALL_TEMPLATES}
    assert len(names) >= 4
    assert set(COMPLETE) <= names


@pytest.mark.parametrize("path", ALL_TEMPLATES, ids=lambda p: p.stem)
def test_every_template_validates(path: Path) -> None:
    assert check_file(path) == []


@pytest.mark.parametrize("path", ALL_TEMPLATES, ids=lambda p: p.stem)
def test_every_template_validates_through_the_cli(path: Path, run_cli: RunCli) -> None:
    result = run_cli(["playbook", "validate", str(path)])
    assert result.exit_code == 0, result.stdout + result.stderr


# completeness and plausibility ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COMPLETE))
def test_template_uses_every_section(name: str) -> None:
    pb = _load(name)
    assert all(item.notes for _key, item in pb.brief.research.items())
    assert pb.persona_kit is not None and all(item.value for _key, item in pb.persona_kit.items())
    assert len(pb.personas) >= 2 and all(p.age and p.preferences and p.income for p in pb.personas)
    assert sum(p.share or 0 for p in pb.personas) == pytest.approx(1.0)
    assert len(pb.channels) >= 3 and all(c.manpower.people > 0 for c in pb.channels)
    assert [s.id for s in pb.funnel.stages] == COMPLETE[name]
    assert pb.funnel.referral is not None
    assert any(s.value > 0 for s in pb.funnel.stages)
    assert len(pb.targets) >= 10
    assert pb.variables and pb.materials and pb.costs
    assert any(s.variants for s in pb.scripts)
    steps = pb.timeline.steps()
    assert any(s.after for s in steps) and any(s.at for s in steps)
    assert any(s.exit_when for s in steps) and any(s.audience and s.audience.personas for s in steps)
    assert {p.kind for p in pb.timeline.phases} >= {"preparation", "conversion", "retention", "review"}
    assert pb.policies.quiet_hours is not None and pb.policies.frequency_cap is not None
    used_scripts = {s.script for s in steps}
    assert {s.id for s in pb.scripts} <= used_scripts, "every script is sent at some time node"


@pytest.mark.parametrize("name", sorted(COMPLETE))
def test_template_plan_reaches_its_own_targets(name: str) -> None:
    plan = estimate(_load(name))
    missed = [t.message for t in plan.targets if not t.reachable]
    assert missed == []


def test_moments_plan_matches_hand_computed_numbers() -> None:
    # Channels: 600 stock friends interact at 30 %, the other 120 + 300 + 150 at 45 %; then ×0.35 ×0.3.
    orders = 600 * 0.3 * 0.35 * 0.3 + 570 * 0.45 * 0.35 * 0.3  # 45.8325
    per_invitee = 0.45 * 0.35 * 0.3  # an invited friend enters at add_friend
    g1 = orders * 0.4
    g2 = g1 * per_invitee * 0.4
    orders += (g1 + g2) * per_invitee
    repurchases = orders * 0.35
    metrics = estimate(_load("moments_7day")).metrics
    assert metrics["users.order"] == pytest.approx(orders)  # ≈ 46.7
    assert metrics["revenue"] == pytest.approx(orders * 399 + repurchases * 299)  # ≈ 23,528
    assert metrics["cost"] == pytest.approx(5000 + 600 + 35 * orders + 20 * (g1 + g2))  # ≈ 7,609


def test_salon_plan_matches_hand_computed_numbers() -> None:
    base_register = 100 + 40 + 90 + 36 + 40
    to_referral = 0.6 * 0.8 * 0.12 * 0.3
    g1 = base_register * to_referral * 2.0
    g2 = g1 * to_referral * 2.0
    register = base_register + g1 + g2
    members = register * 0.6 * 0.8 * 0.12
    metrics = estimate(_load("offline_salon")).metrics
    assert metrics["users.register"] == pytest.approx(register)  # ≈ 317
    assert metrics["users.member"] == pytest.approx(members)  # ≈ 18.3
    assert metrics["revenue"] == pytest.approx(register * 29 + members * 699)
    fixed = 600 + 3000 + 2000 + 800 + 800
    assert metrics["cost"] == pytest.approx(fixed + 15 * register * 0.6 + 20 * (g1 + g2))


def test_store_plan_matches_hand_computed_numbers() -> None:
    base_visit = (300 + 240 + 150 + 100 + 75) * 0.25
    to_referral = 0.35 * 0.45 * 0.3  # from visit, where invited friends enter
    g1 = base_visit * to_referral * 1.5
    g2 = g1 * to_referral * 1.5
    visits = base_visit + g1 + g2
    pays = visits * 0.35
    renewals = pays * 0.45
    metrics = estimate(_load("store_funnel")).metrics
    assert metrics["users.pay"] == pytest.approx(pays)  # ≈ 81.4
    assert metrics["revenue"] == pytest.approx(visits * 39 + pays * 2680 + renewals * 2480)  # ≈ 318,190
    variable = 50 * visits + (120 + 130) * pays + 75 * renewals + 60 * (g1 + g2)
    assert metrics["cost"] == pytest.approx(7000 + 1800 + 1500 + variable)  # ≈ 46,024


# catalog ------------------------------------------------------------------------------------------------


def test_list_templates_reads_title_and_summary_from_meta() -> None:
    found = {t.name: t for t in list_templates()}
    salon = found["offline_salon"]
    meta = _load("offline_salon").meta
    assert (salon.title, salon.summary, salon.tags) == (meta.name, meta.summary, meta.tags)
    assert salon.path == TEMPLATES_DIR / "offline_salon.yaml"


def test_template_path_accepts_the_file_name() -> None:
    assert (
        template_path("store_funnel.yaml")
        == template_path(" store_funnel ")
        == TEMPLATES_DIR / "store_funnel.yaml"
    )


def test_a_broken_template_is_still_listed(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("meta: {name: 好模板, summary: 简介}\n", encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("meta: [unclosed\n", encoding="utf-8")
    found = list_templates(directory=tmp_path)
    assert [(t.name, t.title, t.summary) for t in found] == [
        ("broken", "broken", ""),
        ("good", "好模板", "简介"),
    ]


@given(st.text(max_size=30))
def test_template_path_either_finds_a_template_or_names_them_all(name: str) -> None:
    names = [p.stem for p in ALL_TEMPLATES]
    try:
        path = template_path(name)
    except UnknownTemplate as exc:
        assert exc.exit_code == 2
        assert all(n in exc.message for n in names)
    else:
        assert path.stem in names and path.is_file()


# CLI: templates -------------------------------------------------------------------------------------


def test_templates_json_lists_every_template(run_cli: RunCli) -> None:
    result = run_cli(["playbook", "templates", "--json"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["templates"]
    assert len(rows) >= 4
    assert [r["name"] for r in rows] == sorted(p.stem for p in ALL_TEMPLATES)
    for row in rows:
        assert set(row) == {"name", "title", "summary", "tags", "path"}
        assert row["title"] and row["summary"] and Path(row["path"]).is_file()


def test_templates_table_names_them(run_cli: RunCli) -> None:
    result = run_cli(["playbook", "templates"], lang="zh_CN")
    assert result.exit_code == 0, result.stderr
    assert "内置 SOP 模板" in result.stdout
    for name in COMPLETE:
        assert name in result.stdout


# CLI: new ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_TEMPLATES, ids=lambda p: p.stem)
def test_new_writes_a_copy_that_validates(path: Path, tmp_path: Path, run_cli: RunCli) -> None:
    out = tmp_path / "deep" / "folder" / "camp.yaml"
    result = run_cli(["playbook", "new", "--template", path.stem, "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
    assert f"sopflow playbook validate {out}" in result.stdout
    assert f"sopflow playbook plan {out}" in result.stdout
    assert f"sopflow playbook render {out} -o {out.with_suffix('.html')}" in result.stdout
    assert run_cli(["playbook", "validate", str(out)]).exit_code == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["camp.yaml"], "no temporary file left behind"
    assert out.stat().st_mode & 0o777 == 0o644


def test_new_refuses_to_overwrite_without_force(tmp_path: Path, run_cli: RunCli) -> None:
    out = tmp_path / "mine.yaml"
    out.write_text("my own work\n", encoding="utf-8")
    result = run_cli(["playbook", "new", "--template", "store_funnel", "-o", str(out)])
    assert result.exit_code == 2
    assert f"{out} already exists; add --force to overwrite it" in result.stderr
    assert out.read_text(encoding="utf-8") == "my own work\n"

    forced = run_cli(["playbook", "new", "--template", "store_funnel", "-o", str(out), "--force"])
    assert forced.exit_code == 0, forced.stderr
    assert out.read_text(encoding="utf-8") == (TEMPLATES_DIR / "store_funnel.yaml").read_text(
        encoding="utf-8"
    )


def test_new_with_an_unknown_template_lists_the_names(tmp_path: Path, run_cli: RunCli) -> None:
    out = tmp_path / "x.yaml"
    result = run_cli(["playbook", "new", "--template", "webinar", "-o", str(out)])
    assert result.exit_code == 2
    names = ", ".join(sorted(p.stem for p in ALL_TEMPLATES))
    assert f"unknown template 'webinar'; built-in templates: {names}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_new_unknown_template_message_in_chinese(tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli(["playbook", "new", "-t", "webinar", "-o", str(tmp_path / "x.yaml")], lang="zh_CN")
    assert result.exit_code == 2
    assert "没有名为 'webinar' 的模板；内置模板有：" in result.stderr
    assert "store_funnel" in result.stderr


def test_new_into_a_folder_is_refused(tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli(["playbook", "new", "-t", "offline_salon", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{tmp_path} is a folder" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_nothing_behind(
    tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    out = tmp_path / "camp.yaml"
    result = run_cli(["playbook", "new", "-t", "moments_7day", "-o", str(out)])
    assert result.exit_code == 1
    assert f"cannot write {out}: No space left on device" in result.stderr
    assert list(tmp_path.iterdir()) == []
