"""The Spark engine: per-person functions over a raw Parquet, an export and a workspace, as the embedded one."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from spark_support import requires_java, spark_engine, table_rows

from sopflow.analytics.engines.embedded import EmbeddedEngine
from sopflow.analytics.engines.spark import SparkEngine
from sopflow.analytics.engines.spark_worker import frame_of, from_ipc, to_ipc
from sopflow.analytics.frame import Coded, FrameRequest, PersonFrame, PersonTable
from sopflow.errors import InvalidInput
from sopflow.events.normalize import normalize_event
from sopflow.events.schema import EVENT_SCHEMA
from sopflow.events.store import EventStore
from sopflow.workspace import Workspace

# One JVM per test process is enough: with ``-n N --dist loadgroup`` these tests share one worker.
pytestmark = pytest.mark.xdist_group("spark")

SHANGHAI = ZoneInfo("Asia/Shanghai")
T = 1_767_225_600_000_000  # 2026-01-01 00:00 UTC, µs
S = 1_000_000


def row(event_id: str, event: str, user: str, ts: int, **extra: Any) -> dict[str, Any]:
    props = extra.pop("props", None)
    values: dict[str, Any] = dict.fromkeys(EVENT_SCHEMA.names)
    values.update(event_id=event_id, event=event, user_id=user, ts=ts, **extra)
    values["properties"] = json.dumps(props, ensure_ascii=False) if props is not None else None
    return values


# anon-1 becomes u-1 ($identify), c-alias becomes u-2 ($create_alias); e5 arrives twice (the first counts).
ROWS = [
    row("e1", "visit", "anon-1", T, channel="wx", props={"plan": "pro", "it's": "q", "n": 3}),
    row("e2", "visit", "anon-1", T + 10 * S, props={"plan": {"tier": 2}}),
    row("e3", "signup", "u-1", T + 20 * S, props={"plan": "pro"}),
    row("e4", "$identify", "u-1", T + 20 * S, props={"$anon_distinct_id": "anon-1"}),
    row("e5", "pay", "u-1", T + 30 * S, revenue=Decimal(99), props={"plan": "pro"}),
    row("e5", "pay", "u-1", T + 40 * S, revenue=Decimal(1)),
    row("e6", "visit", "b", T + 5 * S, channel="dy"),
    row("e7", "pay", "b", T + 5 * S, revenue=Decimal("10.5")),
    row("e8", "$create_alias", "u-2", T + 50 * S, props={"alias": "c-alias"}),
    row("e9", "visit", "c-alias", T + S, channel="ks", props={"n": 1.5}),
    row("e10", "signup", "u-2", T + 60 * S),
]


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Canonical rows (``ts`` in µs) as a Parquet file in the store's schema."""
    at = EVENT_SCHEMA.get_field_index("ts")
    table = pa.Table.from_pylist(rows, schema=EVENT_SCHEMA.set(at, pa.field("ts", pa.int64())))
    pq.write_table(table.set_column(at, "ts", table["ts"].cast(EVENT_SCHEMA.field("ts").type)), path)
    return path


# ---- per-person functions (pure NumPy, as every metric is) ----------------------------------------------


def counts(frame: PersonFrame) -> PersonTable:
    starts = np.asarray(frame.offsets[:-1])
    assert frame.person_ids is not None
    return {
        "person": Coded(np.arange(frame.n_persons, dtype=np.int32), list(frame.person_ids)),
        "events": np.diff(frame.offsets).astype(np.int64),
        "first_ts": np.asarray(frame.ts)[starts] if len(starts) else np.zeros(0, np.int64),
    }


