"""Determinism, chunking, schema, ids, identity, touches, ordering and noise of simulated events."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from tests.simulate.helpers import playbook_of

from sopflow.events.schema import ANON_ID_PROPERTY, EVENT_SCHEMA, IDENTIFY_EVENT
from sopflow.playbook.catalog import template_names
from sopflow.playbook.model import Playbook
from sopflow.playbook.schedule import resolve_offsets
from sopflow.simulate.generator import Options, Simulation, table_of
from sopflow.simulate.scenario import BASE_VARIANT
from sopflow.simulate.table import DUPLICATE_SHARE, LATE_SHARE


def test_the_same_seed_gives_the_same_rows_and_another_seed_others(fission: Playbook) -> None:
    first = table_of(playbook=fission, options=Options(users=400, seed=3))
    again = table_of(playbook=fission, options=Options(users=400, seed=3))
    other = table_of(playbook=fission, options=Options(users=400, seed=4))
    assert first.equals(again)
    assert not first.equals(other)
    assert set(first["event_id"].to_pylist()).isdisjoint(other["event_id"].to_pylist())


@pytest.mark.parametrize("chunk", [7, 64, 333])
def test_chunked_output_equals_unchunked(fission: Playbook, chunk: int) -> None:
    whole = table_of(playbook=fission, options=Options(users=500, seed=5, chunk_users=10_000))
    chunked = table_of(playbook=fission, options=Options(users=500, seed=5, chunk_users=chunk))
    assert chunked.equals(whole)


def test_a_smaller_run_is_a_prefix_of_a_larger_one(fission: Playbook) -> None:
    small = table_of(playbook=fission, options=Options(users=200, seed=5))
    large = table_of(playbook=fission, options=Options(users=500, seed=5))
    assert large.slice(0, small.num_rows).equals(small)


def test_schema_is_the_event_schema(noisy_events: pa.Table) -> None:
    assert noisy_events.schema.equals(EVENT_SCHEMA)
    for name in ("event_id", "event", "user_id", "ts", "campaign", "properties"):
        assert noisy_events[name].null_count == 0


def test_every_template_simulates() -> None:
    for name in template_names():
        playbook = playbook_of(name)
        table = table_of(playbook=playbook, options=Options(users=300, seed=1))
        assert table.schema.equals(EVENT_SCHEMA)
        assert set(table["campaign"].to_pylist()) == {playbook.meta.id}
        names = set(table["event"].to_pylist())
        assert playbook.funnel.stages[0].event in names
        assert names <= {s.event for s in playbook.funnel.stages} | {"visit", "sop_touch", IDENTIFY_EVENT}


def test_event_ids_are_unique_without_noise_and_duplicates_are_exact_copies(
    fission_events: pa.Table, noisy_events: pa.Table
) -> None:
    assert pc.count_distinct(fission_events["event_id"]).as_py() == fission_events.num_rows
    rows = noisy_events.to_pylist()
    by_id: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_id.setdefault(str(row["event_id"]), []).append(row)
    copies = [group for group in by_id.values() if len(group) > 1]
    assert all(len(group) == 2 and group[0] == group[1] for group in copies)
    assert len(copies) == pytest.approx(DUPLICATE_SHARE * len(by_id), rel=0.5)


def test_event_ids_name_the_run_the_user_and_the_slot(noisy_events: pa.Table) -> None:
    for row in noisy_events.slice(0, 200).to_pylist():
        tag, user, slot = (
            str(row["event_id"]).split("-", 1)[0],
            row["user_id"],
            str(row["event_id"]).rsplit("-", 1)[1],
        )
        assert row["event_id"] == f"{tag}-{user}-{slot}"
        assert len(tag) == 8


def test_timestamps_are_utc_whole_milliseconds_inside_the_period(
    fission: Playbook, noisy_events: pa.Table
) -> None:
    sim = Simulation(playbook=fission, options=Options(users=1))
    d0 = datetime(2024, 3, 4, tzinfo=ZoneInfo("Asia/Shanghai"))
    first, last = d0 - timedelta(days=7), d0 - timedelta(days=7) + timedelta(days=sim.days)
    ts = noisy_events["ts"]
    assert pc.min(ts).as_py() >= first
    assert pc.max(ts).as_py() < last
    assert all(m % 1000 == 0 for m in pc.cast(ts, pa.int64()).to_pylist())


def test_start_moves_every_timestamp_by_whole_days(fission: Playbook) -> None:
    base = table_of(playbook=fission, options=Options(users=50, seed=2, noise=False))
    later = table_of(
        playbook=fission, options=Options(users=50, seed=2, noise=False, start=date(2024, 3, 11))
    )
    shift = pc.subtract(pc.cast(later["ts"], pa.int64()), pc.cast(base["ts"], pa.int64()))
    assert set(shift.to_pylist()) == {7 * 86_400 * 10**6}


def test_inviters_arrived_before_their_invitees(fission_events: pa.Table) -> None:
    links = _person_of(fission_events)
    anon = pa.table({"user_id": list(links), "person": list(links.values())})
    events = fission_events.select(["user_id", "ts"]).join(anon, "user_id", join_type="left outer")
    person = pc.coalesce(events["person"], events["user_id"])
    first = (
        pa.table({"person": person, "ts": pc.cast(events["ts"], pa.int64())})
        .group_by("person")
        .aggregate([("ts", "min")])
    )
    first_seen = dict(zip(first["person"].to_pylist(), first["ts_min"].to_pylist(), strict=True))
    signed_at = dict(zip(*_signed_up(fission_events), strict=True))
    invited = fission_events.filter(pc.is_valid(fission_events["inviter_id"]))
    pairs = set(zip(invited["user_id"].to_pylist(), invited["inviter_id"].to_pylist(), strict=True))
    assert len(pairs) > 1000
    for user, inviter in pairs:
        assert inviter in signed_at, "the inviter is a simulated, signed-up user"
        assert signed_at[inviter] < first_seen[links.get(user, user)]


def _person_of(table: pa.Table) -> dict[str, str]:
    identify = table.filter(pc.equal(table["event"], IDENTIFY_EVENT))
    return {
        json.loads(props)[ANON_ID_PROPERTY]: user
        for user, props in zip(
            identify["user_id"].to_pylist(), identify["properties"].to_pylist(), strict=True
        )
    }


def test_identify_rows_link_earlier_anonymous_visits(fission_events: pa.Table) -> None:
    identify = fission_events.filter(pc.equal(fission_events["event"], IDENTIFY_EVENT))
    links = _person_of(fission_events)
    assert len(links) == identify.num_rows, "each anonymous id is identified once"
    assert 0.25 < identify.num_rows / len(_signed_up(fission_events)[0]) < 0.45
    identified_at = dict(zip(identify["user_id"].to_pylist(), _micros(identify), strict=True))
    anonymous = fission_events.filter(pc.starts_with(fission_events["user_id"], "anon-"))
    assert set(anonymous["event"].to_pylist()) == {"visit"}
    assert set(anonymous["user_id"].to_pylist()) == set(links)
    for anon, ts in zip(anonymous["user_id"].to_pylist(), _micros(anonymous), strict=True):
        assert ts < identified_at[links[anon]]
    signup_at = dict(zip(*_signed_up(fission_events), strict=True))
    assert all(signup_at[user] == at for user, at in identified_at.items())


def _signed_up(table: pa.Table) -> tuple[list[str], list[int]]:
    rows = table.filter(pc.equal(table["event"], "signup"))
    return rows["user_id"].to_pylist(), _micros(rows)


def _micros(table: pa.Table) -> list[int]:
    return pc.cast(table["ts"], pa.int64()).to_pylist()  # type: ignore[no-any-return]


def test_touches_reference_steps_of_the_timeline(fission: Playbook, noisy_events: pa.Table) -> None:
    touches = noisy_events.filter(pc.equal(noisy_events["event"], "sop_touch"))
    steps = {s.id: s for s in fission.timeline.steps()}
    scripts = {s.id: s for s in fission.scripts}
    seen = Counter(touches["step"].to_pylist())
    assert set(seen) <= set(steps)
    assert {"class_remind", "offer_launch", "last_call_chat", "advanced_upsell"} <= set(seen)
    assert not set(seen) & {"setup_kit", "materials_ready", "review_meeting"}, "internal steps touch nobody"
    for row in touches.slice(0, 3000).to_pylist():
        step = steps[str(row["step"])]
        assert json.loads(str(row["properties"])) == {"delivery_channel": step.channel}
        script = scripts.get(step.script or "")
        allowed = (
            {None}
            if script is None or not script.variants
            else {BASE_VARIANT, *(v.id for v in script.variants)}
        )
        assert row["variant"] in allowed
        assert row["channel"] is not None and row["campaign"] == fission.meta.id


def test_touches_follow_the_audience_at_the_step_time(fission: Playbook, noisy_events: pa.Table) -> None:
    d0 = datetime(2024, 3, 4, tzinfo=ZoneInfo("Asia/Shanghai"))
    at = {k: d0 + timedelta(seconds=v) for k, v in resolve_offsets(fission).items()}
    reached: dict[tuple[str, str], datetime] = {}
    for row in noisy_events.filter(pc.invert(pc.equal(noisy_events["event"], "sop_touch"))).to_pylist():
        key = (str(row["user_id"]), _stage_of(row))
        reached[key] = min(reached.get(key, row["ts"]), row["ts"])
    touches = noisy_events.filter(pc.equal(noisy_events["event"], "sop_touch")).to_pylist()
    checked = Counter()
    for row in touches:
        user, step = str(row["user_id"]), str(row["step"])
        when = at[step]
        assert when <= row["ts"]

        def done(stage: str, user: str = user, when: datetime = when) -> bool:
            return (user, stage) in reached and reached[(user, stage)] <= when

        if step == "class_remind":  # reached join_group, not attend
            assert done("join_group") and not done("attend")
        if step == "last_call_chat":  # reached homework, exit when pay
            assert done("homework") and not done("pay")
        if step == "advanced_upsell":  # reached pay, exit when renew
            assert done("pay") and not done("renew")
        checked[step] += 1
    assert checked["class_remind"] > 100 and checked["advanced_upsell"] > 5


def _stage_of(row: dict[str, object]) -> str:
    event, props = row["event"], json.loads(str(row["properties"]))
    return {
        "join_group": "join_group",
        "attend_class": "attend",
        "submit_homework": "homework",
        "signup": "signup",
    }.get(
        str(event),
        {"system_course": "pay", "advanced_course": "renew"}.get(props.get("product", ""), str(event)),
    )


def test_personas_make_their_criteria_match(noisy_events: pa.Table) -> None:
    signups = noisy_events.filter(pc.equal(noisy_events["event"], "signup"))
    props = Counter(signups["properties"].to_pylist())
    total = signups.num_rows
    assert props['{"years_of_work":3}'] / total == pytest.approx(0.6, abs=0.05)
    assert props['{"job_title":"产品"}'] / total == pytest.approx(0.4, abs=0.05)


def test_rows_are_grouped_by_tree_and_in_time_order_without_noise(fission: Playbook) -> None:
    table = table_of(playbook=fission, options=Options(users=300, seed=9, noise=False))
    _check_order(table, strict=True)


def test_noise_only_delays_a_few_rows(noisy_events: pa.Table) -> None:
    late = _check_order(noisy_events, strict=False)
    assert 0 < late < 4 * (LATE_SHARE + DUPLICATE_SHARE) * noisy_events.num_rows


def _check_order(table: pa.Table, *, strict: bool) -> int:
    """Trees follow one another by root number; counts rows earlier in time than the row before them."""
    persons = _person_of(table)
    roots = [persons.get(u, u).split(".")[0] for u in table["user_id"].to_pylist()]
    blocks = [roots[0]] + [b for a, b in itertools.pairwise(roots) if a != b]
    assert blocks == sorted(set(blocks)), "each tree is one block, in user order"
    ts = table["ts"].to_pylist()
    out_of_order = sum(1 for i in range(1, len(ts)) if roots[i] == roots[i - 1] and ts[i] < ts[i - 1])
    if strict:
        assert out_of_order == 0
    return out_of_order


def test_days_cuts_the_period(fission: Playbook) -> None:
    short = table_of(playbook=fission, options=Options(users=300, seed=1, days=6, noise=False))
    d0 = datetime(2024, 3, 4, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert pc.max(short["ts"]).as_py() < d0 - timedelta(days=1)
    assert "pay" not in set(short["event"].to_pylist())
