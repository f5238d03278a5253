"""The SOP as files read back with their own libraries: the Excel workbook (openpyxl) and the calendar
(icalendar), rendered from the built-in community fission template."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

import sopflow.playbook
from sopflow.playbook.loader import load_playbook
from sopflow.playbook.model import Playbook
from sopflow.playbook.render import render_sop
from sopflow.playbook.schedule import schedule

TEMPLATE = Path(sopflow.playbook.__file__).parent / "templates" / "community_fission.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")
D0 = datetime(2026, 12, 1, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return load_playbook(TEMPLATE)


def _render(run_cli: Callable[..., Any], tmp_path: Path, suffix: str, *extra: str, lang: str = "en") -> Path:
    out = tmp_path / f"sop.{suffix}"
    result = run_cli(["playbook", "render", str(TEMPLATE), "-o", str(out), *extra], lang=lang)
    assert result.exit_code == 0, result.stderr
    return out


def _rows(sheet: Worksheet) -> list[dict[str, Any]]:
    values = list(sheet.iter_rows(values_only=True))
    headers = [str(h) for h in values[0]]
    return [dict(zip(headers, row, strict=True)) for row in values[1:]]


# Excel ----------------------------------------------------------------------------------------------------


def test_workbook_has_the_sheets_in_both_languages(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    en = load_workbook(_render(run_cli, tmp_path, "xlsx"))
    assert en.sheetnames == ["Plan framework", "Timeline", "Scripts", "Checklist", "Materials"]
    zh = load_workbook(_render(run_cli, tmp_path, "xlsx", lang="zh_CN"))
    assert zh.sheetnames == ["方案框架", "时间推进表", "话术", "检查清单", "素材"]
    plan = zh["方案框架"]
    assert plan["A1"].value == "产品经理 7 天训练营 · 社群裂变 · SOP 方案"
    column_a = [row[0] for row in plan.iter_rows(values_only=True)]
    assert "获客渠道与测算" in column_a and "人设六件套" in column_a and "前期调研" in column_a


def test_timeline_sheet_has_one_row_per_step_with_offset_and_time(
    tmp_path: Path, run_cli: Callable[..., Any], playbook: Playbook
) -> None:
    book = load_workbook(_render(run_cli, tmp_path, "xlsx", "--start", "2026-12-01"))
    sheet = book["Timeline"]
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.column_dimensions["E"].width > 8
    rows = _rows(sheet)
    assert [r["Step id"] for r in rows] == [s.step.id for s in schedule(playbook)]
    by_id = {r["Step id"]: r for r in rows}
    # Hand-computed from the template: D-7 10:00, `article + 30m` = D-5 21:00, D+14 15:00.
    assert by_id["setup_kit"]["Time node"] == "D-7 10:00"
    assert by_id["setup_kit"]["Time (Asia/Shanghai)"] == datetime(2026, 11, 24, 10, 0)
    assert by_id["setup_kit"]["Due (Asia/Shanghai)"] == datetime(2026, 11, 25, 10, 0)
    assert by_id["moments_wave"]["Time node"] == "D-5 21:00"
    assert by_id["moments_wave"]["Time (Asia/Shanghai)"] == datetime(2026, 11, 26, 21, 0)
    assert by_id["review_meeting"]["Time (Asia/Shanghai)"] == datetime(2026, 12, 15, 15, 0)
    assert by_id["class_remind"]["Owner"] == "助教" and by_id["class_remind"]["People"] == "陈晨, 赵一, 孙悦"
    assert sheet.cell(row=2, column=3).number_format == "yyyy-mm-dd hh:mm"


def test_timeline_sheet_without_start_has_no_date_columns(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    rows = _rows(load_workbook(_render(run_cli, tmp_path, "xlsx"))["Timeline"])
    assert "Time node" in rows[0] and not any(key.startswith("Time (") for key in rows[0])


def test_checklist_and_scripts_sheets(
    tmp_path: Path, run_cli: Callable[..., Any], playbook: Playbook
) -> None:
    book = load_workbook(_render(run_cli, tmp_path, "xlsx", "--start", "2026-12-01"))
    checklist = _rows(book["Checklist"])
    steps = playbook.timeline.steps()
    assert len(checklist) == sum(len(s.checklist) for s in steps)
    assert {r["Done"] for r in checklist} == {"No"}
    assert [r["Item"] for r in checklist[:4]] == [
        "昵称统一",
        "头像为真人照",
        "朋友圈封面更新",
        "前 3 条朋友圈发布",
    ]
    assert book["Checklist"].data_validations.dataValidation[0].formula1 == '"Yes,No"'
    scripts = _rows(book["Scripts"])
    scripts_by_id = {s.id: s for s in playbook.scripts}
    assert len(scripts) == sum(1 + len(scripts_by_id[s.script].variants) for s in steps if s.script)
    welcome = next(r for r in scripts if r["Step"] == "新人入群欢迎")
    # Playbook variables and the start date are filled in; per-user ones stay for the sender.
    assert welcome["Script text"].startswith(
        "欢迎 {{nickname}} 加入「7 天写出第一份需求文档」！📌 开营时间 2026-12-01 20:00"
    )


def test_text_starting_with_equals_is_not_a_formula(playbook: Playbook) -> None:
    changed = playbook.model_copy(deep=True)
    changed.scripts[0].text = '=HYPERLINK("http://evil.example","x")'
    book = load_workbook(io.BytesIO(render_sop(playbook=changed, fmt="xlsx", start=D0)))
    cells = [c for row in book["Scripts"].iter_rows() for c in row if str(c.value).startswith("=HYPERLINK")]
    assert cells and all(c.data_type == "s" for c in cells)


# Calendar -------------------------------------------------------------------------------------------------


def _events(path_or_bytes: Path | bytes) -> list[Any]:
    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    return list(Calendar.from_ical(data).walk("VEVENT"))


def test_calendar_has_one_event_per_step_at_its_time(
    tmp_path: Path, run_cli: Callable[..., Any], playbook: Playbook
) -> None:
    events = _events(_render(run_cli, tmp_path, "ics", "--start", "2026-12-01", "--tz", "Asia/Shanghai"))
    assert len(events) == len(playbook.timeline.steps())
    by_uid = {str(e["UID"]): e for e in events}
    setup = by_uid["community_fission_course-1.0-setup_kit@sopflow"]
    start = setup.decoded("DTSTART")
    assert start == datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI) and start.utcoffset() == timedelta(hours=8)
    assert setup["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert setup.decoded("DTEND") == datetime(2026, 11, 25, 10, 0, tzinfo=SHANGHAI)  # deadline 1d
    assert str(setup["SUMMARY"]) == "搭建人设六件套"
    remind = by_uid["community_fission_course-1.0-class_remind@sopflow"]
    assert remind.decoded("DTSTART") == datetime(2026, 12, 1, 18, 0, tzinfo=SHANGHAI)
    assert remind.decoded("DTEND") == datetime(2026, 12, 1, 19, 30, tzinfo=SHANGHAI)  # deadline 1h30m
    description = str(remind["DESCRIPTION"])
    for part in (
        "给已进群未到过课的学员私聊提醒",
        "助教 (陈晨, 赵一, 孙悦)",
        "Private chat",
        "今晚 20:00 开课",
        "直播间链接",
    ):
        assert part in description


def test_calendar_uses_wall_clock_times_across_a_dst_change(playbook: Playbook) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    events = {
        str(e["SUMMARY"]): e
        for e in _events(render_sop(playbook=playbook, fmt="ics", start=datetime(2026, 3, 22, tzinfo=berlin)))
    }
    # Summer time starts on 2026-03-29: D+6 20:30 is at +01:00, D+8 19:00 at +02:00.
    before, after = events["系统课开售"].decoded("DTSTART"), events["截止前一对一催单"].decoded("DTSTART")
    assert before == datetime(2026, 3, 28, 20, 30, tzinfo=berlin) and before.utcoffset() == timedelta(hours=1)
    assert after == datetime(2026, 3, 30, 19, 0, tzinfo=berlin) and after.utcoffset() == timedelta(hours=2)


def test_step_without_deadline_lasts_30_minutes(playbook: Playbook) -> None:
    changed = playbook.model_copy(deep=True)
    changed.timeline.phases[0].steps[0].deadline = None
    events = _events(render_sop(playbook=changed, fmt="ics", start=D0))
    setup = next(e for e in events if str(e["UID"]).endswith("-setup_kit@sopflow"))
    assert setup.decoded("DTEND") - setup.decoded("DTSTART") == timedelta(minutes=30)


def test_calendar_uids_are_stable_across_renders(playbook: Playbook) -> None:
    first = [str(e["UID"]) for e in _events(render_sop(playbook=playbook, fmt="ics", start=D0))]
    second = [str(e["UID"]) for e in _events(render_sop(playbook=playbook, fmt="ics", start=D0))]
    assert first == second and len(set(first)) == len(first)
