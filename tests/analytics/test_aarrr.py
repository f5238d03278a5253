"""AARRR definitions on hand-built person frames: each rule of docs/analytics.md "AARRR" pinned."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from aarrr_support import PERSONS, RANGE, Event, FrameEngine, build_frame, fission, micros
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.analytics.aarrr import compute_aarrr
from sopflow.analytics.aarrr.profile import NONE, PersonProfile, ProfileSpec, stage_rules
from sopflow.analytics.conditions import from_playbook
from sopflow.analytics.conditions import holds as condition_holds
from sopflow.analytics.frame import Coded
from sopflow.playbook.model import Condition


def stages(result: dict[str, Any]) -> dict[str, tuple[Any, Any, Any]]:
    return {
        s["stage"]: (s["users"], s["rate_from_acquisition"], s["rate_from_previous"])
        for s in result["stages"]
    }


def test_the_five_stages_counted_from_the_funnel_tags() -> None:
    result = compute_aarrr(engine=FrameEngine(PERSONS), playbook=fission(), time_range=RANGE).as_json()
    assert stages(result) == {
        "acquisition": (4, 1.0, None),  # a b c d; e signed up before the range
        "activation": (2, 0.5, 0.5),  # a (join_group), b (join_group, attend)
        "retention": (1, 0.25, 0.5),  # b
        "revenue": (3, 0.75, 3.0),  # a, c (renewal stage), e; d's "book" is no stage
        "referral": (1, 0.25, pytest.approx(1 / 3)),  # a invited b (by anonymous id) and c
    }
    assert [s["funnel_stages"] for s in result["stages"]] == [
        ["signup"],
        ["join_group", "attend"],
        ["homework"],
        ["pay", "renew"],
        [],
    ]
    assert (result["persons"], result["invitees"], result["unresolved_invitees"]) == (5, 2, 1)
    assert result["by"] is None and result["breakdown"] == []
    assert result["range"]["from"] == "2024-03-04T00:00:00+08:00"


def test_without_a_range_every_event_counts() -> None:
    result = compute_aarrr(engine=FrameEngine(PERSONS), playbook=fission()).as_json()
    assert stages(result)["acquisition"][0] == 5


def test_by_channel_uses_the_first_event_with_a_channel() -> None:
    result = compute_aarrr(engine=FrameEngine(PERSONS), playbook=fission(), time_range=RANGE, by_channel=True)
    rows = {row.channel: [s.users for s in row.stages] for row in result.breakdown}
    # playbook order first, then the others seen (referral), "(none)" last
    assert list(rows) == ["official_account", "old_groups", "moments", "paid_feed", "referral", "(none)"]
    assert rows["official_account"] == [0, 0, 0, 0, 0]  # a came first through moments
    assert rows["moments"] == [2, 1, 0, 2, 1]  # a, and c (tie at 12:00: the smallest id wins)
    assert rows["paid_feed"] == [0, 0, 0, 1, 0]  # e
    assert rows["referral"] == [1, 1, 1, 0, 0]  # b
    assert rows["(none)"] == [1, 0, 0, 0, 0]  # d
    paid = next(r for r in result.breakdown if r.channel == "paid_feed")
    assert paid.stages[3].rate_from_acquisition is None  # no acquisition in that channel


@pytest.mark.parametrize(("parts", "seed"), [(1, 1), (2, 3), (3, 7), (5, 11)])
def test_any_split_of_persons_and_order_of_ties_gives_the_same_result(parts: int, seed: int) -> None:
    whole = compute_aarrr(engine=FrameEngine(PERSONS), playbook=fission(), time_range=RANGE, by_channel=True)
    split = compute_aarrr(
        engine=FrameEngine(PERSONS, parts=parts, seed=seed),
        playbook=fission(),
        time_range=RANGE,
        by_channel=True,
    )
    assert split.as_json() == whole.as_json()


def test_a_stage_without_a_tag_has_no_count_and_is_skipped_by_rates() -> None:
    playbook = fission()
    for stage in playbook.funnel.stages:
        if stage.aarrr == "retention":
            stage.aarrr = "activation"
    result = stages(compute_aarrr(engine=FrameEngine(PERSONS), playbook=playbook, time_range=RANGE).as_json())
    assert result["retention"] == (None, None, None)
    assert result["revenue"] == (3, 0.75, 1.5)  # ÷ activation (now a, b), the nearest stage with a count


def test_the_profile_row_of_each_person() -> None:
    spec = ProfileSpec(
        stages=stage_rules(fission()), start=RANGE.start, end=RANGE.end, invitations=True, aliases=True
    )
    frame = build_frame(PERSONS, spec.request())
    table = PersonProfile(spec)(frame)
    channel = table["channel"]
    assert isinstance(channel, Coded)
    assert channel.decoded() == ["moments", "referral", "moments", None, "paid_feed"]
    assert table["stage_ts_1"].tolist() == [  # type: ignore[union-attr]
        micros("2024-03-04 09:00"),
        micros("2024-03-05 10:00"),
        micros("2024-03-05 12:00"),
        micros("2024-03-06 10:00"),
        NONE,  # before the range
    ]
    pay = np.asarray(table["stage_ts_5"])
    assert pay.tolist() == [micros("2024-03-10 20:00"), NONE, NONE, NONE, micros("2024-03-08 10:00")]
    aliases = table["aliases"]
    assert isinstance(aliases, Coded)
    assert aliases.decoded() == ["a\nanon-a", "b", "c", "d", "e"]
    inviter = table["inviter"]
    assert isinstance(inviter, Coded)
    assert inviter.decoded() == [None, "anon-a", "a", "ghost", "e"]


@pytest.mark.parametrize(
    ("condition", "value", "holds"),
    [
        ({"property": "amount", "op": ">=", "value": 99}, "99.0", True),
        ({"property": "amount", "op": ">=", "value": 99}, "98.5", False),
        ({"property": "amount", "op": ">", "value": 99}, "abc", False),  # not a number: fails
        ({"property": "amount", "op": "!=", "value": 99}, None, False),  # missing fails, != too
        ({"property": "product", "op": "=", "value": "system_course"}, "system_course", True),
        ({"property": "level", "op": "in", "value": ["高级", "专家"]}, "专家", True),
        ({"property": "level", "op": "in", "value": ["高级", "专家"]}, "初级", False),
        ({"property": "tags", "op": "contains", "value": "宝妈"}, "宝妈,减脂", True),
        ({"property": "flag", "op": "=", "value": True}, "true", True),
        ({"property": "n", "op": "=", "value": 3}, "3.0", True),
    ],
)
def test_stage_conditions(condition: dict[str, Any], value: str | None, holds: bool) -> None:
    (test,) = from_playbook([Condition.model_validate(condition)])
    assert condition_holds(test, value) is holds


# -- against a slow reference, on any split of persons ------------------------------------------------------------
CHANNELS = ["moments", "paid_feed", None]
EVENTS = ["visit", "signup", "join_group", "submit_homework", "pay"]
PERSON_IDS = ["p0", "p1", "p2", "p3", "p4", "p5"]


def _reference(persons: dict[str, list[Event]]) -> dict[str, int]:
    """AARRR counts the slow, obvious way."""
    lo, hi = RANGE.start, RANGE.end
    tags = {"signup": "acquisition", "join_group": "activation", "attend_class": "activation",
            "submit_homework": "retention"}  # fmt: skip
    members: dict[str, set[str]] = {
        s: set() for s in ("acquisition", "activation", "retention", "revenue", "referral")
    }
    owner = {}  # every raw id seen as a user_id → its person
    for person, events in persons.items():
        for _t, _name, props in events:
            owner[props.get("user_id", person)] = person
    for person, events in persons.items():
        for t, name, props in events:
            inside = lo <= micros(t) < hi  # type: ignore[operator]
            if inside and name in tags:
                members[tags[name]].add(person)
            if inside and name == "pay" and props.get("product") in ("system_course", "advanced_course"):
                members["revenue"].add(person)
        invites = sorted((micros(t), str(p["inviter_id"])) for t, _n, p in events if p.get("inviter_id"))
        if invites and lo <= invites[0][0] < hi:  # type: ignore[operator]
            inviter = owner.get(invites[0][1])
            if inviter is not None and inviter != person:
                members["referral"].add(inviter)
    return {stage: len(who) for stage, who in members.items()}


@st.composite
def logs(draw: st.DrawFn) -> dict[str, list[Event]]:
    persons: dict[str, list[Event]] = {}
    for person in draw(st.lists(st.sampled_from(PERSON_IDS), min_size=1, max_size=6, unique=True)):
        events = []
        for _ in range(draw(st.integers(1, 5))):
            day, hour = draw(st.integers(1, 8)), draw(st.sampled_from([9, 10]))  # few times: many ties
            props: dict[str, Any] = {"channel": draw(st.sampled_from(CHANNELS))}
            if draw(st.booleans()):
                props["inviter_id"] = draw(st.sampled_from([*PERSON_IDS, "anon-p1", "ghost"]))
            if draw(st.integers(0, 4)) == 0:
                props["user_id"] = f"anon-{person}"
            name = draw(st.sampled_from(EVENTS))
            if name == "pay":
                props["product"] = draw(st.sampled_from(["system_course", "advanced_course", "book"]))
            events.append((f"2024-03-0{day} {hour:02d}:00", name, props))
        persons[person] = events
    return persons


FISSION = fission()


@settings(max_examples=60, deadline=None)
@given(logs(), st.integers(1, 4), st.integers(0, 1000))
def test_matches_the_reference_on_any_split(persons: dict[str, list[Event]], parts: int, seed: int) -> None:
    engine = FrameEngine(persons, parts=parts, seed=seed)
    result = compute_aarrr(engine=engine, playbook=FISSION, time_range=RANGE, by_channel=True).as_json()
    assert {s["stage"]: s["users"] for s in result["stages"]} == _reference(persons)
    whole = compute_aarrr(engine=FrameEngine(persons), playbook=FISSION, time_range=RANGE, by_channel=True)
    assert result == whole.as_json()
