"""``sopflow playbook render``: the SOP document, Markdown, HTML and the command's options and errors."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sopflow.playbook
from sopflow.errors import InvalidInput, SopflowError
from sopflow.playbook.loader import load_playbook
from sopflow.playbook.render import build_document, campaign_start, output_format, render_sop, write_atomic
from sopflow.playbook.render.blocks import Gantt, GanttBar, GanttGroup
from sopflow.playbook.render.gantt import _mermaid_text, svg_layout
from sopflow.playbook.render.markdown import inline

TEMPLATE = Path(sopflow.playbook.__file__).parent / "templates" / "community_fission.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")

# A small but complete campaign whose times are easy to check by hand.
CAMP = """\
format: 1
meta:
  id: pm_camp
  name: 产品经理训练营·社群裂变
  version: "1.2"
  owner: 增长组
  timezone: Asia/Shanghai
brief:
  background: 往期公开课到课率 35%。
  purpose: 用免费公开课转化 699 元训练营。
  goals: [入群 3000 人, 付费 150 人]
  research:
    user_needs: {notes: 转行与晋升, done: true}
team:
  roles:
    - {id: ops, name: 社群运营, people: [小王, 小李]}
    - {id: teacher, name: 讲师, people: [陈老师]}
personas:
  - {id: switcher, name: 转行新人, age: [22, 30], share: 0.6}
persona_kit:
  nickname: {value: 产品小鹿老师, done: true}
channels:
  - {id: moments, name: 员工朋友圈, kind: moments, posters: 20, reach_per_poster: 300, entry_rate: 0.05}
  - {id: fission, name: 海报裂变, kind: community_fission, base_users: 2000, entry_rate: 0.4, cost: 3000}
funnel:
  stages:
    - {id: join, name: 入群, event: join_group, aarrr: acquisition}
    - {id: pay, name: 付费, event: pay, aarrr: revenue, expected_rate: 0.1, value: 699}
targets:
  - {id: t_rate, name: 付费转化率, metric: rate.pay, expected: 0.1}
variables:
  course_name: 产品经理训练营
scripts:
  - id: welcome
    name: 入群欢迎语
    text: "SCRIPT_TEXT"
    variants:
      - {id: short, text: "欢迎{{nickname}}！我是{{owner}}"}
materials:
  - {id: poster, name: 裂变海报, kind: poster, uri: "https://cdn.example.com/poster.png", ready: true}
timeline:
  span: {start: "D-3 00:00", end: "D+3 23:59"}
  phases:
    - id: prep
      name: 准备期
      kind: preparation
      steps:
        - id: build_group
          name: 建群
          at: D-3 10:00
          owner: ops
          channel: community_group
          action: 建群并设置群公告
          checklist: [群公告已发布, 活码已测试]
          deadline: 2h
        - id: post_poster
          name: 员工转发海报
          after: build_group + 4h
          owner: ops
          channel: moments
          action: 员工发朋友圈
          materials: [poster]
    - id: launch
      name: 开课
      kind: launch
      steps:
        - id: welcome_msg
          name: 入群欢迎
          at: D0 19:30
          owner: ops
          channel: community_group
          action: 发送欢迎语
          script: welcome
          audience: {personas: [switcher], not_reached: pay}
          exit_when: {stage: pay}
          deadline: 30m
        - id: live
          name: 直播公开课
          at: D0 20:00
          owner: teacher
          channel: mini_program
          action: 直播 90 分钟
          deadline: 1h 30m
