"""Durability and concurrency across real processes: kill -9 after the ack, writers at once, import + ingest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from sopflow.events.store import EventStore
from sopflow.workspace import Workspace

ROOT = Path(__file__).resolve().parents[2]


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.events.appender", *args],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def last_ack(proc: subprocess.Popen[str]) -> dict[str, int]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    acks = [line for line in out.splitlines() if line.startswith("acked ")]
    return json.loads(acks[-1].removeprefix("acked "))  # type: ignore[no-any-return]


def user_ids(workspace: Path) -> list[str]:
    with EventStore.open(Workspace(workspace)) as store:
        return store.scan_arrow(columns=["user_id"])["user_id"].to_pylist()  # type: ignore[no-any-return]


def test_kill_9_right_after_the_ack_loses_nothing(tmp_path: Path) -> None:
    proc = spawn(str(tmp_path), "k", "2", "--hold")
    assert proc.stdout is not None
    acks = [proc.stdout.readline(), proc.stdout.readline()]
    assert all(a.startswith("acked") for a in acks)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ids = user_ids(tmp_path)
    assert len(ids) == 100 and len(set(ids)) == 100
    with EventStore.open(Workspace(tmp_path), lock_timeout=5) as store:  # the dead writer's locks are gone
        result = store.compact()
        assert result is not None and result.sealed == 100
        assert not list(store.wal_dir.iterdir())
        assert len(store.sorted_view()) == 100


def test_kill_9_during_compaction_keeps_every_event_once(tmp_path: Path) -> None:
    proc = spawn(str(tmp_path), "c", "40", "--compact")
    time.sleep(2.5)
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    acked = [
        json.loads(line.removeprefix("acked ")) for line in out.splitlines() if line.startswith("acked ")
    ]
    ids = user_ids(tmp_path)
    assert len(ids) == len(set(ids))
    assert len(ids) >= (acked[-1]["accepted"] if acked else 0)
    with EventStore.open(Workspace(tmp_path)) as store:
        store.compact()
        assert sorted(store.scan_arrow(columns=["user_id"])["user_id"].to_pylist()) == sorted(ids)


def test_two_processes_append_at_once_and_dedupe_across_them(tmp_path: Path) -> None:
    procs = [spawn(str(tmp_path), name, "20", "--shared", "10", "--compact") for name in ("a", "b")]
    results = [last_ack(p) for p in procs]
    ids = user_ids(tmp_path)
    assert len(ids) == len(set(ids)) == 2 * 20 * 50 + 10
    assert sum(r["accepted"] for r in results) == len(ids)
    assert sum(r["duplicates"] for r in results) == 2 * 20 * 10 - 10


def test_import_while_a_server_process_appends(tmp_path: Path) -> None:
    csv = tmp_path / "events.csv"
    lines = ["用户ID,事件,时间"] + [f"imp-{i},访问,2024-03-01 10:{i % 60:02d}:00" for i in range(20_000)]
    csv.write_text("\n".join(lines), encoding="utf-8")
    writer = spawn(str(tmp_path / "ws"), "live", "30")
    importer = subprocess.run(
        [
            sys.executable,
            "-m",
            "sopflow",
            "--lang",
            "en",
            "events",
            "import",
            str(csv),
            "--workspace",
            str(tmp_path / "ws"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert importer.returncode == 0, importer.stderr
    assert last_ack(writer)["accepted"] == 30 * 50
    ids = pa.array(user_ids(tmp_path / "ws"))
    assert len(ids) == 20_000 + 1500
    assert pc.sum(pc.starts_with(ids, "imp-")).as_py() == 20_000
