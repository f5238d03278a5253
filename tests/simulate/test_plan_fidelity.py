"""A large simulated campaign realises the plan: channel shares, stage rates, channel overrides, K, revenue."""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from tests.simulate.helpers import LARGE_USERS, generation, users_at

from sopflow.playbook.estimate import estimate
from sopflow.playbook.model import Playbook
from sopflow.simulate.scenario import REFERRAL_DISPERSION


def _tolerance(p: float, n: int, *, spread: float = 1.0) -> float:
    """Five standard errors of a proportion over n people (the run is seeded, so this never flakes)."""
    return 5 * math.sqrt(spread * max(p * (1 - p), 1e-4) / max(n, 1)) + 1e-3


def test_stage_rates_match_the_plan(fission: Playbook, fission_events: pa.Table) -> None:
    plan = estimate(fission)
    reached = [users_at(fission_events, s.event, s.where) for s in fission.funnel.stages]
    for i in range(1, len(reached)):
        assert reached[i] <= reached[i - 1], "nobody skips a stage"
        expected = plan.stages[i].rate_from_previous
        assert expected is not None
        realised = len(reached[i]) / len(reached[i - 1])
        assert realised == pytest.approx(expected, abs=_tolerance(expected, len(reached[i - 1]))), (
            fission.funnel.stages[i].id
        )


def test_channel_shares_follow_reach_times_entry_rate(fission: Playbook, fission_events: pa.Table) -> None:
    signups = fission_events.filter(pc.equal(fission_events["event"], "signup"))
    per_channel = Counter(signups["channel"].to_pylist())
    weights = {c.id: c.reach() * c.entry_rate for c in fission.channels}
    total = sum(weights.values())
    assert sum(per_channel[c] for c in weights) == LARGE_USERS
    for channel, weight in weights.items():
        share = weight / total
        assert per_channel[channel] / LARGE_USERS == pytest.approx(share, abs=_tolerance(share, LARGE_USERS))


def test_channel_rate_overrides_apply(fission: Playbook, fission_events: pa.Table) -> None:
    paid = fission_events.filter(pc.equal(fission_events["channel"], "paid_feed"))
    signed = users_at(paid, "signup", [])
    joined = users_at(paid, "join_group", [])
    # paid_feed overrides join_group: 0.6 instead of the funnel's 0.75
    assert len(joined) / len(signed) == pytest.approx(0.6, abs=_tolerance(0.6, len(signed)))


def test_k_per_generation_matches_the_plan(fission: Playbook, fission_events: pa.Table) -> None:
    referral = fission.funnel.referral
    assert referral is not None
    signed = users_at(fission_events, "signup", [])  # the inviters stage of this playbook
    by_generation = Counter(generation(u) for u in signed)
    assert max(by_generation) == referral.max_generations
    for g in range(referral.max_generations):
        k = referral.k_for(g)
        realised = by_generation[g + 1] / by_generation[g]
        # negative binomial: variance k + k²/r per inviter
        se = math.sqrt((k + k * k / REFERRAL_DISPERSION) / by_generation[g])
        assert realised == pytest.approx(k, abs=5 * se + 1e-3), g


def test_invitees_come_through_the_referral_channel(fission_events: pa.Table) -> None:
    has_inviter = pc.is_valid(fission_events["inviter_id"])
    referral = pc.equal(fission_events["channel"], "referral")
    assert pc.all(pc.equal(has_inviter, referral)).as_py()
    rows = fission_events.filter(has_inviter).select(["user_id", "inviter_id"]).to_pylist()
    for row in rows[:5000]:
        if not row["user_id"].startswith("anon-"):
            assert row["user_id"].rsplit(".", 1)[0] == row["inviter_id"]


def test_revenue_is_the_stage_value_in_the_playbook_currency(
    fission: Playbook, fission_events: pa.Table
) -> None:
    paid = fission_events.filter(pc.is_valid(fission_events["revenue"]))
    assert set(paid["event"].to_pylist()) == {"pay"}
    assert set(paid["currency"].to_pylist()) == {"CNY"}
    values = Counter(paid["revenue"].to_pylist())
    pays = [users_at(fission_events, s.event, s.where) for s in fission.funnel.stages if s.value > 0]
    assert values == {Decimal("699"): len(pays[0]), Decimal("999"): len(pays[1])}
    assert pc.all(
        pc.is_null(fission_events.filter(pc.invert(pc.is_valid(fission_events["revenue"])))["currency"])
    ).as_py()


def test_stages_happen_within_the_funnel_window(fission_events: pa.Table) -> None:
    stages = fission_events.filter(
        pc.is_in(
            fission_events["event"],
            pa.array(["signup", "join_group", "attend_class", "submit_homework", "pay"]),
        )
    )
    spans = stages.group_by("user_id").aggregate([("ts", "min"), ("ts", "max")])
    longest = pc.max(pc.cast(pc.subtract(spans["ts_max"], spans["ts_min"]), pa.int64())).as_py()
    assert 7 * 86_400e6 < longest <= 14 * 86_400e6


def test_people_return_on_later_days_less_and_less(fission_events: pa.Table) -> None:
    signup = fission_events.filter(pc.equal(fission_events["event"], "signup")).select(["user_id", "ts"])
    visits = fission_events.filter(
        pc.and_(
            pc.equal(fission_events["event"], "visit"),
            pc.invert(pc.starts_with(fission_events["user_id"], "anon-")),
        )
    ).select(["user_id", "ts"])
    joined = visits.join(signup, "user_id", right_suffix="_signup")
    days = pc.divide(
        pc.cast(pc.subtract(joined["ts"], joined["ts_signup"]), pa.int64()), 86_400_000_000
    ).to_pylist()
    active: dict[int, set[str]] = {}
    for user, day in zip(joined["user_id"].to_pylist(), days, strict=True):
        active.setdefault(int(day), set()).add(user)
    people = signup.num_rows
    retention = [len(active.get(d, ())) / people for d in (1, 3, 7, 14, 28)]
    assert min(days) >= 0
    assert retention[0] > 0.1
    assert retention == sorted(retention, reverse=True)
    assert retention[-1] > 0
