"""The cache's coded inviter and revenue columns: every row's codes give back its ``inviter_id`` and
``revenue`` exactly, the inviter ids find the merged person, after merges, incremental imports, and for a
generation written before the columns existed (upgraded by the next compaction)."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.events.helpers import event, identify

from sopflow.events.generation import Generation, load_generation
from sopflow.events.inviters import InviterIds
from sopflow.events.layout import gen_dir_name
from sopflow.events.revenues import RevenueCodes, amounts, unscaled
from sopflow.events.store import EventStore
from sopflow.workspace import Workspace


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = EventStore.open(Workspace(tmp_path / "ws"))
    yield opened
    opened.close()


def current(store: EventStore) -> Generation:
    manifest = json.loads((store.events_dir / "manifest.json").read_text(encoding="utf-8"))
    return load_generation(store.events_dir, manifest)


def sealed_rows(store: EventStore, gen: Generation) -> pa.Table:
    tables = [pq.read_table(store.segments_dir / s.name) for s in gen.segments]
    return pa.concat_tables(tables)


def check(store: EventStore) -> Generation:
    """Every cache row's codes decode to its segment row's values; inviter ids resolve to the right raw id."""
    gen = current(store)
    assert gen.inviter_ids is not None and gen.inviter_raw is not None and gen.revenue_codes is not None
    table = sealed_rows(store, gen)
    rows = np.asarray(gen.cache["row"])
    texts = gen.inviter_ids.values.to_pylist()
    codes = np.asarray(gen.cache["inviter"])
    expected = table["inviter_id"].take(pa.array(rows)).to_pylist()
    assert [texts[c] if c >= 0 else None for c in codes.tolist()] == expected
    units = gen.revenue_codes.array()
    money = np.asarray(gen.cache["revenue"])
    found = [None if c < 0 else Decimal(int(units[c])).scaleb(-4) for c in money.tolist()]
    assert found == table["revenue"].take(pa.array(rows)).to_pylist()
    raw_ids = gen.identity.raw_ids.to_pylist()
    for text, raw in zip(texts, np.asarray(gen.inviter_raw).tolist(), strict=True):
        assert (raw_ids[raw] if raw >= 0 else None) == (text if text in raw_ids else None)
    return gen


def person_of(gen: Generation, text: str) -> str:
    """The shown id of the person the inviter id ``text`` names, through the coded column."""
    assert gen.inviter_ids is not None and gen.inviter_raw is not None
    code = gen.inviter_ids.values.to_pylist().index(text)
    raw = int(gen.inviter_raw[code])
    person = int(gen.identity.labels[raw])
    return str(gen.identity.person_ids(np.array([person])).to_pylist()[0])


def test_codes_follow_identity_merges_and_incremental_imports(store: EventStore) -> None:
    store.append_rows(
        [
            event("visit", "anon-a", "2024-03-01 09:00"),
            event("signup", "b", "2024-03-01 10:00", inviter_id="anon-a"),
            event("pay", "b", "2024-03-01 11:00", revenue="99.5", inviter_id="anon-a"),
            event("signup", "c", "2024-03-01 12:00", inviter_id="ghost"),
        ]
    )
    store.compact()
    gen = check(store)
    assert person_of(gen, "anon-a") == "anon-a"
    assert int(np.asarray(gen.inviter_raw)[gen.inviter_ids.values.to_pylist().index("ghost")]) == -1  # type: ignore[union-attr]
    # a later import: anon-a identifies as a; ghost appears as a user; new inviter ids and amounts
    store.append_rows(
        [
            identify("a", "anon-a", "2024-03-02 09:00"),
            event("visit", "ghost", "2024-03-02 10:00"),
            event("signup", "d", "2024-03-02 11:00", inviter_id="a"),
            event("pay", "d", "2024-03-02 12:00", revenue="-0.0001"),
            event("pay", "c", "2024-03-02 13:00", revenue="99.5"),
        ]
    )
    store.compact()
    gen = check(store)
    assert person_of(gen, "anon-a") == "a" and person_of(gen, "a") == "a"
    assert person_of(gen, "ghost") == "ghost"
    assert gen.inviter_ids.values.to_pylist() == ["anon-a", "ghost", "a"]  # type: ignore[union-attr]
    assert gen.revenue_codes.units == [995000, -1]  # type: ignore[union-attr]
    store.compact(full=True)  # rows renumbered in cache order: the codes still follow them
    check(store)


def test_an_old_generation_is_upgraded_by_the_next_compaction(store: EventStore) -> None:
    store.append_rows(
        [
            event("visit", "x", "2024-03-01 09:00"),
            event("signup", "y", "2024-03-01 10:00", inviter_id="x", revenue="12.3456"),
            event("signup", "z", "2024-03-01 11:00", inviter_id="w"),
        ]
    )
    store.compact()
    folder = store.events_dir / gen_dir_name(current(store).number)
    for name in ("inviter.npy", "inviters.arrow", "inviter_raw.npy", "revenue.npy", "revenue_units.npy"):
        (folder / name).unlink()
    old = current(store)
    assert old.inviter_ids is None and old.revenue_codes is None and "inviter" not in old.cache
    store.append_rows([event("visit", "w", "2024-03-02 09:00"), identify("x", "anon-x", "2024-03-02 10:00")])
    store.compact()
    gen = check(store)
    assert person_of(gen, "w") == "w" and person_of(gen, "x") == "x"
    assert len(gen.cache["inviter"]) == len(gen.cache["person"]) == 5


def test_a_generation_with_inviters_only_gets_the_revenue_column(store: EventStore, tmp_path: Path) -> None:
    """Generations written when only the inviter column existed gain the revenue column, inviters kept."""
    store.append_rows([event("pay", "p", "2024-03-01 09:00", revenue="5", inviter_id="q")])
    store.compact()
    folder = store.events_dir / gen_dir_name(current(store).number)
    kept = tmp_path / "inviters.arrow"
    shutil.copy(folder / "inviters.arrow", kept)
    (folder / "revenue.npy").unlink()
    (folder / "revenue_units.npy").unlink()
    store.append_rows([event("pay", "q", "2024-03-01 10:00", revenue="7.25")])
    store.compact()
    gen = check(store)
    # the new rows are coded as they are read, the old ones at the end: codes in that order
    assert gen.revenue_codes.units == [72500, 50000]  # type: ignore[union-attr]
    with pa.memory_map(str(kept)) as source:
        before = pa.ipc.open_file(source).read_all()["id"].to_pylist()
    assert before == ["q"] and gen.inviter_ids.values.to_pylist() == ["q"]  # type: ignore[union-attr]


def test_revenue_codes_are_exact_and_amounts_match_the_text() -> None:
    values = pa.array(
        [Decimal("99.5000"), None, Decimal("-0.0001"), Decimal("99999999999999.9999"), Decimal("99.5")],
        pa.decimal128(18, 4),
    )
    codes = RevenueCodes.of()
    assert codes.encode(values).tolist() == [0, -1, 1, 2, 0]
    assert codes.encode(values.slice(2)).tolist() == [1, 2, 0]  # sliced arrays read from their offset
    units, valid = unscaled(values)
    assert valid.tolist() == [True, False, True, True, True]
    assert units.tolist() == [995000, 0, -1, 999999999999999999, 995000]
    assert amounts(codes.array()).tolist() == [
        float(str(v)) for v in values.take([0, 2, 3]).cast(pa.string()).to_pylist()
    ]


def test_inviter_ids_code_in_order_of_first_sight() -> None:
    ids = InviterIds.of()
    assert ids.encode(pa.array(["b", None, "a", "b"])).tolist() == [0, -1, 1, 0]
    assert ids.encode(pa.chunked_array([["c"], ["a"]])).tolist() == [2, 1]
    assert ids.values.to_pylist() == ["b", "a", "c"]


def test_a_full_compaction_upgrades_an_old_generation_without_new_events(store: EventStore) -> None:
    store.append_rows([event("signup", "m", "2024-03-01 09:00", inviter_id="n", revenue="1")])
    store.compact()
    folder = store.events_dir / gen_dir_name(current(store).number)
    for name in ("inviter.npy", "inviters.arrow", "inviter_raw.npy", "revenue.npy", "revenue_units.npy"):
        (folder / name).unlink()
    store.compact(full=True)
    gen = check(store)
    assert gen.inviter_ids.values.to_pylist() == ["n"] and gen.revenue_codes.units == [10000]  # type: ignore[union-attr]
