"""``sopflow demo`` ends with the campaign report written beside the SOP, and says where."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def test_demo_writes_the_report_and_says_where(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    folder = tmp_path / "demo"
    result = run_cli(["demo", "--dir", str(folder), "--users", "300"], lang="zh_CN")
    assert result.exit_code == 0, result.stderr
    report = folder / "report.html"
    assert f"报告已生成：{report.resolve()}" in result.stdout.replace("\n", "")
    html = report.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html and "活动数据报告：产品经理 7 天训练营 · 社群裂变" in html
    for section in ("funnel", "aarrr", "retention", "referral", "roi", "targets"):
        assert f'<section id="{section}">' in html  # every section available, none "not available"
    assert "暂无数据" not in html
    # 8. the demo campaign: reminders delivered to the local receiver, and the status that follows
    from sopflow.channels.receivers.webhook_receiver import read_log

    assert "8. 执行活动" in result.stdout
    received = read_log(folder / "workspace" / "demo-receiver.jsonl")
    assert received and not any(r.duplicate for r in received)
    status = run_cli(["campaign", "status", "1", "--workspace", str(folder / "workspace"), "--json"])
    assert status.exit_code == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["progress"]["executed"] == data["progress"]["due"] == len(received)
    assert data["states"].get("sent") == len(received)
