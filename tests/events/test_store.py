"""The event store in one process: dedupe, identity merge, compaction, the sorted view, scans."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from tests.events.helpers import SHANGHAI, event, identify

from sopflow.errors import InvalidInput
from sopflow.events import generation
from sopflow.events.store import AppendResult, EventStore
from sopflow.events.wal import iter_frames
from sopflow.workspace import Workspace


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    opened = EventStore.open(Workspace(tmp_path / "ws"))
    yield opened  # type: ignore[misc]
    opened.close()


def view_rows(store: EventStore) -> list[tuple[str, str, str]]:
    """(person shown, UTC time, event): persons by id (their order in the view is free), rows in view order."""
    view = store.sorted_view()
    ids = view.person_ids().to_pylist()
    out = []
    for i in range(view.n_persons):
        for j in range(view.offsets[i], view.offsets[i + 1]):
            stamp = np.datetime64(int(view.ts[j]), "us").astype(str)[:16]
            out.append((ids[i], stamp, view.event_names[view.event[j]]))
    return sorted(out, key=lambda r: r[0])  # stable: keeps each person's own order


def test_append_is_deduplicated_and_all_or_nothing(store: EventStore) -> None:
    rows = [event("visit", "u1", "2024-03-01 10:00"), event("signup", "u1", "2024-03-01 10:05")]
    assert store.append_rows(rows) == AppendResult(2, 0)
    assert store.append_rows([*rows, event("pay", "u1", "2024-03-01 11:00")]) == AppendResult(1, 2)
    assert store.append_rows([rows[0], rows[0]]) == AppendResult(0, 2)
    with pytest.raises(InvalidInput):
        store.append_rows([event("pay", "u2", "2024-03-02 10:00"), {"event": "broken"}])
    assert store.scan_arrow().num_rows == 3


def test_identity_merge_counts_anonymous_history_as_the_same_person(store: EventStore) -> None:
    store.append_rows(
        [
            event("visit", "anon-1", "2024-03-01 10:00"),
            event("visit", "anon-2", "2024-03-01 10:01"),
            event("signup", "u1", "2024-03-01 10:05"),
        ]
    )
    assert store.sorted_view().n_persons == 3
    store.append_rows([identify("u1", "anon-1", "2024-03-01 10:05")])
    assert store.sorted_view().n_persons == 2
    store.compact()
    assert view_rows(store) == [
        ("anon-2", "2024-03-01T02:01", "visit"),
        ("u1", "2024-03-01T02:00", "visit"),
        ("u1", "2024-03-01T02:05", "signup"),
        ("u1", "2024-03-01T02:05", "$identify"),
    ]
    # a later event of the anonymous id still belongs to u1; a second device joins the same person
    store.append_rows([event("pay", "anon-1", "2024-03-02 09:00"), identify("u1", "anon-2", "2024-03-03")])
    assert store.sorted_view().n_persons == 1
    store.compact()
    view = store.sorted_view()
    assert view.n_persons == 1 and len(view) == 6
    assert view.person_ids().to_pylist() == ["u1"]
    assert store.stats(tz=SHANGHAI).raw_ids == 3


def test_compaction_sorts_dedupes_and_readers_see_log_plus_segments(store: EventStore) -> None:
    first = [event("visit", f"u{i % 3}", f"2024-03-0{1 + i % 5} 1{i % 10}:00") for i in range(20)]
    store.append_rows(first[:10])
    result = store.compact()
    assert result is not None and result.sealed == 10
    store.append_rows(first[5:])  # half already sealed
    assert store.scan_arrow().num_rows == 20
    assert len(store.sorted_view()) == 20
    before = view_rows(store)
    result = store.compact()
    assert result is not None and result.sealed == 10 and result.generation == 2
    assert view_rows(store) == before
    view = store.sorted_view()
    for i in range(view.n_persons):
        block = slice(view.offsets[i], view.offsets[i + 1])
        assert len(set(view.person[block].tolist())) == 1
        assert (np.diff(view.ts[block]) >= 0).all()
    assert len(set(view.person[view.offsets[:-1]].tolist())) == view.n_persons  # each person in one block
    # row points at the same event in scan order
    scanned = store.scan_arrow(columns=["event", "ts"])
    ts = scanned["ts"].cast(pa.int64()).to_numpy()
    assert (ts[np.asarray(view.row)] == np.asarray(view.ts)).all()
    full = store.compact(full=True)
    assert full is not None and full.segments == 1
    assert view_rows(store) == before
    assert (np.asarray(store.sorted_view().row) == np.arange(20)).all()


def test_sealed_log_files_are_deleted(store: EventStore) -> None:
    store.append_rows([event("visit", "u1", "2024-03-01 10:00")])
    store.compact()
    assert not list(store.wal_dir.iterdir())  # sealed, and our writer moved on to a new file
    store.append_rows([event("visit", "u2", "2024-03-01 10:00")])
    wal = list(store.wal_dir.iterdir())
    assert len(wal) == 1
    assert [t.num_rows for t, _ in iter_frames(wal[0].read_bytes())] == [1]
    store.compact()
    assert not list(store.wal_dir.iterdir())
    assert store.scan_arrow().num_rows == 2


def test_bulk_writer_is_invisible_until_commit_and_abort_leaves_nothing(store: EventStore) -> None:
    table = pa.Table.from_pylist([event("visit", f"u{i}", "2024-03-01 10:00") for i in range(5)])
    with store.bulk_writer() as writer:
        assert writer.write(table) == AppendResult(5, 0)
        assert writer.write(table) == AppendResult(0, 5)
        assert store.scan_arrow().num_rows == 0
        writer.abort()
    assert store.scan_arrow().num_rows == 0
    assert not list(store.staging_dir.iterdir())
    assert store.append_table(table) == AppendResult(5, 0)
    assert store.append_table(table) == AppendResult(0, 5)
    assert store.scan_arrow().num_rows == 5


def test_concurrent_appends_share_fsyncs(store: EventStore) -> None:
    batches = [[event("visit", f"t{t}-u{i}", "2024-03-01 10:00") for i in range(20)] for t in range(16)]
    results: list[AppendResult] = []

    def send(rows: list[dict[str, object]]) -> None:
        results.append(store.append_rows(rows))

    threads = [threading.Thread(target=send, args=(b,)) for b in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.accepted for r in results) == 320
    frames = [f for path in store.wal_dir.iterdir() for f in iter_frames(path.read_bytes())]
    assert sum(t.num_rows for t, _ in frames) == 320
    assert len(frames) <= 16


def test_stats_by_event_and_day(store: EventStore) -> None:
    store.append_rows(
        [
            event("visit", "u1", "2024-03-01 23:30"),
            event("visit", "u2", "2024-03-02 00:30"),
            event("pay", "u2", "2024-03-02 08:00", revenue="99"),
        ]
    )
    stats = store.stats(tz=SHANGHAI).as_json()
    assert stats["events"] == 3 and stats["persons"] == 2 and stats["raw_ids"] == 2
    assert stats["by_event"] == [{"event": "visit", "count": 2}, {"event": "pay", "count": 1}]
    assert stats["by_day"] == [{"date": "2024-03-01", "count": 1}, {"date": "2024-03-02", "count": 2}]
    assert stats["first"] == "2024-03-01T23:30:00+08:00"
    assert stats["store"]["log_events"] == 3


def test_only_the_current_generation_stays_on_disk(store: EventStore) -> None:
    for day in (1, 2, 3):
        store.append_rows([event("visit", f"u{day}", f"2024-03-0{day} 10:00")])
        store.compact()
    assert [p.name for p in store.events_dir.glob("gen-*")] == ["gen-000003"]
    assert len(list(store.segments_dir.iterdir())) == 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_radix_sort_order_equals_lexsort(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generation, "RADIX_FROM", 0)
    rng = np.random.default_rng(seed)
    n = 5000
    person = rng.integers(0, 200_000 if seed else 50, n).astype(np.int32)
    ts = rng.integers(0, 50, n).astype(np.int64) * 1_000_000 + 1_700_000_000_000_000
    events = rng.integers(0, 5, n).astype(np.int16)
    assert (generation.sort_order(person, ts, events) == np.lexsort((events, ts, person))).all()