def first_visit(frame: PersonFrame) -> PersonTable:
    """Properties of each person's first visit (a visit never shares its person's timestamp here)."""
    visit = frame.event_code("visit")
    rows = []
    for i in range(frame.n_persons):
        mine = np.arange(frame.offsets[i], frame.offsets[i + 1])
        visits = mine[np.asarray(frame.event)[mine] == visit]
        rows.append(int(visits[0]) if len(visits) else -1)
    index = np.asarray(rows, dtype=np.int64)
    out: PersonTable = {
        "person": Coded(np.arange(frame.n_persons, dtype=np.int32), list(frame.person_ids or []))
    }
    for name, column in frame.columns.items():
        codes = np.where(index >= 0, np.asarray(column.codes)[np.maximum(index, 0)], -1)
        out[name] = Coded(codes.astype(np.int32), column.values)
    out["visits"] = np.asarray(
        [
            np.count_nonzero(np.asarray(frame.event)[frame.offsets[i] : frame.offsets[i + 1]] == visit)
            for i in range(frame.n_persons)
        ],
        dtype=np.int32,
    )
    return out


def revenue(frame: PersonFrame) -> PersonTable:
    column = frame.columns["revenue"]
    amounts = np.asarray([float(v) if v is not None else 0.0 for v in column.decoded()], dtype=np.float64)
    persons = frame.person_of_rows()
    assert frame.person_ids is not None
    return {
        "person": Coded(np.arange(frame.n_persons, dtype=np.int32), list(frame.person_ids)),
        "revenue": np.bincount(persons, weights=amounts, minlength=frame.n_persons),
        "paid": np.bincount(persons, minlength=frame.n_persons) > 0,
    }


def summary(frame: PersonFrame) -> PersonTable:
    """Per person: rows, first and last time, the set of channels (none depends on the order of ties)."""
    channel = frame.columns["channel"]
    sets = []
    for i in range(frame.n_persons):
        values = channel.take(np.arange(frame.offsets[i], frame.offsets[i + 1])).decoded()
        sets.append("|".join(sorted({v for v in values if v is not None})))
    distinct = sorted(set(sets))
    ends = np.asarray(frame.offsets)
    assert frame.person_ids is not None
    return {
        "person": Coded(np.arange(frame.n_persons, dtype=np.int32), list(frame.person_ids)),
        "events": np.diff(ends),
        "first_ts": np.asarray(frame.ts)[ends[:-1]],
        "last_ts": np.asarray(frame.ts)[ends[1:] - 1],
        "channels": Coded(np.asarray([distinct.index(v) for v in sets], dtype=np.int32), distinct),
    }


def random_rows(seed: int, *, n: int = 400, ids: int = 60, links: float = 0.03) -> list[dict[str, Any]]:
    """Events with repeated ids, ties, and $identify/$create_alias links that merge and chain persons."""
    rng = np.random.default_rng(seed)
    names = [f"id{i}" for i in range(ids)]
    rows = []
    for _ in range(n):
        kind, user = rng.random(), names[rng.integers(ids)]
        ts, event_id = T + int(rng.integers(0, 50)) * S, f"e{rng.integers(0, n - 20)}"
        if kind < links:
            rows.append(
                row(event_id, "$identify", user, ts, props={"$anon_distinct_id": names[rng.integers(ids)]})
            )
        elif kind < 2 * links:
            rows.append(row(event_id, "$create_alias", user, ts, props={"alias": names[rng.integers(ids)]}))
        else:
            event, channel = ["visit", "pay", "signup"][rng.integers(3)], [None, "wx", "dy"][rng.integers(3)]
            rows.append(row(event_id, event, user, ts, channel=channel))
    return rows


# ---- without Spark: the frame and table conversions --------------------------------------------------------


def test_frame_of_groups_rows_by_person_across_batches() -> None:
    batches = [
        pa.record_batch({"person": ["a", "a"], "ts": [1, 2], "event": ["x", "y"], "_c0": ["p", None]}),
        pa.record_batch({"person": ["a", "b"], "ts": [3, 1], "event": ["x", "x"], "_c0": ["p", "q"]}),
    ]
    frame = frame_of(pa.Table.from_batches(batches), columns=("plan",), person_ids=True)
    assert frame.offsets.tolist() == [0, 3, 4]
    assert frame.person_ids == ["a", "b"]
    assert [frame.event_names[c] for c in frame.event] == ["x", "y", "x", "x"]
    assert frame.columns["plan"].decoded() == ["p", None, "p", "q"]


