"""The job runner (progress, failures, ownership, forgetting) and the live tail of the event log (cursors,
limits, compaction), on a real event store."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopflow.errors import InvalidInput, NotFound
from sopflow.events.store import EventStore
from sopflow.web.background.jobs import JobRunner, Progress, visible_to
from sopflow.web.background.live import parse_cursor, recent_events
from sopflow.web.background.uploads import check_mapping, suggest_mapping
from sopflow.workspace import Workspace


@pytest.fixture
def runner() -> Iterator[JobRunner]:
    jobs = JobRunner(workers=2, keep=3)
    yield jobs
    jobs.shutdown()


def test_a_job_reports_progress_then_its_result(runner: JobRunner) -> None:
    halfway = threading.Event()
    go_on = threading.Event()

    def work(progress: Progress) -> dict[str, Any]:
        progress(50, 200, "reading")
        halfway.set()
        assert go_on.wait(10)
        progress(200, 200)
        return {"imported": 7}

    job = runner.submit(kind="test", owner="op", title="t", work=work)
    assert halfway.wait(10)
    running = runner.get(job.id)
    assert (running.state, running.done, running.total, running.message) == ("running", 50, 200, "reading")
    assert running.fraction == 0.25 and running.result is None
    go_on.set()
    done = runner.wait(job.id)
    assert (done.state, done.result, done.fraction) == ("done", {"imported": 7}, 1.0)
    assert done.finished_at is not None and done.started_at is not None


def test_failures_keep_a_clean_message_and_hide_bugs(runner: JobRunner) -> None:
    def refused(progress: Progress) -> dict[str, Any]:
        raise InvalidInput("a.csv: no header row", code="not_a_table")

    def buggy(progress: Progress) -> dict[str, Any]:
        raise KeyError("internal detail")

    clean = runner.wait(runner.submit(kind="t", owner="op", title="t", work=refused).id)
    assert (clean.state, clean.message, clean.error_code) == ("failed", "a.csv: no header row", "not_a_table")
    hidden = runner.wait(runner.submit(kind="t", owner="op", title="t", work=buggy).id)
    assert hidden.state == "failed" and hidden.error_code == "internal"
    assert "internal detail" not in hidden.message and "KeyError" not in hidden.message


def test_lists_are_per_owner_and_old_finished_jobs_are_forgotten(runner: JobRunner) -> None:
    ids = [runner.submit(kind="t", owner=o, title="t", work=lambda p: {}).id for o in ("a", "b", "a", "a")]
    for job_id in ids:
        runner.wait(job_id)
    runner.submit(kind="t", owner="a", title="t", work=lambda p: {})  # the fifth: keep=3 drops the oldest
    with pytest.raises(NotFound):
        runner.get(ids[0])
    assert all(job.owner == "a" for job in runner.list(owner="a"))
    assert [job.id for job in runner.list(owner="b")] == [ids[1]]
    job = runner.get(ids[1])
    assert visible_to(job, user="b", role="viewer") and visible_to(job, user="x", role="admin")
    assert not visible_to(job, user="a", role="operator")


def event(n: int, name: str = "e") -> dict[str, Any]:
    at = datetime(2025, 3, 5, 9, 0, n, tzinfo=UTC)
    return {"event_id": f"id-{n}", "event": name, "user_id": f"u{n}", "ts": at}


def test_the_live_tail_follows_the_log_across_compaction(tmp_path: Path) -> None:
    store = EventStore.open(Workspace(tmp_path / "ws"))
    try:
        assert recent_events(store).events == []
        store.append_rows([event(1, "a"), event(2, "b")])
        store.append_rows([event(3, "c")])
        first = recent_events(store)
        assert [e["event"] for e in first.events] == ["c", "b", "a"] and not first.more
        assert recent_events(store, after=first.cursor).events == []
        assert [e["event"] for e in recent_events(store, limit=2).events] == ["c", "b"]
        assert recent_events(store, limit=2).more

        store.compact(full=True)  # seals the log: its files go, the old cursor must still work
        after_compaction = recent_events(store, after=first.cursor)
        assert after_compaction.events == []
        store.append_rows([event(4, "d")])
        assert [e["event"] for e in recent_events(store, after=after_compaction.cursor).events] == ["d"]
    finally:
        store.close()


@given(st.text(max_size=300))
def test_any_cursor_text_is_read_or_refused_cleanly(text: str) -> None:
    try:
        positions = parse_cursor(text)
    except InvalidInput as exc:
        assert exc.code == "invalid_cursor"
        return
    assert positions is None or all(
        name.endswith(".wal") and offset >= 0 for name, offset in positions.items()
    )


HEADERS = st.lists(
    st.sampled_from(["用户ID", "事件", "时间", "手机号", "渠道", "user", "ts", "备注"]), unique=True
)
TARGET = st.sampled_from(["", "-", "event", "user_id", "ts", "channel", "revenue", "nope"])


@given(HEADERS, st.data())
def test_a_mapping_is_accepted_only_with_each_required_field_from_one_column(
    headers: list[str], data: st.DataObject
) -> None:
    chosen = (
        {h: data.draw(TARGET) for h in data.draw(st.lists(st.sampled_from(headers), unique=True))}
        if headers
        else {}
    )
    full = {**suggest_mapping(headers), **chosen}
    fields = [t for t in full.values() if t not in ("", "-")]
    ok = (
        "nope" not in fields and len(fields) == len(set(fields)) and {"event", "user_id", "ts"} <= set(fields)
    )
    try:
        user_map = check_mapping(headers, chosen)
    except InvalidInput as exc:
        assert not ok and exc.code == "invalid_mapping"
        return
    assert ok
    assert {user_map[h] for h in headers if full[h] in ("event", "user_id", "ts")} == {
        "event",
        "user_id",
        "ts",
    }