"""
WELCOME = "欢迎 {{nickname}} 加入{{course_name}}！今晚 20:00 开课"


def camp_file(folder: Path, script_text: str = WELCOME) -> Path:
    path = folder / "camp.yaml"
    escaped = script_text.replace("\\", "\\\\").replace('"', '\\"')
    path.write_text(CAMP.replace("SCRIPT_TEXT", escaped), encoding="utf-8")
    return path


# The document ---------------------------------------------------------------------------------------------


def test_document_has_steps_in_time_order_with_absolute_times(tmp_path: Path) -> None:
    playbook = load_playbook(camp_file(tmp_path))
    doc = build_document(playbook=playbook, start=datetime(2026, 12, 1, tzinfo=SHANGHAI))
    assert [s.id for s in doc.steps] == ["build_group", "post_poster", "welcome_msg", "live"]
    build, poster, welcome, live = doc.steps
    assert (build.node, build.deadline_node) == ("D-3 10:00", "D-3 12:00")
    assert build.starts_at == datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)
    # `after: build_group + 4h` and no deadline: a 30-minute slot.
    assert poster.node == "D-3 14:00"
    assert poster.ends_at == datetime(2026, 11, 28, 14, 30, tzinfo=SHANGHAI)
    assert live.due_at == datetime(2026, 12, 1, 21, 30, tzinfo=SHANGHAI)
    assert welcome.owner_text == "社群运营 (小王, 小李)"
    assert welcome.when == "2026-12-01 Tue 19:30"
    assert [p.title for p in doc.parts] == [
        "Part 1 · Framework and plan",
        "Part 2 · Materials and timeline",
        "Part 3 · Scripts, materials and actions at each time node",
    ]


def test_scripts_fill_playbook_variables_and_keep_per_user_ones(tmp_path: Path) -> None:
    doc = build_document(playbook=load_playbook(camp_file(tmp_path)))
    welcome = next(s for s in doc.steps if s.id == "welcome_msg")
    assert welcome.script_text == "欢迎 {{nickname}} 加入产品经理训练营！今晚 20:00 开课"
    # The role has two people: who sends it is decided per task, so {{owner}} stays.
    assert welcome.variants == (("short", "欢迎{{nickname}}！我是{{owner}}"),)
    playbook = load_playbook(camp_file(tmp_path))
    playbook.timeline.phases[1].steps[0].owner = "teacher"
    single = next(s for s in build_document(playbook=playbook).steps if s.id == "welcome_msg")
    assert single.variants == (("short", "欢迎{{nickname}}！我是陈老师"),)


def test_audience_and_exit_condition_in_words(tmp_path: Path) -> None:
    doc = build_document(playbook=load_playbook(camp_file(tmp_path)))
    welcome = next(s for s in doc.steps if s.id == "welcome_msg")
    assert welcome.audience == "personas: 转行新人; have not reached stage 付费"
    assert welcome.exit_when == "skip users who have reached stage 付费"
    # An internal task (no script, no audience) addresses no users.
    assert doc.steps[0].audience == "" and doc.steps[0].exit_when == ""


def test_without_start_the_document_says_times_are_offsets(tmp_path: Path) -> None:
    doc = build_document(playbook=load_playbook(camp_file(tmp_path)))
    assert doc.start is None and all(s.starts_at is None and s.when == "" for s in doc.steps)
    assert "--start" in doc.start_note


# Markdown -------------------------------------------------------------------------------------------------


def test_markdown_has_three_parts_timeline_checklists_and_gantt(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    out = tmp_path / "sop.md"
    result = run_cli(
        ["playbook", "render", str(camp_file(tmp_path)), "-o", str(out), "--start", "2026-12-01"],
        lang="zh_CN",
    )
    assert result.exit_code == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    for heading in (
        "## 第一部分 项目框架和方案草案",
        "## 第二部分 素材、时间推进表",
        "## 第三部分 把话术、素材、时间推进、可执行方案带到时间节点",
    ):
        assert heading in text
    assert "| D-3 10:00 | 2026-11-28 周六 10:00 | 建群 | 社群运营（小王、小李） |" in text
    assert "- [ ] 群公告已发布" in text and "- [x] " in text  # step checklist; research/persona kit done
    gantt = re.search(r"```mermaid\n(.*?)```", text, re.S)
    assert gantt is not None
    lines = gantt.group(1).splitlines()
    assert lines[0] == "gantt" and "    section 准备期" in lines
    assert "    建群 :2026-11-28 10:00, 2026-11-28 12:00" in lines
    assert "    员工转发海报 :2026-11-28 14:00, 2026-11-28 14:30" in lines  # no deadline: 30 minutes
    assert "### D0 19:30 · 入群欢迎 · 2026-12-01 周二 19:30" in text
    assert "欢迎 {{nickname}} 加入产品经理训练营！今晚 20:00 开课" in text


def test_en_and_zh_headings_differ(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    playbook = camp_file(tmp_path)
    texts = {}
    for lang in ("en", "zh_CN"):
        out = tmp_path / f"{lang}.md"
        assert run_cli(["playbook", "render", str(playbook), "-o", str(out)], lang=lang).exit_code == 0
        texts[lang] = out.read_text(encoding="utf-8")
    assert "## Part 2 · Materials and timeline" in texts["en"]
    assert "## 第二部分 素材、时间推进表" in texts["zh_CN"]
    assert "Part 2" not in texts["zh_CN"] and "第二部分" not in texts["en"]
    headings = {
        lang: [line for line in text.splitlines() if line.startswith("### ")] for lang, text in texts.items()
    }
    assert len(headings["en"]) == len(headings["zh_CN"]) and headings["en"] != headings["zh_CN"]


@given(st.text(max_size=60))
def test_markdown_inline_text_cannot_break_a_table_row(text: str) -> None:
    cell = inline(text)
    assert "\n" not in cell and "\r" not in cell
    assert not re.search(r"(?<!\\)\|", cell.replace("\\\\", ""))


@given(st.text(max_size=60))
def test_mermaid_labels_have_no_separators(text: str) -> None:
    label = _mermaid_text(text)
    assert label and not re.search(r"[:;#`\n\r]|%%", label)


# HTML -----------------------------------------------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.text: list[str] = []
        self.lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [value or "" for name, value in attrs if name in ("src", "href")]
        if tag == "html":
            self.lang = dict(attrs).get("lang") or ""

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_and_escapes_user_text(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    attack = '<script>alert("x")</script> {{nickname}}'
    out = tmp_path / "sop.html"
    result = run_cli(
        ["playbook", "render", str(camp_file(tmp_path, attack)), "-o", str(out), "--start", "2026-12-01"],
        lang="zh_CN",
    )
    assert result.exit_code == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    page = _Page()
    page.feed(html)
    page.close()
    assert page.lang == "zh-CN"
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert not [url for url in page.urls if re.match(r"\s*(https?:)?//", url, re.I)]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert '<script>alert("x")</script>' in "".join(page.text)  # shown as text, as written
    assert "svg" in page.tags and '<pre class="mermaid">' in html
    assert "第一部分 项目框架和方案草案" in html and "https://cdn.example.com/poster.png" in "".join(
        page.text
    )


def test_html_language_follows_lang(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    out = tmp_path / "sop.html"
    assert run_cli(["playbook", "render", str(camp_file(tmp_path)), "-o", str(out)], lang="en").exit_code == 0
    assert '<html lang="en">' in out.read_text(encoding="utf-8")


def test_svg_gantt_places_bars_on_the_day_scale() -> None:
    day = 86_400
    gantt = Gantt(
        "t",
        (
            GanttGroup(
                "p",
                (GanttBar("a", "D0 00:00", 0, day // 2), GanttBar("b", "D+1 12:00", day + day // 2, 2 * day)),
            ),
        ),
        "",
        None,
    )
    chart = svg_layout(gantt)
    # Two whole days over 700 px after a 260 px label column: 350 px a day.
    first, second = chart.bars
    assert (first.x, first.width) == (260.0, 175.0)
    assert (second.x, second.width) == (260.0 + 525.0, 175.0)
    assert [t.day for t in chart.ticks] == ["D0", "D+1", "D+2"]
    assert first.y < second.y


def test_template_renders_in_every_format(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    for suffix in ("md", "html", "xlsx", "ics"):
        out = tmp_path / f"sop.{suffix}"
        result = run_cli(["playbook", "render", str(TEMPLATE), "-o", str(out), "--start", "2026-12-01"])
        assert result.exit_code == 0, result.stderr
        assert out.stat().st_size > 0 and str(out) in result.stdout


@pytest.mark.parametrize("template", sorted(TEMPLATE.parent.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_builtin_template_renders(template: Path) -> None:
    playbook = load_playbook(template)
    start = datetime(2026, 12, 1, tzinfo=SHANGHAI)
    markdown = render_sop(playbook=playbook, fmt="md", start=start).decode("utf-8")
    assert markdown.count("\n## Part ") == 3 and "```mermaid\ngantt\n" in markdown
    assert markdown.count("\n### D") == len(playbook.timeline.steps())  # one section per time node
    for fmt in ("html", "xlsx", "ics"):
        assert render_sop(playbook=playbook, fmt=fmt, start=start)


MINIMAL = """\
meta: {id: tiny, name: 最小剧本, version: 1, owner: 运营}
brief: {background: 背景, purpose: 宗旨, goals: [目标]}
team: {roles: [{id: ops, name: 运营}]}
channels: [{id: c, name: 社群, kind: community, base_users: 100}]
funnel: {stages: [{id: a, name: 入群, event: join, aarrr: acquisition},
                  {id: b, name: 付费, event: pay, aarrr: revenue, expected_rate: 0.1}]}
