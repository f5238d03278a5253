"""A direct import streams into several segment files on two writer lanes; every row keeps its number."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.events.helpers import event

from sopflow.events import generation
from sopflow.events import store as store_module
from sopflow.events.manifest import read_manifest
from sopflow.events.store import EventStore, canonical_table
from sopflow.workspace import Workspace


def _table(start: int, count: int, *, user: str = "u") -> pa.Table:
    rows = [event("visit", f"{user}{i % 3}", f"2024-03-01 10:{i:02d}") for i in range(start, start + count)]
    return canonical_table(rows)


def test_rows_are_numbered_across_segments_of_both_lanes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generation, "SEGMENT_ROWS", 5)
    sizes = [4, 3, 4, 2, 5, 1]  # lanes alternate; each rolls to a new segment past 5 rows
    with EventStore.open(Workspace(tmp_path / "ws")) as store:
        with store.bulk_import() as load:
            start = 0
            for size in sizes:
                load.write(_table(start, size))
                start += size
            load.commit()
        segments = read_manifest(store.events_dir)["segments"]
        # lane 0: 4 | 4 (4+4 > 5) | 5; lane 1: 3+2 | 1 (5+1 > 5); numbered in the order they were started
        assert [s["rows"] for s in segments] == [4, 5, 4, 5, 1]
        sealed = pa.concat_tables([pq.read_table(store.segments_dir / s["name"]) for s in segments])
        view = store.sorted_view()
        assert len(view.row) == sum(sizes) == sealed.num_rows
        ts = sealed["ts"].cast(pa.int64()).to_numpy()
        assert np.array_equal(ts[np.asarray(view.row)], np.asarray(view.ts))
        assert sorted(sealed["event_id"].to_pylist()) == sorted(_table(0, sum(sizes))["event_id"].to_pylist())


def test_many_small_imports_join_neighbour_segments_and_rows_keep_their_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MAX_SEGMENTS", 2)
    monkeypatch.setattr(store_module, "SEGMENT_ROWS", 6)
    with EventStore.open(Workspace(tmp_path / "ws")) as store:
        for part in range(5):  # five imports of 2 rows: joined into files of up to 6 rows
            with store.bulk_import() as load:
                load.write(_table(part * 2, 2, user=f"p{part}-"))
                load.commit()
        segments = read_manifest(store.events_dir)["segments"]
        assert [s["rows"] for s in segments] == [6, 4]
        assert sorted(p.name for p in store.segments_dir.iterdir()) == sorted(s["name"] for s in segments)
        sealed = pa.concat_tables([pq.read_table(store.segments_dir / s["name"]) for s in segments])
        view = store.sorted_view()
        ts = sealed["ts"].cast(pa.int64()).to_numpy()
        assert np.array_equal(ts[np.asarray(view.row)], np.asarray(view.ts)) and len(view.row) == 10


def test_a_repeated_event_id_brings_nothing_of_its_own(tmp_path: Path) -> None:
    first = _table(0, 3)
    copy = first.slice(1, 1).to_pylist()[0] | {"user_id": "someone-else", "event": "pay", "channel": "dy"}
    with EventStore.open(Workspace(tmp_path / "ws")) as store:
        with store.bulk_import() as load:
            load.write(first)
            assert load.write(canonical_table([copy, *_table(3, 1).to_pylist()])).duplicates == 1
            load.commit()
        view = store.sorted_view()
        assert view.n_persons == 3 and sorted(view.person_ids().to_pylist()) == ["u0", "u1", "u2"]
        assert "pay" not in view.event_names and view.channel_names == []
