"""Referral's one pass over the cache's coded columns gives what the text path gives, to the last digit.

The same event log is read two ways: as a workspace (sealed cache with the coded inviter and revenue
columns: the compiled pass) and as an ``--events`` file (the per-person function over text columns, the
path Spark shares). Also: imports in several parts with identity merges in between, a workspace from
before the coded columns, and an unsealed log, which take the text path.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_retention_referral_spark import DAY, NEW_YORK, T0, event_log

from sopflow.analytics.conditions import Condition
from sopflow.analytics.engines.embedded import EmbeddedEngine
from sopflow.analytics.referral import ReferralSpec, compute_referral
from sopflow.analytics.referral.cached import cached_referral
from sopflow.analytics.referral.definition import InvitersStage, ReferralKernel
from sopflow.analytics.timerange import parse_range
from sopflow.events.layout import gen_dir_name
from sopflow.events.schema import EVENT_SCHEMA
from sopflow.events.store import EventStore
from sopflow.workspace import Workspace

SPECS = {
    "all": ReferralSpec(range=parse_range(None, None, tz=NEW_YORK)),
    "range, top 1": ReferralSpec(range=parse_range("2024-03-08", "2024-03-20", tz=NEW_YORK), top=1),
    "stage with a condition": ReferralSpec(
        range=parse_range("2024-03-01", "2024-03-22", tz=NEW_YORK),
        inviters_stage=InvitersStage("pay", "pay", (Condition("product", "=", "a"),)),
        top=5,
    ),
}


def workspace_of(folder: Path, parts: list[pa.Table], *, compact: bool = True) -> Workspace:
    workspace = Workspace.resolve(folder)
    with EventStore.open(workspace) as store:
        for part in parts:
            store.append_table(part)
            if compact:
                store.compact()
    return workspace


def file_engine(folder: Path, table: pa.Table) -> EmbeddedEngine:
    path = folder / "events.parquet"
    pq.write_table(table, path)
    return EmbeddedEngine.open(workspace=Workspace.resolve(folder / "unused"), events_path=path)


def uses_cache(engine: EmbeddedEngine, spec: ReferralSpec) -> bool:
    return cached_referral(engine, ReferralKernel(spec.range, spec.inviters_stage)) is not None


def same(cached: EmbeddedEngine, text: EmbeddedEngine, spec: ReferralSpec) -> dict[str, Any]:
    fast, slow = compute_referral(cached, spec), compute_referral(text, spec)
    data = fast.as_json()
    assert data == slow.as_json()
    assert fast.tree == slow.tree
    return data


@pytest.fixture(scope="module")
def log() -> pa.Table:
    return event_log(seed=5, persons=300)


@pytest.mark.parametrize("name", list(SPECS))
def test_the_cached_pass_matches_the_text_path(tmp_path: Path, log: pa.Table, name: str) -> None:
    spec = SPECS[name]
    cached = EmbeddedEngine.open(workspace=workspace_of(tmp_path / "ws", [log]))
    assert uses_cache(cached, spec)
    data = same(cached, file_engine(tmp_path, log), spec)
    if name == "all":
        assert data["self_invites"] >= 1 and data["cycles_broken"] >= 1 and data["unknown_inviters"] >= 1
        assert data["invitees"] > 100 and data["top_sharers"][0]["invitees_revenue"] > 0


def test_imports_in_parts_with_merges_in_between(tmp_path: Path, log: pa.Table) -> None:
    """Inviter ids coded before the anonymous id they name was merged still find the merged person."""
    n = log.num_rows
    parts = [log.slice(0, n // 3), log.slice(n // 3, n // 3), log.slice(2 * (n // 3))]
    cached = EmbeddedEngine.open(workspace=workspace_of(tmp_path / "ws", parts))
    text = file_engine(tmp_path, log)
    for spec in SPECS.values():
        assert uses_cache(cached, spec)
        same(cached, text, spec)


def test_old_workspaces_and_unsealed_logs_take_the_text_path(tmp_path: Path, log: pa.Table) -> None:
    spec = SPECS["all"]
    text = file_engine(tmp_path, log)
    old = workspace_of(tmp_path / "old", [log])
    manifest = json.loads((old.events_dir / "manifest.json").read_text(encoding="utf-8"))
    folder = old.events_dir / gen_dir_name(int(manifest["generation"]))
    for name in ("inviter.npy", "inviters.arrow", "inviter_raw.npy", "revenue.npy", "revenue_units.npy"):
        (folder / name).unlink()
    before = EmbeddedEngine.open(workspace=old)
    assert not uses_cache(before, spec)
    same(before, text, spec)
    unsealed = EmbeddedEngine.open(workspace=workspace_of(tmp_path / "log", [log], compact=False))
    assert not uses_cache(unsealed, spec)
    same(unsealed, text, spec)


_USERS = ["a", "b", "c", "anon-a", "anon-b"]
_ANONS = ["anon-a", "anon-b", "anon-c"]  # anon-c is never a user_id: as an inviter id it names nobody
_INVITERS = [*_USERS, "anon-c", "ghost", "é", "Z"]


@st.composite
def logs(draw: st.DrawFn) -> pa.Table:
    """Small logs rich in what the definitions care about: ties in time with different inviters, merges,
    unknown and self inviters, bookkeeping events, refunds."""
    rows: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 24))):
        user = draw(st.sampled_from(_USERS))
        event = draw(st.sampled_from(["signup", "visit", "pay", "$identify", "$set"]))
        row: dict[str, Any] = {
            "event_id": f"e{i}",
            "event": event,
            "user_id": user,
            "ts": T0 + draw(st.integers(0, 4)) * DAY,
            "inviter_id": draw(st.one_of(st.none(), st.sampled_from(_INVITERS))),
        }
        if event == "pay":
            row["revenue"] = draw(st.sampled_from(["99", "0.1", "0.2", "-5.5", "0"]))
        if event == "$identify":
            row["properties"] = json.dumps({"$anon_distinct_id": draw(st.sampled_from(_ANONS))})
        rows.append(row)
    columns = {name: [r.get(name) for r in rows] for name in EVENT_SCHEMA.names}
    arrays = [
        pa.array(columns[f.name], type=pa.int64() if f.name == "ts" else pa.string()).cast(f.type)
        for f in EVENT_SCHEMA
    ]
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=logs(), split=st.integers(0, 24), ranged=st.booleans())
def test_any_log_gives_the_same_referral(
    tmp_path_factory: pytest.TempPathFactory, table: pa.Table, split: int, ranged: bool
) -> None:
    folder = tmp_path_factory.mktemp("h")
    cut = min(split, table.num_rows)
    parts = [p for p in (table.slice(0, cut), table.slice(cut)) if p.num_rows]
    cached = EmbeddedEngine.open(workspace=workspace_of(folder / "ws", parts))
    spec = ReferralSpec(
        range=parse_range("2024-03-07", "2024-03-09", tz=NEW_YORK)
        if ranged
        else parse_range(None, None, tz=NEW_YORK),
        top=3,
    )
    assert uses_cache(cached, spec)
    same(cached, file_engine(folder, table), spec)


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    columns = {name: [r.get(name) for r in rows] for name in EVENT_SCHEMA.names}
    arrays = [
        pa.array(columns[f.name], type=pa.int64() if f.name == "ts" else pa.string()).cast(f.type)
        for f in EVENT_SCHEMA
    ]
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)


def test_ties_in_time_and_ids_only_linked_never_used(tmp_path: Path) -> None:
    """At the same time the inviter whose text sorts first wins (not the one coded first); an id known only
    as the anonymous side of a link, never a ``user_id``, names no person (as in the text path)."""
    rows = [
        {"event": "signup", "user_id": "b", "ts": T0},
        {"event": "signup", "user_id": "a", "ts": T0},
        {"event": "signup", "user_id": "x", "ts": T0 + DAY, "inviter_id": "b"},
        {"event": "visit", "user_id": "x", "ts": T0 + DAY, "inviter_id": "a"},
        {
            "event": "$identify",
            "user_id": "a",
            "ts": T0,
            "properties": json.dumps({"$anon_distinct_id": "anon"}),
        },
        {"event": "signup", "user_id": "y", "ts": T0 + DAY, "inviter_id": "anon"},
    ]
    table = _table([{"event_id": f"e{i}", **row} for i, row in enumerate(rows)])
    spec = SPECS["all"]
    cached = EmbeddedEngine.open(workspace=workspace_of(tmp_path / "ws", [table]))
    assert uses_cache(cached, spec)
    data = same(cached, file_engine(tmp_path, table), spec)
    sharers = {s["person"]: (s["known"], s["invitees"]) for s in data["top_sharers"]}
    assert sharers == {"a": (True, 1), "anon": (False, 1)}
