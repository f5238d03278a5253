"""``sopflow report``: the numbers of the models in one self-contained page, escaped, in both languages."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sopflow.analytics.conditions import Condition
from sopflow.analytics.engines import open_engine
from sopflow.analytics.funnel import FunnelSpec, run_funnel
from sopflow.analytics.report import report_html
from sopflow.analytics.report.adapters import ModelMissing
from sopflow.analytics.report.collect import _section, retention_periods
from sopflow.analytics.report.tree import top_of_tree
from sopflow.analytics.timerange import TimeRange
from sopflow.cli import main
from sopflow.errors import InvalidInput
from sopflow.i18n import set_language
from sopflow.workspace import Workspace

TEMPLATE = Path(__file__).resolve().parents[2] / "src/sopflow/playbook/templates/community_fission.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")
ATTACK = '<script>alert("x")</script>'
DAY_US = 86_400_000_000


def _cli(args: list[str], lang: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["--lang", lang, *args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    set_language("en")
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report") / "ws"
    args = ["simulate", "--template", "community_fission", "--users", "2000", "--start", "2024-03-01"]
    args += ["--workspace", str(root)]
    code, _out, err = _cli(args, "en")
    assert code == 0, err
    return root


@pytest.fixture(scope="module")
def zh_report(workspace: Path) -> tuple[str, dict[str, Any]]:
    out = workspace.parent / "report.html"
    args = ["report", "--playbook", str(TEMPLATE), "-o", str(out), "--workspace", str(workspace), "--json"]
    code, stdout, err = _cli(args, "zh_CN")
    assert code == 0, err
    return out.read_text(encoding="utf-8"), json.loads(stdout)


@pytest.fixture(scope="module")
def hostile_en_report(workspace: Path) -> str:
    text = TEMPLATE.read_text(encoding="utf-8")
    text = text.replace("name: 产品经理 7 天训练营 · 社群裂变", f"name: '{ATTACK} & <b>'", 1)
    text = text.replace("name: 公众号推文", "name: '<img src=x onerror=alert(1)>'", 1)
    playbook = workspace.parent / "hostile.yaml"
    playbook.write_text(text, encoding="utf-8")
    out = workspace.parent / "report-en.html"
    args = ["report", "--playbook", str(playbook), "-o", str(out), "--workspace", str(workspace)]
    code, stdout, err = _cli(args, "en")
    assert code == 0, err
    assert str(out.resolve()) in stdout
    return out.read_text(encoding="utf-8")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.lang = ""
        self.sections: list[str] = []
        self._section: str | None = None
        self.text: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href", "action", "data")]
        if tag == "html":
            self.lang = values.get("lang") or ""
        if tag == "section":
            self._section = values.get("id") or ""
            self.sections.append(self._section)

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        self.text.setdefault(self._section or "", []).append(data)

    def section(self, name: str) -> str:
        return " ".join(self.text.get(name, []))


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _expected_funnel(workspace: Path) -> list[int]:
    """The playbook's stages counted by hand-written funnel spec (the template's events and conditions)."""
    spec = FunnelSpec(
        steps=("signup", "join_group", "attend_class", "submit_homework", "pay", "pay"),
        window_us=14 * DAY_US,
        where=(
            (),
            (),
            (),
            (),
            (Condition("product", "=", "system_course"),),
            (Condition("product", "=", "advanced_course"),),
        ),
        range=TimeRange(None, None, SHANGHAI),
    )
    engine = open_engine("duckdb", workspace=Workspace.resolve(workspace), tz=SHANGHAI)
    return [step.users for step in run_funnel(engine, spec).steps]


def test_the_funnel_shows_the_funnel_counts_with_their_denominators(
    workspace: Path, zh_report: tuple[str, dict[str, Any]]
) -> None:
    html, summary = zh_report
    users = _expected_funnel(workspace)
    assert users[0] > users[1] > users[4] > users[5] > 0
    funnel = _parse(html).section("funnel")
    for k, n in enumerate(users):
        assert f"{n:,} 人 · 占第 1 阶段 {n / users[0]:.1%}" in funnel
        if k:
            assert f"{n:,} ÷ {users[k - 1]:,}" in funnel  # the rate from the previous stage, with its basis
            assert f"{n:,} ÷ {users[0]:,}" in funnel
    assert f"第 1 阶段：所有转化率的分母（{users[0]:,} 人）" in funnel
    assert "14 天" in funnel and "最早的事件" in funnel  # the window and the range
    assert all(s["available"] for s in summary["sections"].values()), summary
    assert summary["lang"] == "zh_CN" and summary["output"].endswith("report.html")


def test_other_sections_agree_with_the_funnel(workspace: Path, zh_report: tuple[str, dict[str, Any]]) -> None:
    page = _parse(zh_report[0])
    users = _expected_funnel(workspace)
    # Acquisition (AARRR) and the target users.signup are the same persons as funnel stage 1.
    assert f"{users[0]:,}" in page.section("aarrr")
    targets = page.section("targets")
    assert f"{users[2]:,} ÷ {users[1]:,}" in targets  # rate.attend with its denominator
    assert f"{users[4]:,} ÷ {users[0]:,}" in targets  # rate_from_first.pay
    referral = page.section("referral")
    assert re.search(r"K 值（裂变系数） [\d.]+ [\d,]+ ÷ [\d,]+ · 计划 0\.\d\d", referral)
    assert "第 0 代" in referral and "还有" in referral  # generations and the cut top of the tree
    assert "第0天" in page.section("retention") or "第0周" in page.section("retention")
    assert "投产比" in page.section("roi") and "¥" in page.section("roi")


def test_the_page_is_self_contained(zh_report: tuple[str, dict[str, Any]]) -> None:
    html = zh_report[0]
    page = _parse(html)
    assert page.lang == "zh-CN"
    assert page.sections == ["funnel", "aarrr", "retention", "referral", "roi", "targets", "experiments"]
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(page.tags)
    assert all(url.startswith("#") for url in page.urls), page.urls  # only the table of contents
    assert "http://" not in html and "https://" not in html and "url(" not in html and "@import" not in html
    assert page.tags.count("svg") >= 6  # funnel, AARRR, heatmap, generations, tree, ROI, targets


def test_hostile_names_are_text_and_english_is_chosen(hostile_en_report: str) -> None:
    html = hostile_en_report
    page = _parse(html)
    assert page.lang == "en"
    assert ATTACK not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;" in html
    assert f"Campaign report: {ATTACK} & <b>" in "".join(page.text[""])  # shown as written
    assert "<img src=x onerror=alert(1)>" in page.section("roi")
    assert "script" not in page.tags and "img" not in page.tags
    assert "Funnel" in page.section("funnel") and "Targets vs actual" in page.section("targets")
    assert "漏斗" not in html


def test_a_missing_model_is_a_section_not_available(zh_report: tuple[str, dict[str, Any]]) -> None:
    def missing() -> dict[str, Any]:
        raise ModelMissing("sopflow.analytics.roi.compute_roi")

    def refused() -> dict[str, Any]:
        raise InvalidInput("funnel stage pay: the condition cannot be counted")

    assert _section(missing) == {
        "available": False,
        "problem": "this build of sopflow does not have sopflow.analytics.roi.compute_roi yet",
        "data": None,
    }
    report = {"playbook": {"id": "p", "name": "P", "version": "1", "currency": "CNY", "timezone": "Asia/Shanghai"},
              "generated_at": "2026-11-23T03:39:00+08:00", "engine": "duckdb",
              "range": {"from": None, "to": None, "tz": "Asia/Shanghai"}, "data": None, "channels": {}, "stages": [],
              "sections": {"roi": _section(missing), "targets": _section(refused)}}  # fmt: skip
    page = _parse(report_html(report))
    assert (
        "Not available: this build of sopflow does not have sopflow.analytics.roi.compute_roi yet"
        in page.section("roi")
    )
    assert "the condition cannot be counted" in page.section("targets")


def test_top_of_the_tree_keeps_counts_of_what_it_cuts() -> None:
    # a invited b, c, d; b invited e, f; e invited g; x invited y; z invited nobody known (unknown inviter).
    edges = {"b": "a", "c": "a", "d": "a", "e": "b", "f": "b", "g": "e", "y": "x", "w": "z"}
    generation = {"a": 0, "x": 0, "z": 0, "b": 1, "c": 1, "d": 1, "y": 1, "w": 1, "e": 2, "f": 2, "g": 3}
    rows = [{"person": p, "inviter": edges.get(p), "generation": g} for p, g in generation.items()]
    tree = top_of_tree(rows, roots=2, children=2, levels=3)
    assert tree["nodes"] == 11 and tree["more_roots"] == 1
    a, x = tree["roots"]
    assert (a["person"], a["invitees"], a["descendants"], a["more"]) == ("a", 3, 6, 1)
    b = a["children"][0]
    assert (b["person"], b["descendants"], [c["person"] for c in b["children"]]) == ("b", 3, ["e", "f"])
    e = b["children"][0]
    assert (e["descendants"], e["children"], e["more"]) == (1, [], 1)  # level 3: counted, not drawn
    assert (x["person"], x["descendants"]) == ("x", 1)  # ties (x and z: 1 each) by id


def test_retention_is_daily_for_a_month_then_weekly() -> None:
    assert retention_periods(None) == ("day", 1)
    assert retention_periods((0, 19 * DAY_US)) == ("day", 14)
    assert retention_periods((0, 5 * DAY_US)) == ("day", 5)
    assert retention_periods((0, 31 * DAY_US)) == ("week", 8)


def _browser() -> str | None:
    return next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)


@pytest.mark.skipif(_browser() is None, reason="needs a chromium binary on PATH")
def test_chromium_renders_the_page_offline(zh_report: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(zh_report[0], encoding="utf-8")
    browser = _browser()
    assert browser is not None
    shot = tmp_path / "shot.png"
    # Every host resolves to nothing: the page must need no network to draw.
    offline = ["--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9"]
    common = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", *offline]
    dom = subprocess.run(
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert '<section id="targets">' in dom and dom.count("<svg") >= 6 and "<rect" in dom
    subprocess.run(
        [*common, "--window-size=1200,3000", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_an_empty_workspace_gives_a_report_of_zeros(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    args = [
        "report",
        "--playbook",
        str(TEMPLATE),
        "-o",
        str(out),
        "--workspace",
        str(tmp_path / "ws"),
        "--json",
    ]
    code, stdout, err = _cli(args, "en")
    assert code == 0, err
    assert all(s["available"] for s in json.loads(stdout)["sections"].values())
    funnel = _parse(out.read_text(encoding="utf-8")).section("funnel")
    assert "all events (none yet), Asia/Shanghai" in funnel and "0 persons" in funnel


def test_a_bad_playbook_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("format: 1\nmeta: {id: x}\n", encoding="utf-8")
    out = tmp_path / "r.html"
    code, _stdout, err = _cli(["report", "--playbook", str(broken), "-o", str(out)], "en")
    assert code == 2 and "broken.yaml" in err
    assert not out.exists() and list(tmp_path.iterdir()) == [broken]


def test_the_return_event_can_be_chosen(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    args = ["report", "--playbook", str(TEMPLATE), "-o", str(out), "--workspace", str(workspace)]
    code, _stdout, err = _cli(
        [*args, "--return-event", "visit", "--from", "2024-03-01", "--to", "2024-03-07"], "en"
    )
    assert code == 0, err
    retention = _parse(out.read_text(encoding="utf-8")).section("retention")
    assert "did visit (event visit)" in retention
    assert "2024-03-01 to 2024-03-08 (excluded), Asia/Shanghai" in retention
