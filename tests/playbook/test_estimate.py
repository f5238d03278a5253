"""The estimate (测算) against numbers worked out by hand in each test."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.i18n import set_language
from sopflow.playbook.estimate import (
    ExpectedFlow,
    estimate,
    expected_inputs,
    format_metric,
    run_flows,
    total_money,
)
from sopflow.playbook.model import Playbook

approx = pytest.approx

BASE: dict[str, Any] = {
    "meta": {"id": "t", "name": "测试", "version": "1.0", "owner": "运营"},
    "brief": {"background": "b", "purpose": "p", "goals": ["g"]},
    "team": {"roles": [{"id": "ops", "name": "运营"}]},
    "channels": [
        # reach 10 × 100 = 1000, entrants 100, attend 50, pay 5
        {"id": "moments", "name": "朋友圈", "kind": "moments", "posters": 10, "reach_per_poster": 100,
         "entry_rate": 0.1, "cost": 200, "manpower": {"people": 2, "hours": 5}},
        # reach 2000, entrants 100, attend 50, pay 50 × 0.2 = 10 (override)
        {"id": "paid", "name": "投放", "kind": "paid", "expected_reach": 2000, "entry_rate": 0.05, "cost": 1000,
         "rates": {"pay": 0.2}},
    ],
    "funnel": {"stages": [
        {"id": "join", "name": "进群", "event": "join", "aarrr": "acquisition"},
        {"id": "attend", "name": "听课", "event": "attend", "aarrr": "activation", "expected_rate": 0.5},
        {"id": "pay", "name": "付费人数", "event": "pay", "aarrr": "revenue", "expected_rate": 0.1, "value": 99},
    ]},
    "costs": [
        {"id": "gift", "name": "礼品", "amount": 10, "per": "user", "stage": "pay"},
        {"id": "tools", "name": "工具", "amount": 100},
    ],
    "timeline": {
        "span": {"start": "D-1 09:00", "end": "D+1 21:00"},
        "phases": [{"id": "launch", "name": "启动", "steps": [
            {"id": "s1", "name": "发圈", "at": "D0 10:00", "owner": "ops", "channel": "moments", "action": "发"},
        ]}],
    },
}  # fmt: skip


def make(**changes: Any) -> Playbook:
    """BASE with top-level sections replaced, and ``referral=`` put into the funnel."""
    data = copy.deepcopy(BASE)
    referral = changes.pop("referral", None)
    data.update(changes)
    if referral is not None:
        data["funnel"]["referral"] = referral
    return Playbook.model_validate(data)


def test_two_channels_with_a_rate_override_and_a_per_user_cost() -> None:
    plan = estimate(make())
    assert [s.users for s in plan.stages] == approx([200, 100, 15])
    assert [s.rate_from_previous for s in plan.stages] == [None, approx(0.5), approx(0.15)]
    assert [s.rate_from_first for s in plan.stages] == approx([1, 0.5, 0.075])
    assert plan.stages[2].revenue == approx(15 * 99)
    moments, paid = plan.channels
    assert (moments.reach, moments.entrants, moments.users) == (1000, approx(100), approx([100, 50, 5]))
    assert (paid.reach, paid.entrants, paid.users) == (2000, approx(100), approx([100, 50, 10]))
    # a channel's cost: its own + the per-user gift for its payers; the campaign's tools only in the total
    assert (moments.cost, moments.revenue, moments.roi, moments.cac) == approx((250, 495, 1.98, 50))
    assert (paid.cost, paid.revenue, paid.roi, paid.cac) == approx((1100, 990, 0.9, 110))
    assert moments.manpower == {"people": 2, "hours": 5}
    t = plan.totals
    cost = 200 + 1000 + 100 + 10 * 15
    assert (t.new_users, t.referred_users, t.revenue, t.cost) == approx((200, 0, 1485, cost))
    assert (t.profit, t.roi, t.cac, t.revenue_per_user) == approx(
        (1485 - cost, 1485 / cost, cost / 15, 1485 / 200)
    )
    assert plan.referral is None
    assert plan.playbook == {"id": "t", "name": "测试", "version": "1.0"}
    assert plan.currency == "CNY"


def test_metrics_name_every_metric_of_the_target_grammar() -> None:
    m = estimate(make()).metrics
    assert list(m) == [
        "users.join", "users.attend", "users.pay", "rate.join", "rate.attend", "rate.pay",
        "rate_from_first.join", "rate_from_first.attend", "rate_from_first.pay",
        "channel_users.moments", "channel_users.paid",
        "new_users", "referred_users", "revenue", "cost", "roi", "cac", "k_factor",
    ]  # fmt: skip
    assert m["rate.join"] is None  # the first stage has no previous stage
    assert (m["users.pay"], m["rate.pay"], m["rate_from_first.pay"]) == approx((15, 0.15, 0.075))
    assert (m["channel_users.moments"], m["channel_users.paid"], m["k_factor"]) == approx((100, 100, 0))


def test_reach_falls_back_to_base_users() -> None:
    channels = [{"id": "group", "name": "社群", "kind": "community", "base_users": 400, "entry_rate": 0.25}]
    plan = estimate(make(channels=channels))
    assert (plan.channels[0].reach, plan.channels[0].entrants) == (400, approx(100))
    assert [s.users for s in plan.stages] == approx([100, 50, 5])


def test_referral_with_a_k_list_capped_by_max_generations() -> None:
    # Inviters at attend (gen 0: 50 + 50 = 100); invitees enter at join and follow the funnel's own rates.
    # gen 1: 100 × 0.5 = 50 → join 50, attend 25, pay 2.5; gen 2: 25 × 0.2 = 5 → 5, 2.5, 0.25; K 0.1 unused.
    referral = {
        "k": [0.5, 0.2, 0.1],
        "max_generations": 2,
        "inviters_stage": "attend",
        "reward_per_invitee": 2,
    }
    plan = estimate(make(referral=referral))
    assert plan.referral is not None
    assert [(g.generation, g.k, g.inviters, g.invitees) for g in plan.referral.generations] == [
        (1, 0.5, approx(100), approx(50)),
        (2, 0.2, approx(25), approx(5)),
    ]
    assert plan.referral.invitees == approx(55)
    assert plan.referral.k_factor == approx(55 / 125)
    assert [s.users for s in plan.stages] == approx([255, 127.5, 17.75])
    ref = plan.channels[-1]
    assert (ref.id, ref.kind, ref.entrants, ref.users) == (
        "referral",
        "referral",
        approx(55),
        approx([55, 27.5, 2.75]),
    )
    # rewards 2 × 55 and the gift for referred payers go to the referral pseudo-channel
    assert (ref.cost, ref.revenue) == approx((110 + 27.5, 2.75 * 99))
    cost = 1300 + 10 * 17.75 + 2 * 55
    assert plan.totals.cost == approx(cost)
    assert sum(c.cost for c in plan.channels) + 100 == approx(cost)  # + the campaign-level tools
    assert (plan.totals.new_users, plan.totals.referred_users) == approx((255, 55))
    assert plan.metrics["channel_users.referral"] == approx(55)


def test_k_list_shorter_than_the_generations_means_no_more_invitees() -> None:
    referral = {"k": [0.5, 0.2], "max_generations": 3, "inviters_stage": "attend"}
    plan = estimate(make(referral=referral))
    assert plan.referral is not None
    gen3 = plan.referral.generations[2]
    assert (gen3.k, gen3.inviters, gen3.invitees) == (0, approx(2.5), 0)
    assert plan.referral.k_factor == approx(55 / 127.5)


def test_referral_entering_at_a_later_stage_uses_the_funnel_rates_not_overrides() -> None:
    # Inviters are payers (gen 0: 5 + 10 = 15); each brings 1, who is counted at join and attend, then pays at
    # the funnel's 0.1 (not paid's 0.2). gen 1: 15 → 15, 15, 1.5; gen 2: 1.5 → 1.5, 1.5, 0.15.
    referral = {"k": 1, "max_generations": 2, "inviters_stage": "pay", "entry_stage": "attend"}
    plan = estimate(make(referral=referral))
    assert [s.users for s in plan.stages] == approx([216.5, 116.5, 16.65])
    assert plan.referral is not None
    assert plan.referral.k_factor == approx(16.5 / 16.5)
    assert plan.totals.new_users == approx(216.5)


def test_break_even_by_hand() -> None:
    # Everyone at attend (100) converts at x: profit = 99·100x − (1300 + 10·100x) = 0 → x = 1300 / 8900.
    be = estimate(make()).break_even
    assert be is not None
    assert (be.stage, be.already_above) == ("pay", False)
    assert be.rate_from_previous == approx(1300 / 8900, abs=1e-9)
    assert be.rate_from_first == approx(1300 / 8900 / 2, abs=1e-9)


def test_break_even_moves_referral_and_rewards_too() -> None:
    # payers = 127.5x (referral inviters at attend do not depend on x); profit = 89·127.5x − (1300 + 110).
    referral = {"k": [0.5, 0.2], "max_generations": 3, "inviters_stage": "attend", "reward_per_invitee": 2}
    be = estimate(make(referral=referral)).break_even
    assert be is not None
    assert be.rate_from_previous == approx(1410 / (89 * 127.5), abs=1e-9)


def test_break_even_out_of_reach_already_above_and_absent() -> None:
    expensive = [{"id": "tools", "name": "工具", "amount": 1_000_000}]
    assert estimate(make(costs=expensive)).break_even is None
    free = [dict(c, cost=0) for c in BASE["channels"]]
    be = estimate(make(channels=free, costs=[])).break_even
    assert be is not None and be.already_above and be.rate_from_previous == 0
    stages = [dict(s, aarrr="activation", value=0) for s in BASE["funnel"]["stages"]]
    assert estimate(make(funnel={"stages": stages})).break_even is None


def test_revenue_stage_falls_back_to_the_first_stage_with_a_value() -> None:
    stages = copy.deepcopy(BASE["funnel"]["stages"])
    stages[2]["aarrr"] = "retention"
    stages[1]["value"] = 5  # attend brings 5 each: the first stage with a value
    plan = estimate(make(funnel={"stages": stages}))
    assert plan.totals.revenue == approx(100 * 5 + 15 * 99)
    assert plan.totals.cac == approx(1450 / 100)
    assert plan.break_even is not None and plan.break_even.stage == "attend"


def test_zero_cost_gives_null_roi_and_zero_users_null_cac() -> None:
    free = [dict(c, cost=0) for c in BASE["channels"]]
    plan = estimate(make(channels=free, costs=[]))
    assert (plan.totals.cost, plan.totals.roi, plan.totals.cac) == (0, None, 0)
    assert plan.metrics["roi"] is None and plan.channels[0].roi is None
    stages = copy.deepcopy(BASE["funnel"]["stages"])
    stages[2]["expected_rate"] = 0
    no_payers = [dict(c, rates={}) for c in BASE["channels"]]
    plan = estimate(make(channels=no_payers, funnel={"stages": stages}))
    assert (plan.totals.cac, plan.metrics["cac"], plan.channels[0].cac) == (None, None, None)
    nobody = [dict(c, entry_rate=0) for c in BASE["channels"]]
    plan = estimate(make(channels=nobody))
    assert (plan.totals.revenue_per_user, plan.metrics["rate_from_first.pay"]) == (None, None)


TARGETS = [
    {"id": "payers", "name": "付费人数", "metric": "users.pay", "expected": 500},
    {"id": "joins", "name": "进群人数", "metric": "users.join", "expected": 200},
    {"id": "cac", "name": "获客成本", "metric": "cac", "expected": 90},
    {"id": "cost", "name": "总成本", "metric": "cost", "expected": 1000},
    {"id": "conv", "name": "付费率", "metric": "rate.pay", "expected": 0.2},
    {"id": "first", "name": "首步转化", "metric": "rate.join", "expected": 0.5},
]


def test_targets_reachable_and_unreachable_with_a_message() -> None:
    checks = {t.id: t for t in estimate(make(targets=TARGETS)).targets}
    payers = checks["payers"]
    assert (payers.planned, payers.direction, payers.reachable) == (approx(15), "at_least", False)
    assert payers.message == "target 付费人数 (users.pay) 500, plan gives 15"
    assert (checks["joins"].reachable, checks["joins"].message) == (True, None)  # exactly the target
    assert (checks["cac"].direction, checks["cac"].reachable) == ("at_most", False)  # 96.67 > 90
    assert checks["cac"].message == "target 获客成本 (cac) at most 90, plan gives 96.67"
    assert checks["cost"].message == "target 总成本 (cost) at most 1,000, plan gives 1,450"
    assert checks["conv"].message == "target 付费率 (rate.pay) 20.0%, plan gives 15.0%"
    assert (checks["first"].planned, checks["first"].reachable) == (None, None)
    assert checks["first"].message == "target 首步转化 (rate.join) 50.0%: the plan gives no value for it"


def test_target_message_in_chinese() -> None:
    set_language("zh_CN")
    checks = estimate(make(targets=TARGETS[:1])).targets
    assert checks[0].message == "目标 付费人数 (users.pay) 为 500，计划只能达到 15"


def test_target_direction_can_be_given() -> None:
    targets = [{"id": "few", "name": "进群", "metric": "users.join", "expected": 150, "direction": "at_most"}]
    check = estimate(make(targets=targets)).targets[0]
    assert (check.direction, check.reachable) == ("at_most", False)
    assert check.message == "target 进群 (users.join) at most 150, plan gives 200"


def test_format_metric_shows_more_digits_when_rounding_would_hide_the_gap() -> None:
    assert format_metric("users.pay", 499.7) == "500"
    assert format_metric("users.pay", 499.7, unlike="500") == "499.7"
    assert format_metric("rate.pay", 0.005) == "0.50%"
    assert format_metric("roi", None) == "—"


def test_json_has_the_documented_shape() -> None:
    referral = {"k": 0.5, "max_generations": 1, "inviters_stage": "attend"}
    data = estimate(make(referral=referral, targets=TARGETS[:1])).as_json()
    assert list(data) == ["playbook", "currency", "stages", "channels", "referral", "totals", "break_even",
                          "metrics", "targets", "simulations"]  # fmt: skip
    assert data["stages"][0] == {"index": 1, "id": "join", "name": "进群", "aarrr": "acquisition", "users": 250.0,
                                 "rate_from_previous": None, "rate_from_first": 1.0, "value": 0.0, "revenue": 0.0}  # fmt: skip
    assert set(data["channels"][0]) == {"id", "name", "kind", "reach", "entrants", "users", "cost", "manpower",
                                        "revenue", "roi", "cac"}  # fmt: skip
    assert data["referral"]["generations"] == [
        {"generation": 1, "k": 0.5, "inviters": 100.0, "invitees": 50.0}
    ]
    assert set(data["totals"]) == {"new_users", "referred_users", "revenue", "cost", "profit", "roi", "cac",
                                   "revenue_per_user"}  # fmt: skip
    assert set(data["break_even"]) == {"stage", "rate_from_previous", "rate_from_first", "already_above"}
    assert set(data["targets"][0]) == {"id", "name", "metric", "expected", "planned", "direction", "reachable",
                                       "message"}  # fmt: skip
    assert data["simulations"] is None
    assert data["stages"][2]["users"] == 17.5  # 15 + 2.5, with no float noise


@settings(max_examples=60, deadline=None)
@given(
    reach=st.lists(st.integers(0, 10_000), min_size=1, max_size=3),
    rates=st.lists(st.floats(0, 1), min_size=3, max_size=3),
    k=st.lists(st.floats(0, 3), min_size=1, max_size=4),
    generations=st.integers(1, 5),
    inviters=st.sampled_from(["join", "attend", "pay"]),
    entry=st.sampled_from(["join", "attend", "pay"]),
    reward=st.floats(0, 50),
)
def test_plan_invariants(
    reach: list[int], rates: list[float], k: list[float], generations: int, inviters: str, entry: str,
    reward: float,
) -> None:  # fmt: skip
    channels = [
        {"id": f"c{i}", "name": f"渠道{i}", "kind": "other", "base_users": r, "entry_rate": rates[0], "cost": 50 * i,
         "rates": {"pay": rates[2]} if i else {}}
        for i, r in enumerate(reach)
    ]  # fmt: skip
    stages = copy.deepcopy(BASE["funnel"]["stages"])
    stages[1]["expected_rate"], stages[2]["expected_rate"] = rates[1], rates[2]
    referral = {"k": k, "max_generations": generations, "inviters_stage": inviters, "entry_stage": entry,
                "reward_per_invitee": reward}  # fmt: skip
    playbook = make(channels=channels, funnel={"stages": stages}, referral=referral)
    plan = estimate(playbook)
    for i, stage in enumerate(plan.stages):
        assert stage.users == approx(sum(c.users[i] for c in plan.channels))
    users = [s.users for s in plan.stages]
    assert all(later <= earlier * (1 + 1e-12) for earlier, later in itertools.pairwise(users))
    assert plan.totals.cost == approx(sum(c.cost for c in plan.channels) + 100)
    assert plan.totals.revenue == approx(sum(c.revenue for c in plan.channels))
    assert plan.referral is not None and plan.referral.invitees == approx(plan.totals.referred_users)
    be = plan.break_even
    if be is not None and not be.already_above:
        paying = playbook.funnel.index("pay")
        flows = run_flows(playbook, expected_inputs(playbook, stage_rate=(paying, be.rate_from_previous)),
                          ExpectedFlow())  # fmt: skip
        revenue, cost = total_money(playbook, flows)
        assert float(revenue[0]) == approx(float(cost[0]), rel=1e-6)