timeline:
  span: {start: "D0 00:00", end: "D+1 00:00"}
  phases: [{id: p, name: 执行, steps: [{id: s, name: 发通知, at: "D0 10:00", owner: ops,
                                       channel: community_group, action: 群发通知}]}]
"""


def test_a_minimal_playbook_says_what_it_lacks(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    playbook = load_playbook(path)
    markdown = render_sop(playbook=playbook, fmt="md").decode("utf-8")
    for sentence in (
        "No personas in this playbook.",
        "No persona kit in this playbook.",
        "No referral (fission) in this playbook.",
        "No targets in this playbook.",
        "No materials in this playbook.",
    ):
        assert sentence in markdown
    assert "| D0 10:00 | 发通知 | 运营 | Community group | 群发通知 | — |" in markdown
    for fmt in ("html", "xlsx"):
        assert render_sop(playbook=playbook, fmt=fmt)


# Options and errors ---------------------------------------------------------------------------------------


def test_ics_without_start_exits_2_and_writes_nothing(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    out = tmp_path / "sop.ics"
    result = run_cli(["playbook", "render", str(camp_file(tmp_path)), "-o", str(out)])
    assert result.exit_code == 2
    assert "--start" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-o", "sop.pdf"], "cannot tell the format"),
        (["-o", "sop.md", "--format", "docx"], "unknown format 'docx'"),
        (["-o", "sop.md", "--start", "next monday"], "invalid start 'next monday'"),
        (["-o", "sop.md", "--start", "2026-12-01", "--tz", "Mars/Base"], "unknown timezone 'Mars/Base'"),
    ],
)
def test_bad_options_exit_2_with_a_clear_message(
    tmp_path: Path, run_cli: Callable[..., Any], args: list[str], needle: str
) -> None:
    args = [str(tmp_path / a) if a.startswith("sop.") else a for a in args]
    result = run_cli(["playbook", "render", str(camp_file(tmp_path)), *args])
    assert result.exit_code == 2 and needle in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["camp.yaml"]


def test_invalid_playbook_reports_file_line_col(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        CAMP.replace("SCRIPT_TEXT", "x").replace("owner: teacher", "owner: nobody"), encoding="utf-8"
    )
    result = run_cli(["playbook", "render", str(bad), "-o", str(tmp_path / "sop.md")])
    assert result.exit_code == 2
    assert re.search(rf"{re.escape(str(bad))}:\d+:\d+: unknown role 'nobody'", result.stderr)
    assert not (tmp_path / "sop.md").exists()


def test_format_flag_wins_over_suffix_and_json_result(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    out = tmp_path / "sop.txt"
    result = run_cli(
        [
            "playbook",
            "render",
            str(camp_file(tmp_path)),
            "-o",
            str(out),
            "-f",
            "html",
            "--json",
            "--start",
            "2026-12-01 09:00",
            "--tz",
            "Europe/Berlin",
        ]
    )
    assert result.exit_code == 0, result.stderr
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    assert json.loads(result.stdout) == {
        "file": str(out),
        "format": "html",
        "steps": 4,
        "start": "2026-12-01T00:00:00+01:00",
        "timezone": "Europe/Berlin",
    }


def test_format_inferred_from_suffix() -> None:
    assert [output_format(None, Path(f"x{s}")) for s in (".md", ".HTML", ".htm", ".xlsx", ".ics")] == [
        "md",
        "html",
        "html",
        "xlsx",
        "ics",
    ]
    assert output_format("Markdown", Path("x.txt")) == "md"
    with pytest.raises(InvalidInput):
        output_format(None, Path("x"))


def test_start_is_the_day_at_midnight_in_the_zone() -> None:
    assert campaign_start("2026-12-01", SHANGHAI) == datetime(2026, 12, 1, tzinfo=SHANGHAI)
    # A time of day does not move D0; a UTC offset is converted into the zone first.
    assert campaign_start("2026-12-01 09:00", SHANGHAI) == datetime(2026, 12, 1, tzinfo=SHANGHAI)
    assert campaign_start("2026-11-30T20:00+00:00", SHANGHAI) == datetime(2026, 12, 1, tzinfo=SHANGHAI)
    assert campaign_start("2026/12/01", SHANGHAI) == datetime(2026, 12, 1, tzinfo=SHANGHAI)


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out" / "sop.md"
    write_atomic(target, b"first")
    assert target.read_bytes() == b"first" and os.listdir(target.parent) == ["sop.md"]

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(SopflowError, match="No space left"):
        write_atomic(target, b"second")
    assert target.read_bytes() == b"first" and os.listdir(target.parent) == ["sop.md"]
    with pytest.raises(InvalidInput):
        write_atomic(tmp_path, b"x")
