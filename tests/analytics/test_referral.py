"""Referral definitions on hand-built person frames: each rule of docs/analytics.md "Referral" pinned."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.analytics.conditions import Condition
from sopflow.analytics.frame import Coded, PersonFrame, PersonTable, concat_tables
from sopflow.analytics.referral.aggregate import PlanK, ReferralResult, ReferralSpec, aggregate
from sopflow.analytics.referral.definition import InvitersStage, ReferralKernel
from sopflow.analytics.referral.export import write_tree
from sopflow.analytics.timerange import TimeRange, to_micros
from sopflow.errors import InvalidInput
from sopflow.playbook.loader import load_playbook

SHANGHAI = ZoneInfo("Asia/Shanghai")
TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "sopflow" / "playbook" / "templates"
COLUMNS = ("user_id", "inviter_id", "revenue", "product")

Person = tuple[str, list[tuple[Any, ...]]]  # (shown id, [(local time, event, {column: value})])


def us(text: str) -> int:
    return to_micros(datetime.fromisoformat(text).replace(tzinfo=SHANGHAI))


class _Column:
    def __init__(self) -> None:
        self.values: list[str] = []
        self.index: dict[str, int] = {}
        self.codes: list[int] = []

    def add(self, value: str | None) -> None:
        if value is None:
            self.codes.append(-1)
            return
        if value not in self.index:
            self.index[value] = len(self.values)
            self.values.append(value)
        self.codes.append(self.index[value])

    def coded(self) -> Coded:
        return Coded(np.array(self.codes, dtype=np.int32), self.values)


def frame_of(persons: list[Person]) -> PersonFrame:
    names: list[str] = []
    ts, event, offsets = [], [], [0]
    columns = {name: _Column() for name in COLUMNS}
    for shown, rows in persons:
        for row in sorted(rows, key=lambda r: us(r[0])):
            props = row[2] if len(row) > 2 else {}
            ts.append(us(row[0]))
            if row[1] not in names:
                names.append(row[1])
            event.append(names.index(row[1]))
            for name, column in columns.items():
                column.add(props.get(name, shown if name == "user_id" else None))
        offsets.append(len(ts))
    return PersonFrame(
        offsets=np.array(offsets, dtype=np.int64),
        ts=np.array(ts, dtype=np.int64),
        event=np.array(event, dtype=np.int32),
        event_names=names,
        columns={name: c.coded() for name, c in columns.items()},
        person_ids=[shown for shown, _rows in persons],
    )


def spec_of(*, lo: str | None = None, hi: str | None = None, **kw: Any) -> ReferralSpec:
    return ReferralSpec(range=TimeRange(us(lo) if lo else None, us(hi) if hi else None, SHANGHAI), **kw)


def run(
    persons: list[Person], spec: ReferralSpec | None = None, *, split: int | None = None
) -> ReferralResult:
    spec = spec or spec_of()
    kernel = ReferralKernel(spec.range, spec.inviters_stage)
    parts = [persons] if split is None else [persons[:split], persons[split:]]
    tables: list[PersonTable] = [kernel(frame_of(p)) for p in parts if p]
    return aggregate(concat_tables(tables), spec=spec, engine="test")


def inv(inviter: str, **more: Any) -> dict[str, Any]:
    return {"inviter_id": inviter, **more}


FAMILY: list[Person] = [
    ("a", [("2024-03-01 10:00", "signup")]),
    ("e", [("2024-03-01 12:00", "signup")]),
    (
        "b",
        [("2024-03-02 10:00", "signup", inv("a")), ("2024-03-03 10:00", "pay", inv("a", revenue="99.0000"))],
    ),
    ("c", [("2024-03-03 10:00", "signup", inv("a"))]),
    ("d", [("2024-03-05 10:00", "signup", inv("b")), ("2024-03-06 10:00", "pay", {"revenue": "50.5000"})]),
]


def test_counts_k_factor_and_generations() -> None:
    data = run(FAMILY).as_json()
    assert (data["persons"], data["inviters"], data["invitees"]) == (5, 2, 3)
    assert data["could_invite"] == {"rule": "all_persons", "stage": None, "event": None, "persons": 5}
    assert data["k_factor"] == 0.6
    assert data["max_depth"] == 2
    assert [(g["generation"], g["persons"], g["invitees"], g["k"]) for g in data["generations"]] == [
        (0, 2, 2, 1.0), (1, 2, 1, 0.5), (2, 1, 0, 0.0)
    ]  # fmt: skip
    # cycle times: b 1 day after a, c 2 days after a, d 3 days after b → median 2 days
    assert data["viral_cycle"] == {"median_seconds": 2 * 86400.0, "pairs": 3}


def test_top_sharers_with_their_invitees_money() -> None:
    sharers = run(FAMILY, spec_of(top=1)).as_json()["top_sharers"]
    assert sharers == [
        {
            "person": "a",
            "known": True,
            "generation": 0,
            "invitees": 2,
            "invitees_paid": 1,
            "invitees_revenue": 99.0,
        }
    ]
    both = run(FAMILY).as_json()["top_sharers"]
    assert [(s["person"], s["invitees_revenue"]) for s in both] == [("a", 99.0), ("b", 50.5)]


def test_the_tree_lists_who_invited_or_was_invited(tmp_path: Path) -> None:
    result = run(FAMILY)
    assert [(r.person, r.inviter, r.generation) for r in result.tree] == [
        ("a", None, 0), ("b", "a", 1), ("c", "a", 1), ("d", "b", 2)
    ]  # fmt: skip
    assert result.tree[0].first_ts == "2024-03-01T10:00:00+08:00"
    assert write_tree(tmp_path / "t.csv", result) == 4
    lines = (tmp_path / "t.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[:2] == ["person,inviter,generation,first_ts", "a,,0,2024-03-01T10:00:00+08:00"]
    write_tree(tmp_path / "t.json", result)
    rows = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert rows[3] == {
        "person": "d",
        "inviter": "b",
        "generation": 2,
        "first_ts": "2024-03-05T10:00:00+08:00",
    }
    with pytest.raises(InvalidInput, match=r"\.csv or \.json"):
        write_tree(tmp_path / "t.txt", result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv", "t.json"]


def test_an_inviter_id_may_be_any_id_of_the_inviter() -> None:
    persons: list[Person] = [
        ("u1", [("2024-03-01 09:00", "visit", {"user_id": "anon-1"}), ("2024-03-01 10:00", "signup")]),
        ("u2", [("2024-03-02 10:00", "signup", inv("anon-1"))]),
    ]
    data = run(persons).as_json()
    assert (data["inviters"], data["unknown_inviters"], data["invitees"]) == (1, 0, 1)
    assert data["top_sharers"][0]["person"] == "u1"


def test_an_unknown_inviter_counts_as_inviter_not_as_person() -> None:
    persons: list[Person] = [("b", [("2024-03-02 10:00", "signup", inv("ghost"))])]
    data = run(persons).as_json()
    assert (data["persons"], data["inviters"], data["unknown_inviters"], data["invitees"]) == (1, 1, 1, 1)
    assert data["generations"][0]["persons"] == 0 and data["generations"][1]["persons"] == 1
    assert data["k_factor"] == 1.0  # 1 invitee ÷ 1 person who could invite
    assert data["top_sharers"][0] | {} == {
        "person": "ghost", "known": False, "generation": 0, "invitees": 1, "invitees_paid": 0,
        "invitees_revenue": 0.0,
    }  # fmt: skip
    assert data["viral_cycle"]["pairs"] == 0


def test_self_invites_are_ignored_and_counted() -> None:
    persons: list[Person] = [
        ("a", [("2024-03-01 10:00", "signup", inv("a"))]),
        (
            "b",
            [
                ("2024-03-01 09:00", "visit", {"user_id": "anon-b"}),
                ("2024-03-01 10:00", "signup", inv("anon-b")),
            ],
        ),
    ]
    data = run(persons).as_json()
    assert (data["invitees"], data["inviters"], data["self_invites"]) == (0, 0, 2)


def test_the_first_non_empty_inviter_id_by_time_wins_and_ties_take_the_smallest() -> None:
    persons: list[Person] = [
        ("x", [("2024-03-01 10:00", "signup")]),
        ("y", [("2024-03-01 10:00", "signup")]),
        ("p", [("2024-03-02 09:00", "visit", inv("  ")), ("2024-03-02 10:00", "signup", inv("y")),
               ("2024-03-03 10:00", "pay", inv("x"))]),
        ("q", [("2024-03-02 10:00", "signup", inv("y")), ("2024-03-02 10:00", "visit", inv("x"))]),
    ]  # fmt: skip
    result = run(persons)
    assert {(r.person, r.inviter) for r in result.tree if r.inviter} == {("p", "y"), ("q", "x")}


def test_cycles_are_broken_at_the_earliest_member_and_counted() -> None:
    persons: list[Person] = [
        ("a", [("2024-03-01 10:00", "signup", inv("b"))]),  # earliest of the cycle: keeps no inviter
        ("b", [("2024-03-02 10:00", "signup", inv("a"))]),
        ("c", [("2024-03-03 10:00", "signup", inv("b"))]),
        ("x", [("2024-03-05 10:00", "signup", inv("z"))]),  # a 3-cycle x → z → y → x
        ("y", [("2024-03-04 10:00", "signup", inv("x"))]),
        ("z", [("2024-03-06 10:00", "signup", inv("y"))]),
    ]
    result = run(persons)
    assert result.cycles_broken == 2
    assert {(r.person, r.inviter, r.generation) for r in result.tree} == {
        ("a", None, 0), ("b", "a", 1), ("c", "b", 2), ("y", None, 0), ("z", "y", 1), ("x", "z", 2)
    }  # fmt: skip
    assert result.invitees == 4


def test_a_long_chain_and_a_big_cycle_do_not_hang() -> None:
    n = 3000
    chain: list[Person] = [(f"c{i}", [(f"2024-03-01 10:{i % 60:02d}", "signup", inv(f"c{i - 1}") if i else {})])
                           for i in range(n)]  # fmt: skip
    ring: list[Person] = [
        (f"r{i}", [("2024-03-01 10:00", "signup", inv(f"r{(i + 1) % n}"))]) for i in range(n)
    ]
    started = time.perf_counter()
    result = run(chain + ring)
    assert time.perf_counter() - started < 10
    assert result.max_depth == n - 1
    assert result.cycles_broken == 1
    # the ring is cut at its smallest id (all arrived together): r0 becomes the root of a chain r0 ← r2999 …
    assert result.invitees == 2 * (n - 1)


def test_could_invite_uses_the_inviters_stage_with_its_conditions() -> None:
    persons: list[Person] = [
        ("a", [("2024-03-01 10:00", "signup"), ("2024-03-01 11:00", "order", {"product": "camp"})]),
        ("b", [("2024-03-01 10:00", "signup"), ("2024-03-01 11:00", "order", {"product": "book"})]),
        ("c", [("2024-03-02 10:00", "signup", inv("a"))]),
        ("d", [("2024-03-02 10:00", "signup", inv("b"))]),
    ]
    stage = InvitersStage("order", "order", (Condition("product", "=", "camp"),))
    data = run(persons, spec_of(inviters_stage=stage)).as_json()
    assert data["could_invite"] == {
        "rule": "inviters_stage",
        "stage": "order",
        "event": "order",
        "persons": 1,
    }
    assert data["k_factor"] == 2.0  # both invitees count; only a could invite
    assert data["generations"][0]["could_invite"] == 1


def test_only_events_in_range_count() -> None:
    persons: list[Person] = [
        ("a", [("2024-02-01 10:00", "signup"), ("2024-03-01 10:00", "visit")]),
        ("b", [("2024-02-02 10:00", "signup", inv("a"))]),  # invited before the range: not a person in range
        ("c", [("2024-03-02 10:00", "signup", inv("a"))]),
        ("d", [("2024-04-02 10:00", "signup", inv("a"))]),  # after the range
    ]
    result = run(persons, spec_of(lo="2024-03-01 00:00", hi="2024-04-01 00:00"))
    assert (result.persons, result.invitees) == (2, 1)
    assert result.tree[0].first_ts == "2024-03-01T10:00:00+08:00"


def test_bookkeeping_only_persons_are_not_persons() -> None:
    persons: list[Person] = [
        ("a", [("2024-03-01 10:00", "$identify")]),
        ("b", [("2024-03-01 10:00", "signup")]),
    ]
    assert run(persons).persons == 1


@pytest.mark.parametrize(
    ("op", "value", "seen", "expected"),
    [
        ("=", 99, "99.0000", True), (">=", 100, "99", False), ("!=", 5, "x", False), ("=", "a", "a", True),
        ("in", ("a", "b"), "b", True), ("contains", "产品", "高级产品经理", True), ("=", True, "true", True),
        ("<", ("3", "5"), "4", True),
    ],
)  # fmt: skip
def test_stage_conditions(op: str, value: Any, seen: str, expected: bool) -> None:
    from sopflow.analytics.conditions import holds

    assert holds(Condition("p", op, value), seen) is expected
    assert holds(Condition("p", op, value), None) is False


def test_the_plan_comes_from_the_playbook() -> None:
    from sopflow.playbook.estimate import estimate

    playbook = load_playbook(TEMPLATES / "moments_7day.yaml")
    spec = ReferralSpec.from_playbook(playbook, range=TimeRange(None, None, SHANGHAI))
    plan = estimate(playbook)
    assert plan.referral is not None
    assert spec.plan == PlanK(playbook.meta.id, plan.referral.k_factor, (0.4, 0.4))
    assert spec.inviters_stage == InvitersStage(
        "order", "order_paid", (Condition("product", "=", "21天减脂营"),)
    )


def test_top_must_be_positive() -> None:
    with pytest.raises(InvalidInput, match="--top"):
        spec_of(top=0)


# against a slow reference, over any split of persons --------------------------------------------------
def reference(persons: list[Person]) -> tuple[int, dict[str, tuple[str | None, int]]]:
    """(cycles cut, person → (inviter, generation)) read literally, one link at a time."""
    ids = {shown for shown, _rows in persons}
    first = {shown: min(us(r[0]) for r in rows) for shown, rows in persons}
    parent: dict[str, str] = {}
    for shown, rows in persons:
        links = sorted((us(r[0]), r[2]["inviter_id"]) for r in rows if len(r) > 2 and r[2].get("inviter_id"))
        if links and links[0][1] != shown:
            parent[shown] = links[0][1]
    cut = 0
    for start in sorted(ids):
        seen: list[str] = []
        node: str | None = start
        while node is not None and node not in seen:
            seen.append(node)
            node = parent.get(node)
        if node is not None:  # back on the walk: a cycle from `node`
            members = seen[seen.index(node) :]
            del parent[min(members, key=lambda m: (first.get(m, 2**62), m))]
            cut += 1

    def generation(node: str) -> int:
        return 0 if node not in parent else 1 + generation(parent[node])

    nodes = set(parent) | set(parent.values())  # unknown inviters included
    return cut, {p: (parent.get(p), generation(p)) for p in nodes}


_ids = st.sampled_from([f"p{i}" for i in range(8)])
_people = st.dictionaries(
    _ids,
    st.tuples(st.integers(0, 5), st.one_of(st.none(), _ids, st.just("ghost"))),
    min_size=1,
)


@settings(max_examples=200, deadline=None)
@given(people=_people, split=st.integers(0, 8))
def test_matches_the_reference_on_any_split(people: dict[str, tuple[int, str | None]], split: int) -> None:
    persons: list[Person] = [
        (p, [(f"2024-03-0{day + 1} 10:00", "signup", inv(inviter) if inviter else {})])
        for p, (day, inviter) in people.items()
    ]
    result = run(persons, split=split)
    cut, tree = reference(persons)
    assert result.cycles_broken == cut
    assert {r.person: (r.inviter, r.generation) for r in result.tree} == tree
    assert result.invitees == sum(1 for p in people if tree.get(p, (None, 0))[0] is not None)


def test_a_playbook_without_referral_plans_k_zero(tmp_path: Path) -> None:
    text = (TEMPLATES / "moments_7day.yaml").read_text(encoding="utf-8")
    start = text.index("  referral:\n")
    end = text.index("\n\n", start)
    path = tmp_path / "no_referral.yaml"
    path.write_text(text[:start] + text[end + 1 :], encoding="utf-8")
    playbook = load_playbook(path)
    assert playbook.funnel.referral is None
    spec = ReferralSpec.from_playbook(playbook, range=TimeRange(None, None, SHANGHAI))
    assert spec.plan == PlanK(playbook.meta.id, 0.0, ())
    # the first stage is who could invite, as in the plan
    assert spec.inviters_stage is not None and spec.inviters_stage.stage == playbook.funnel.stages[0].id
    result = run(FAMILY, spec)
    assert [g["plan_k"] for g in result.as_json()["generations"]] == [0.0, 0.0, 0.0]


def test_an_engine_returning_no_columns_gives_empty_counts() -> None:
    from sopflow.analytics.referral import compute_referral

    class Nobody:
        name = "nobody"

        def map_persons(self, request: Any, fn: Any) -> PersonTable:
            return {}

        def time_bounds(self) -> None:
            return None

    data = compute_referral(Nobody(), spec_of()).as_json()
    assert (data["persons"], data["k_factor"], data["generations"][0]["persons"]) == (0, None, 0)
