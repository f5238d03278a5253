"""Group commit: blocking and non-blocking callers share commits; every caller learns its own outcome."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from tests.events.helpers import event

from sopflow.events.group_commit import GroupCommitter, Ticket
from sopflow.events.store import AppendResult, EventStore
from sopflow.workspace import Workspace


def test_nowait_callers_are_committed_by_the_flusher_in_groups() -> None:
    groups: list[list[int]] = []
    gate = threading.Event()

    def commit(tickets: list[Ticket[int, int]]) -> None:
        gate.wait(5)  # hold the first commit so the others queue up behind it
        groups.append([t.item for t in tickets])
        for ticket in tickets:
            ticket.result = ticket.item * 10

    committer: GroupCommitter[int, int] = GroupCommitter(commit)
    results: dict[int, int | None] = {}
    done = threading.Semaphore(0)

    def on_done(ticket: Ticket[int, int]) -> None:
        results[ticket.item] = ticket.result
        done.release()

    committer.submit_nowait(1, on_done)
    for item in (2, 3, 4):
        committer.submit_nowait(item, on_done)
    gate.set()
    for _ in range(4):
        assert done.acquire(timeout=5)
    assert results == {1: 10, 2: 20, 3: 30, 4: 40}
    assert sorted(i for g in groups for i in g) == [1, 2, 3, 4] and len(groups) <= 3
    assert committer.submit(5) == 50  # a blocking caller still leads its own commit
    committer.close()
    with pytest.raises(RuntimeError):
        committer.submit_nowait(6, on_done)


def test_a_failed_commit_reaches_every_caller_and_a_broken_callback_hurts_no_one() -> None:
    def commit(tickets: list[Ticket[int, int]]) -> None:
        raise OSError("disk full")

    committer: GroupCommitter[int, int] = GroupCommitter(commit)
    errors: list[BaseException | None] = []
    done = threading.Semaphore(0)

    def broken(ticket: Ticket[int, int]) -> None:
        done.release()
        raise RuntimeError("event loop closed")

    def record(ticket: Ticket[int, int]) -> None:
        errors.append(ticket.error)
        done.release()

    committer.submit_nowait(1, broken)
    committer.submit_nowait(2, record)
    assert done.acquire(timeout=5) and done.acquire(timeout=5)
    assert isinstance(errors[0], OSError)
    with pytest.raises(OSError):
        committer.submit(3)  # the flusher survived the broken callback; this caller leads
    committer.close()


def test_store_submit_rows_is_durable_and_deduplicated(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    rows = [event("visit", "u1", "2024-03-01 10:00"), event("pay", "u1", "2024-03-01 10:05")]
    outcomes: list[tuple[AppendResult | None, BaseException | None]] = []
    done = threading.Semaphore(0)

    def on_done(result: AppendResult | None, error: BaseException | None) -> None:
        outcomes.append((result, error))
        done.release()

    store = EventStore.open(workspace)
    store.submit_rows(rows, on_done)
    assert done.acquire(timeout=10)
    store.submit_rows([rows[0]], on_done)
    store.close()  # commits what is queued before it returns
    assert done.acquire(timeout=0)
    assert outcomes == [(AppendResult(2, 0), None), (AppendResult(0, 1), None)]
    with EventStore.open(workspace) as again:
        assert again.scan_arrow(columns=["event_id"]).num_rows == 2
