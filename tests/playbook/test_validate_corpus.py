"""``sopflow playbook validate`` on a corpus of broken playbooks, each with one defect.

Every file in ``corpus/`` is ``fixtures/base.yaml`` (or a tiny document) with one mistake, and its first
line says what must be reported: ``# expect: LINE:COL CODE "substring of the English message"``.
The header replaces base.yaml's own first line (a comment), so line numbers match base.yaml's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
BASE = HERE / "fixtures" / "base.yaml"
CORPUS = sorted((HERE / "corpus").glob("*.yaml"))
HEADER = re.compile(r'^# expect: (\d+):(\d+) ([a-z_]+) "(.+)"$')
CJK = re.compile(r"[\u4e00-\u9fff]")

RunCli = Callable[..., Any]  # the run_cli fixture of tests/conftest.py


@dataclass(frozen=True)
class Expect:
    line: int
    col: int
    code: str
    text: str


def expectation(path: Path) -> Expect:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    match = HEADER.match(first)
    assert match, f"{path.name}: first line must be the # expect: header"
    return Expect(int(match[1]), int(match[2]), match[3], match[4])


def test_corpus_is_large_and_covers_every_kind_of_mistake() -> None:
    assert len(CORPUS) >= 40
    codes = {expectation(path).code for path in CORPUS}
    assert {
        "yaml_syntax",
        "duplicate_key",
        "empty",
        "not_a_mapping",
        "wrong_type",
        "missing_field",
        "unknown_field",
        "unknown_reference",
        "duplicate_id",
        "cycle",
        "outside_span",
        "bad_span",
        "invalid_time",
        "unknown_metric",
        "unknown_variable",
        "out_of_range",
        "not_finite",
        "first_stage_rate",
        "invalid_timezone",
        "invalid_id",
    } <= codes


def test_base_playbook_is_valid(run_cli: RunCli) -> None:
    result = run_cli(["playbook", "validate", str(BASE)])
    assert result.exit_code == 0, result.stdout
    assert result.stdout.strip() == "1 file(s) valid"


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_corpus_file_reports_its_problem_at_the_exact_place(run_cli: RunCli, path: Path) -> None:
    expect = expectation(path)
    result = run_cli(["playbook", "validate", str(path)])
    assert result.exit_code == 2
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    lines = result.stdout.splitlines()
    problems, summary = lines[:-1], lines[-1]
    assert problems, output
    assert all(line.startswith(f"{path}:") for line in problems), output
    wanted = f"{path}:{expect.line}:{expect.col}: "
    assert any(line.startswith(wanted) and expect.text in line for line in problems), (
        f"expected {wanted}…{expect.text}… in:\n{output}"
    )
    assert re.fullmatch(rf"{len(problems)} problem\(s\) in 1 of 1 file\(s\)", summary)


def test_corpus_as_json_in_chinese(run_cli: RunCli) -> None:
    """All files in one run: the JSON shape, the problem codes, and messages in Chinese."""
    result = run_cli(["playbook", "validate", "--json", *map(str, CORPUS)], lang="zh_CN")
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert set(report) == {"valid", "problem_count", "files"}
    assert report["valid"] is False
    assert [entry["file"] for entry in report["files"]] == [str(p) for p in CORPUS]
    assert report["problem_count"] == sum(len(entry["problems"]) for entry in report["files"])
    for path, entry in zip(CORPUS, report["files"], strict=True):
        assert set(entry) == {"file", "valid", "problems"}
        assert entry["valid"] is False
        expect = expectation(path)
        for problem in entry["problems"]:
            assert set(problem) == {"file", "line", "col", "code", "message", "path"}
            assert problem["file"] == str(path)
            assert isinstance(problem["line"], int) and problem["line"] >= 1
            assert isinstance(problem["col"], int) and problem["col"] >= 1
        hits = [
            p
            for p in entry["problems"]
            if (p["line"], p["col"], p["code"]) == (expect.line, expect.col, expect.code)
        ]
        assert hits, f"{path.name}: {entry['problems']}"
        assert CJK.search(hits[0]["message"]), f"{path.name}: not Chinese: {hits[0]['message']}"


def test_several_files_are_reported_together(run_cli: RunCli, tmp_path: Path) -> None:
    broken = [HERE / "corpus" / "unknown_script.yaml", HERE / "corpus" / "cycle_two_steps.yaml"]
    missing = tmp_path / "missing.yaml"
    result = run_cli(["playbook", "validate", str(BASE), *map(str, broken), str(missing)])
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines == [
        f"{broken[0]}:124:19: unknown script 'welcom' (known: pitch, welcome)",
        f"{broken[1]}:120:18: steps depend on each other in a cycle: greet → sell → greet",
        f"{missing}:1:1: file not found",
        "3 problem(s) in 3 of 4 file(s)",
    ]


def test_several_valid_files(run_cli: RunCli) -> None:
    result = run_cli(["playbook", "validate", str(BASE), str(BASE)])
    assert result.exit_code == 0
    assert result.stdout.strip() == "2 file(s) valid"


def test_json_report_of_a_valid_file(run_cli: RunCli) -> None:
    result = run_cli(["playbook", "validate", "--json", str(BASE)])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "valid": True,
        "problem_count": 0,
        "files": [{"file": str(BASE), "valid": True, "problems": []}],
    }


def test_json_problem_fields(run_cli: RunCli) -> None:
    path = HERE / "corpus" / "unknown_stage_in_target_metric.yaml"
    result = run_cli(["playbook", "validate", "--json", str(path)])
    assert json.loads(result.stdout)["files"][0]["problems"] == [
        {
            "file": str(path),
            "line": 77,
            "col": 46,
            "code": "unknown_reference",
            "message": "unknown stage 'sign' (known: join, pay, signup)",
            "path": "targets[0].metric",
        }
    ]


def test_chinese_message_and_summary(run_cli: RunCli) -> None:
    path = HERE / "corpus" / "missing_field_meta_owner.yaml"
    result = run_cli(["playbook", "validate", str(path)], lang="zh_CN")
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        f"{path}:3:1: 缺少必填字段 'owner'",
        "共 1 个文件，1 个有问题，共 1 个问题",
    ]


def test_truly_empty_file_and_unreadable_inputs(run_cli: RunCli, tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_bytes(b"")
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes("meta:\n  name: 训练营\n".encode("gbk"))
    result = run_cli(["playbook", "validate", str(empty), str(gbk), str(tmp_path)])
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines[0] == f"{empty}:1:1: the file is empty: a playbook is a YAML mapping"
    assert lines[1].startswith(f"{gbk}:1:1: the file is not UTF-8 text")
    assert lines[2] == f"{tmp_path}:1:1: this is a folder, not a playbook file"
    assert "Traceback" not in result.stdout + result.stderr


def test_crlf_line_endings_keep_positions(run_cli: RunCli, tmp_path: Path) -> None:
    source = HERE / "corpus" / "variable_in_block_scalar.yaml"
    crlf = tmp_path / "crlf.yaml"
    crlf.write_bytes(source.read_bytes().replace(b"\n", b"\r\n"))
    result = run_cli(["playbook", "validate", str(crlf)])
    assert result.stdout.splitlines()[0].startswith(f"{crlf}:93:11: unknown variable {{{{prise}}}}")
