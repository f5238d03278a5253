"""``sopflow events import|stats|export|compact`` end to end, through the CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from tests.conftest import CliResult

from sopflow.events.store import EventStore
from sopflow.workspace import Workspace

Run = Callable[..., CliResult]

ROWS = [
    ("用户ID", "事件", "时间", "渠道", "实付金额", "商品"),
    ("u1", "访问", "2024-03-01 10:00:00", "朋友圈", "", "课程A"),
    ("u1", "付费", "2024/3/1 10:30", "朋友圈", "￥1,299.00", "课程A"),
    ("u2", "访问", "2024-03-02 09:00", "社群", "", ""),
]
BAD_ROWS = [
    ("u3", "访问", "2024-02-30 10:00", "社群", "", ""),  # row 5: no such day
    ("", "访问", "2024-03-02 10:00", "社群", "", ""),  # row 6: no user
    ("u4", "付费", "2024-03-02 11:00", "社群", "十元", ""),  # row 7: not money
]


def write_csv(path: Path, rows: list[tuple[str, ...]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def stored(workspace: Path) -> list[dict[str, object]]:
    with EventStore.open(Workspace(workspace)) as store:
        rows = store.scan_arrow().to_pylist()
    return sorted(rows, key=lambda r: (str(r["user_id"]), str(r["ts"])))


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return tmp_path / "ws"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_with_chinese_headers_in_every_encoding(
    run_cli: Run, tmp_path: Path, ws: Path, encoding: str
) -> None:
    path = write_csv(tmp_path / "export.csv", ROWS, encoding)
    result = run_cli(["events", "import", str(path), "--workspace", str(ws), "--json"])
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["rows"], report["imported"], report["rejected"]) == (3, 3, 0)
    assert report["files"][0]["encoding"] == ("gb18030" if encoding == "gbk" else "utf-8")
    rows = stored(ws)
    assert [r["event"] for r in rows] == ["访问", "付费", "访问"]
    assert rows[1]["revenue"] == pytest.approx(1299) and rows[1]["currency"] == "CNY"
    assert rows[1]["ts"] == datetime.fromisoformat("2024-03-01T02:30:00+00:00")
    assert rows[0]["channel"] == "朋友圈" and rows[0]["properties"] == '{"商品":"课程A"}'


def test_reimport_adds_nothing(run_cli: Run, tmp_path: Path, ws: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ROWS)
    assert run_cli(["events", "import", str(path), "--workspace", str(ws)]).exit_code == 0
    again = run_cli(["events", "import", str(path), "--workspace", str(ws), "--json"])
    assert again.exit_code == 0
    assert json.loads(again.stdout)["imported"] == 0 and json.loads(again.stdout)["duplicates"] == 3
    assert len(stored(ws)) == 3


def test_rejects_file_has_excel_row_numbers_and_exit_3(run_cli: Run, tmp_path: Path, ws: Path) -> None:
    path = write_csv(tmp_path / "mixed.csv", ROWS + BAD_ROWS)
    rejects = tmp_path / "rejects.csv"
    result = run_cli(["events", "import", str(path), "--workspace", str(ws), "--rejects", str(rejects)])
    assert result.exit_code == 3
    assert "row 5" in result.stderr
    with rejects.open(encoding="utf-8-sig") as fh:
        table = list(csv.DictReader(fh))
    assert [(r["row"], r["column"], r["field"]) for r in table] == [
        ("5", "时间", "ts"),
        ("6", "用户ID", "user_id"),
        ("7", "实付金额", "revenue"),
    ]
    assert table[0]["value"] == "2024-02-30 10:00"
    assert len(stored(ws)) == 3


def test_strict_imports_nothing_and_exits_2(run_cli: Run, tmp_path: Path, ws: Path) -> None:
    path = write_csv(tmp_path / "mixed.csv", ROWS + BAD_ROWS)
    result = run_cli(["events", "import", str(path), "--workspace", str(ws), "--strict", "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["committed"] is False
    assert stored(ws) == []


def test_unreadable_file_exits_2_and_imports_nothing_from_any_file(
    run_cli: Run, tmp_path: Path, ws: Path
) -> None:
    good = write_csv(tmp_path / "good.csv", ROWS)
    broken = tmp_path / "broken.csv"
    broken.write_text('用户ID,事件,时间\nu1,访问,2024-03-01\n"u2,访问\n', encoding="utf-8")
    result = run_cli(["events", "import", str(good), str(broken), "--workspace", str(ws)])
    assert result.exit_code == 2
    assert "broken.csv" in result.stderr
    assert stored(ws) == []
    missing = run_cli(["events", "import", str(tmp_path / "nope.csv"), "--workspace", str(ws)])
    assert missing.exit_code == 2 and "nope.csv" in missing.stderr


def test_map_option_and_header_conflicts(run_cli: Run, tmp_path: Path, ws: Path) -> None:
    path = write_csv(
        tmp_path / "m.csv", [("手机号", "用户", "行为", "发生时间"), ("138", "张三", "访问", "2024-03-01")]
    )
    conflict = run_cli(["events", "import", str(path), "--workspace", str(ws), "--map", "手机号=user_id"])
    assert conflict.exit_code == 0
    assert stored(ws)[0]["user_id"] == "138"
    assert json.loads(str(stored(ws)[0]["properties"])) == {"用户": "张三"}
    bad = run_cli(["events", "import", str(path), "--workspace", str(ws), "--map", "手机号=phone"])
    assert bad.exit_code == 2 and "phone" in bad.stderr


def test_xlsx_keeps_excel_row_numbers(run_cli: Run, tmp_path: Path, ws: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["客户ID", "行为", "发生时间", "金额"])
    sheet.append([13800138000, "访问", datetime(2024, 3, 1, 10, 0), None])
    sheet.append([None, None, None, None])  # row 3 blank: skipped, still counted by Excel
    sheet.append(["u2", "付费", "不是时间", 99.5])
    sheet.append(["u3", "付费", datetime(2024, 3, 2, 8, 0), 99.5])
    book.save(tmp_path / "book.xlsx")
    rejects = tmp_path / "r.csv"
    result = run_cli(
        ["events", "import", str(tmp_path / "book.xlsx"), "--workspace", str(ws), "--rejects", str(rejects)]
    )
    assert result.exit_code == 3
    rows = stored(ws)
    assert [r["user_id"] for r in rows] == ["13800138000", "u3"]
    assert rows[1]["revenue"] == pytest.approx(99.5)
    with rejects.open(encoding="utf-8-sig") as fh:
        assert [(r["row"], r["field"]) for r in csv.DictReader(fh)] == [("4", "ts")]


def test_jsonl_with_identify_and_bad_lines(run_cli: Run, tmp_path: Path, ws: Path) -> None:
    lines = [
        {
            "event": "visit",
            "distinct_id": "anon-1",
            "timestamp": "2024-03-01T02:00:00Z",
            "properties": {"p": 1},
        },
        {"event": "identify", "distinct_id": "u1", "$anon_distinct_id": "anon-1", "timestamp": 1709258700},
        {"event": "pay", "distinct_id": "u1", "timestamp": "2024-03-01T03:00:00Z", "revenue": 9.9},
    ]
    text = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n[1]\n{broken\n"
    (tmp_path / "e.jsonl").write_text(text, encoding="utf-8")
    result = run_cli(["events", "import", str(tmp_path / "e.jsonl"), "--workspace", str(ws), "--json"])
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert (report["imported"], report["rejected"]) == (3, 2)
    stats = json.loads(run_cli(["events", "stats", "--workspace", str(ws), "--json"]).stdout)
    assert (stats["events"], stats["persons"], stats["raw_ids"]) == (3, 1, 2)


def test_jsonl_rejects_come_in_line_order_with_field_and_value(
    run_cli: Run, tmp_path: Path, ws: Path
) -> None:
    lines = [
        '{"event": "visit", "user_id": "u1", "ts": "2024-03-01 10:00:00"}',
        "[1]",
        '{"event": "visit", "user_id": "u2", "ts": "2024-02-30 10:00:00"}',
        '{"事件": "付费", "用户ID": "u3", "时间": 1709258700, "金额": "1,299.5"}',
        "{broken",
        '{"event": "visit", "ts": 1709258700}',
    ]
    (tmp_path / "e.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects = tmp_path / "r.csv"
    result = run_cli(
        ["events", "import", str(tmp_path / "e.jsonl"), "--workspace", str(ws), "--rejects", str(rejects)]
    )
    assert result.exit_code == 3
    with rejects.open(encoding="utf-8-sig") as fh:
        rows = [(r["row"], r["field"], r["value"]) for r in csv.DictReader(fh)]
    assert rows == [("2", "-", ""), ("3", "ts", "2024-02-30 10:00:00"), ("5", "-", ""), ("6", "user_id", "")]
    (paid,) = [r for r in stored(ws) if r["event"] == "付费"]
    assert str(paid["revenue"]) == "1299.5000" and paid["user_id"] == "u3"


def test_parquet_round_trip_through_export(run_cli: Run, tmp_path: Path, ws: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ROWS)
    run_cli(["events", "import", str(path), "--workspace", str(ws)])
    out = tmp_path / "dataset"
    result = run_cli(
        ["events", "export", "--format", "parquet", "-o", str(out), "--workspace", str(ws), "--json"]
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["partitions"] == 2
    assert sorted(p.name for p in out.iterdir()) == ["date=2024-03-01", "date=2024-03-02"]
    dataset = ds.dataset(out, format="parquet", partitioning="hive")
    table = dataset.to_table()
    assert table.num_rows == 3 and "person_id" in table.column_names
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    again = run_cli(["events", "export", "-o", str(out), "--workspace", str(ws)])
    assert again.exit_code == 2 and "--overwrite" in again.stderr
    # the dataset (and one file of it) imports back into another workspace unchanged
    other = tmp_path / "other"
    assert run_cli(["events", "import", str(out), "--workspace", str(other)]).exit_code == 0
    assert stored(other) == stored(ws)
    one_file = next(out.glob("date=2024-03-02/*.parquet"))
    pq.read_table(one_file)
    assert run_cli(["events", "import", str(one_file), "--workspace", str(other), "--json"]).exit_code == 0


def test_stats_and_compact_commands(run_cli: Run, tmp_path: Path, ws: Path) -> None:
    empty = run_cli(["events", "stats", "--workspace", str(ws)])
    assert empty.exit_code == 0 and "empty" in empty.stdout
    path = write_csv(tmp_path / "a.csv", ROWS)
    run_cli(["events", "import", str(path), "--workspace", str(ws), "--no-compact"])
    stats = json.loads(run_cli(["events", "stats", "--workspace", str(ws), "--json"]).stdout)
    assert stats["store"]["log_events"] == 3 and stats["by_day"] == [
        {"date": "2024-03-01", "count": 2},
        {"date": "2024-03-02", "count": 1},
    ]
    compact = json.loads(run_cli(["events", "compact", "--workspace", str(ws), "--json"]).stdout)
    assert compact["sealed"] == 3
    text = run_cli(["events", "stats", "--workspace", str(ws)], lang="zh_CN").stdout
    assert "共 3 条事件，2 位用户" in text


def test_env_workspace(run_cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOPFLOW_HOME", str(tmp_path / "env-ws"))
    path = write_csv(tmp_path / "a.csv", ROWS)
    assert run_cli(["events", "import", str(path)]).exit_code == 0
    assert len(stored(tmp_path / "env-ws")) == 3


def test_events_commands_in_a_process_of_their_own(tmp_path: Path, ws: Path) -> None:
    """The console script runs ``events`` commands without pandas (see ``sopflow.cli.WITHOUT_PANDAS``):
    every way in, the export and stats still work there."""

    def sopflow(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "sopflow", *args, "--workspace", str(ws)], capture_output=True, text=True
        )
        assert done.returncode in (0, 3), done.stderr
        return done

    book = openpyxl.Workbook()
    book.active.append(["客户ID", "行为", "发生时间"])
    book.active.append(["x1", "访问", datetime(2024, 3, 3, 10, 0)])
    book.save(tmp_path / "book.xlsx")
    lines = [{"event": "pay", "distinct_id": "j1", "uuid": "not-a-digest-1", "timestamp": 1709258700}]
    (tmp_path / "e.jsonl").write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    files = [str(write_csv(tmp_path / "a.csv", ROWS)), str(tmp_path / "book.xlsx"), str(tmp_path / "e.jsonl")]
    sopflow("events", "import", *files)
    sopflow("events", "export", "-o", str(tmp_path / "out"))
    other = json.loads(sopflow("events", "import", str(tmp_path / "out"), "--json").stdout)
    assert (other["imported"], other["duplicates"]) == (0, 5)
    stats = json.loads(sopflow("events", "stats", "--json").stdout)
    assert stats["events"] == 5 and stats["persons"] == 4