def test_person_tables_travel_as_arrow_and_back() -> None:
    table: PersonTable = {
        "who": Coded(np.array([1, -1, 0], np.int32), ["a", "b"]),
        "n": np.array([1, 2, 3], np.uint16),
        "ok": np.array([True, False, True]),
        "x": np.array([0.5, np.nan, 2.0]),
        "when": np.array([1, 2, 3], "datetime64[us]"),
    }
    back = from_ipc(to_ipc(table))
    assert list(back) == list(table)
    assert isinstance(back["who"], Coded) and back["who"].decoded() == ["b", None, "a"]
    for name in ("n", "ok", "x", "when"):
        assert back[name].dtype == table[name].dtype
        np.testing.assert_array_equal(back[name], table[name])


def test_csv_and_missing_paths_are_refused_before_spark_starts(tmp_path: Path) -> None:
    csv = tmp_path / "events.csv"
    csv.write_text("event,user_id,ts\nvisit,a,2026-01-01\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="--engine duckdb"):
        SparkEngine.open(workspace=Workspace.resolve(tmp_path / "ws"), events_path=csv)
    with pytest.raises(InvalidInput, match="no such file"):
        SparkEngine.open(workspace=Workspace.resolve(tmp_path / "ws"), events_path=tmp_path / "nope.parquet")


# ---- on Spark ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SparkEngine]:
    folder = tmp_path_factory.mktemp("raw")
    path = write_rows(folder / "events.parquet", ROWS)
    return path, spark_engine(folder / "ws", events_path=path, tz=SHANGHAI)


def embedded(path: Path) -> EmbeddedEngine:
    return EmbeddedEngine.open(workspace=Workspace.resolve(path.parent / "ws"), events_path=path, tz=SHANGHAI)


@requires_java
def test_counts_and_first_times_with_identity_merged(raw: tuple[Path, SparkEngine]) -> None:
    path, engine = raw
    request = FrameRequest(person_ids=True)
    got = table_rows(engine.map_persons(request, counts), key="person")
    assert got == [
        {"person": "b", "events": 2, "first_ts": T + 5 * S},
        {"person": "u-1", "events": 5, "first_ts": T},  # anon-1's visits, and e5 once
        {"person": "u-2", "events": 3, "first_ts": T + S},  # c-alias's visit
    ]
    assert table_rows(embedded(path).map_persons(request, counts), key="person") == got
    assert engine.time_bounds() == (T, T + 60 * S)


@requires_java
def test_properties_from_columns_and_json_keys(raw: tuple[Path, SparkEngine]) -> None:
    path, engine = raw
    request = FrameRequest(columns=("channel", "plan", "it's", "n"), person_ids=True)
    got = table_rows(engine.map_persons(request, first_visit), key="person")
    assert got == [
        {"person": "b", "channel": "dy", "plan": None, "it's": None, "n": None, "visits": 1},
        {"person": "u-1", "channel": "wx", "plan": "pro", "it's": "q", "n": "3", "visits": 2},
        {"person": "u-2", "channel": "ks", "plan": None, "it's": None, "n": "1.5", "visits": 1},
    ]
    assert table_rows(embedded(path).map_persons(request, first_visit), key="person") == got


@requires_java
def test_event_filter_and_revenue_text(raw: tuple[Path, SparkEngine]) -> None:
    path, engine = raw
    request = FrameRequest(events=frozenset({"pay", "$identify"}), columns=("revenue",), person_ids=True)
    got = table_rows(engine.map_persons(request, revenue), key="person")
    assert got == [
        {"person": "b", "revenue": 10.5, "paid": True},
        {"person": "u-1", "revenue": 99.0, "paid": True},  # "99.0000"; the later copy of e5 is dropped
    ]
    assert table_rows(embedded(path).map_persons(request, revenue), key="person") == got
    nothing = engine.map_persons(FrameRequest(events=frozenset({"refund"}), person_ids=True), counts)
    assert [len(c) for c in nothing.values()] == [0, 0, 0]
    assert nothing["events"].dtype == np.int64


@requires_java
def test_random_identity_links_and_duplicates_match_the_embedded_engine(tmp_path: Path) -> None:
    # Persons with two identified ids show the one seen first: the engines must agree on that too.
    path = write_rows(tmp_path / "random.parquet", random_rows(0))
    request = FrameRequest(columns=("channel",), person_ids=True)
    got = table_rows(
        spark_engine(tmp_path / "ws", events_path=path).map_persons(request, summary), key="person"
    )
    assert got == table_rows(embedded(path).map_persons(request, summary), key="person")
    assert sum(r["events"] for r in got) == len({r["event_id"] for r in random_rows(0)})


@requires_java
def test_workspace_is_exported_once_and_again_when_it_changes(tmp_path: Path) -> None:
    workspace = Workspace.resolve(tmp_path / "ws")
    rows = [
        normalize_event({"event": "visit", "user_id": "anon-9", "ts": "2026-01-02 08:00:00"}, tz=SHANGHAI),
        normalize_event(
            {
                "event": "$identify",
                "user_id": "u-9",
                "ts": "2026-01-02 08:05:00",
                "properties": {"$anon_distinct_id": "anon-9"},
            },
            tz=SHANGHAI,
        ),
        normalize_event({"event": "pay", "user_id": "u-9", "ts": "2026-01-02 09:00:00"}, tz=SHANGHAI),
    ]
    with EventStore.open(workspace) as store:
        store.append_rows(rows)
    request = FrameRequest(person_ids=True)
    engine = spark_engine(workspace.root)
    exports = sorted((workspace.exports_dir / "spark").iterdir())
    assert len(exports) == 1
    first = table_rows(engine.map_persons(request, counts), key="person")
    assert first == [{"person": "u-9", "events": 3, "first_ts": T + 24 * 3600 * S}]
    assert first == table_rows(
        EmbeddedEngine.open(workspace=workspace).map_persons(request, counts), key="person"
    )

    spark_engine(workspace.root)
    assert sorted((workspace.exports_dir / "spark").iterdir()) == exports  # up to date: reused

    with EventStore.open(workspace) as store:
        store.append_rows(
            [normalize_event({"event": "visit", "user_id": "z", "ts": "2026-01-03"}, tz=SHANGHAI)]
        )
    again = spark_engine(workspace.root)
    now = sorted((workspace.exports_dir / "spark").iterdir())
    assert len(now) == 1 and now != exports  # the stale export is replaced
    assert table_rows(again.map_persons(request, counts), key="person")[1]["person"] == "z"


@requires_java
def test_an_empty_workspace_has_no_bounds_and_no_persons(tmp_path: Path) -> None:
    engine = spark_engine(tmp_path / "empty")
    assert engine.time_bounds() is None
    table = engine.map_persons(FrameRequest(person_ids=True), counts)
    assert [len(c) for c in table.values()] == [0, 0, 0]


@requires_java
def test_naive_times_are_read_in_the_timezone_and_shape_is_checked(tmp_path: Path) -> None:
    naive = pa.table({"event": ["visit"], "user_id": ["a"], "ts": pa.array([0], pa.timestamp("us"))})
    pq.write_table(naive, tmp_path / "naive.parquet")
    engine = spark_engine(tmp_path / "ws", events_path=tmp_path / "naive.parquet", tz=SHANGHAI)
    assert engine.time_bounds() == (-8 * 3600 * S, -8 * 3600 * S)  # 1970-01-01 00:00 in Shanghai

    blank = pa.table(
        {"event": ["visit", "pay"], "user_id": ["a", " "], "ts": pa.array([0, 1], pa.timestamp("us"))}
    )
    pq.write_table(blank, tmp_path / "blank.parquet")
    with pytest.raises(InvalidInput, match=r"blank.parquet: row 2: user_id is empty"):
        spark_engine(tmp_path / "ws", events_path=tmp_path / "blank.parquet")

    pq.write_table(pa.table({"event": ["visit"], "when": [1]}), tmp_path / "odd.parquet")
    with pytest.raises(InvalidInput, match="missing: user_id, ts"):
        spark_engine(tmp_path / "ws", events_path=tmp_path / "odd.parquet")
