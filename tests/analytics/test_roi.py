"""ROI on hand-built person frames (numbers computed by hand in the comments), and the costs file."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aarrr_support import PERSONS, RANGE, SHANGHAI, Event, FrameEngine, fission
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.analytics.roi import compute_roi
from sopflow.analytics.roi.aggregate import payback
from sopflow.analytics.roi.costs import CostRow, read_costs
from sopflow.analytics.timerange import TimeRange
from sopflow.errors import InvalidInput

# Fixed costs of the template: moments 800, paid_feed 2400; campaign items 15000 + 9000.
CAMPAIGN_COST = 24_000


def channels(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["channel"]: c for c in result["channels"]}


def test_first_touch_attribution_and_the_playbook_costs_on_actual_counts() -> None:
    result = compute_roi(engine=FrameEngine(PERSONS), playbook=fission(), time_range=RANGE).as_json()
    totals, rows = result["totals"], channels(result)
    # revenue: a 699 + c 999 + e 699 + d 10.5 (every revenue event in range counts)
    assert totals["revenue"] == 2407.5
    # cost: fixed 800 + 2400 + 24000; gifts 12 × homework (b); rewards 10 × invitees in range (b, c, d, e)
    assert totals["cost"] == 800 + 2400 + CAMPAIGN_COST + 12 + 40
    assert totals["campaign_cost"] == CAMPAIGN_COST
    assert totals["profit"] == 2407.5 - 27252
    assert totals["roi"] == pytest.approx(2407.5 / 27252)
    assert (totals["new_users"], totals["paying_users"]) == (4, 2)  # a b c d; a and e paid the system course
    assert totals["cac"] == 27252 / 2
    assert totals["cost_per_new_user"] == 27252 / 4
    assert totals["revenue_per_user"] == pytest.approx(2407.5 / 4)
    assert totals["payback_days"] is None  # never paid back
    assert result["days"] == {"first": "2024-03-04", "last": "2024-03-31"}
    # first touch: a → moments (anonymous visit), c → moments (tie), e → paid_feed, d → none
    assert {k: v["revenue"] for k, v in rows.items()} == {
        "official_account": 0,
        "old_groups": 0,
        "moments": 1698,
        "paid_feed": 699,
        "referral": 0,
        "(none)": 10.5,
    }
    moments = rows["moments"]
    assert (moments["cost"], moments["new_users"], moments["paying_users"]) == (800, 2, 1)
    assert moments["roi"] == pytest.approx(1698 / 800) and moments["cac"] == 800
    assert (moments["payback_days"], moments["payback_date"]) == (
        8,
        "2024-03-12",
    )  # 699 on the 10th, 999 on the 12th
    assert rows["referral"]["cost_parts"] == {"fixed": 0, "per_user": 12, "rewards": 40}
    assert rows["paid_feed"]["payback_days"] is None
    assert rows["paid_feed"]["cost_per_new_user"] is None  # nobody new through it
    # the plan beside
    assert moments["plan"]["cost"] == pytest.approx(1407.5)
    assert rows["(none)"]["plan"] is None
    assert totals["plan"]["roi"] == pytest.approx(4.891195381)


def test_last_touch_attribution() -> None:
    result = compute_roi(
        engine=FrameEngine(PERSONS), playbook=fission(), time_range=RANGE, attribution="last"
    )
    revenue = {c.channel: c.numbers.revenue for c in result.channels}
    # a: last channel before paying is official_account (signup); c paid on old_groups; e on paid_feed
    assert revenue["official_account"] == Decimal("699")
    assert revenue["old_groups"] == Decimal("999")
    assert revenue["paid_feed"] == Decimal("699")
    assert revenue["moments"] == 0
    assert result.totals.revenue == Decimal("2407.5")


def test_a_costs_file_replaces_the_fixed_costs() -> None:
    rows = [
        CostRow(2, date(2024, 3, 4), "moments", Decimal("500")),
        CostRow(3, date(2024, 3, 5), None, Decimal("1000")),
        CostRow(4, date(2024, 3, 10), "paid_feed", Decimal("100")),
        CostRow(5, date(2024, 4, 2), "paid_feed", Decimal("7777")),  # after the range: not counted
    ]
    result = compute_roi(engine=FrameEngine(PERSONS), playbook=fission(), time_range=RANGE, cost_rows=rows)
    data = result.as_json()
    assert data["costs"]["source"] == "file"
    assert data["totals"]["cost"] == 500 + 1000 + 100 + 12 + 40
    assert data["totals"]["campaign_cost"] == 1000
    # cumulative revenue passes cumulative cost (1652) on the 12th (2407.5), and stays above
    assert (data["totals"]["payback_days"], data["totals"]["payback_date"]) == (8, "2024-03-12")
    paid_feed = channels(data)["paid_feed"]
    # e's 699 came on the 8th, before any cost of the channel: paid back on the 10th, when the cost is
    assert (paid_feed["cost"], paid_feed["payback_date"], paid_feed["payback_days"]) == (100, "2024-03-10", 6)


def test_revenue_sums_are_exact_decimals() -> None:
    persons: dict[str, list[Event]] = {
        f"p{i}": [("2024-03-05 10:00", "pay", {"revenue": amount})]
        for i, amount in enumerate(["0.1000", "0.2000", "0.0001", "12345678901.2345"])
    }
    result = compute_roi(engine=FrameEngine(persons, parts=3), playbook=fission(), time_range=RANGE)
    assert result.totals.revenue == Decimal("12345678901.5346")
    assert result.as_json()["totals"]["revenue"] == 12345678901.5346


def test_other_currencies_are_refused() -> None:
    persons: dict[str, list[Event]] = {
        "a": [("2024-03-05 10:00", "pay", {"revenue": "10.0000", "currency": "CNY"})],
        "b": [("2024-03-05 10:00", "pay", {"revenue": "10.0000", "currency": "USD"})],
        "c": [("2024-03-05 10:00", "pay", {"revenue": "10.0000"})],  # no currency: the playbook's
    }
    with pytest.raises(InvalidInput, match=r"CNY \(2\), USD \(1\)"):
        compute_roi(engine=FrameEngine(persons), playbook=fission(), time_range=RANGE)


def test_no_events_at_all() -> None:
    result = compute_roi(
        engine=FrameEngine({}), playbook=fission(), time_range=TimeRange(None, None, SHANGHAI)
    )
    data = result.as_json()
    assert data["days"] == {"first": None, "last": None}
    assert (data["totals"]["revenue"], data["totals"]["cost"], data["totals"]["roi"]) == (0, 0, None)


@pytest.mark.parametrize(
    ("revenue", "cost", "expected"),
    [
        ({}, {}, None),  # nothing to pay back
        ({1: 5}, {}, None),  # no cost
        ({1: 100}, {0: 50}, 1),
        ({1: 100, 3: 10}, {0: 50, 2: 100}, None),  # ahead on day 1, behind from day 2 to the end
        ({1: 100, 4: 60}, {0: 50, 2: 100}, 4),  # behind on day 2, ahead again from day 4
        ({0: 50}, {0: 50}, 0),  # equal counts as paid back
    ],
)
def test_payback(revenue: dict[int, int], cost: dict[int, int], expected: int | None) -> None:
    def days(amounts: dict[int, int]) -> dict[date, Decimal]:
        return {date(2024, 3, 1 + d): Decimal(v) for d, v in amounts.items()}

    found = payback(days(revenue), days(cost))
    assert found == (None if expected is None else date(2024, 3, 1 + expected))


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(1, 999_999), st.booleans()), min_size=1, max_size=12)
)
def test_totals_do_not_depend_on_the_split(pays: list[tuple[int, int, bool]]) -> None:
    persons: dict[str, list[Event]] = {}
    for i, (person, cents, paid_feed) in enumerate(pays):
        channel = "paid_feed" if paid_feed else "moments"
        persons.setdefault(f"p{person}", []).append(
            (f"2024-03-0{5 + i % 4} 10:00", "pay", {"revenue": f"{cents / 100:.4f}", "channel": channel})
        )
    whole = compute_roi(engine=FrameEngine(persons), playbook=FISSION, time_range=RANGE).as_json()
    split = compute_roi(
        engine=FrameEngine(persons, parts=3, seed=len(pays)), playbook=FISSION, time_range=RANGE
    )
    assert split.as_json() == whole
    assert whole["totals"]["revenue"] == float(sum(Decimal(c) / 100 for _p, c, _f in pays))


FISSION = fission()


# -- the costs file ------------------------------------------------------------------------------------------------
def test_costs_csv_with_chinese_headers_in_gbk(tmp_path: Path) -> None:
    path = tmp_path / "花费.csv"
    text = '日期,渠道,金额,备注\n2024/3/4,moments,"1,200.50",海报\n2024年3月5日,,￥300,\n\n2024-03-06 10:00,paid_feed,0,\n'
    path.write_bytes(text.encode("gbk"))
    rows = read_costs(path, currency="CNY")
    assert [(r.row, r.day, r.channel, r.amount) for r in rows] == [
        (2, date(2024, 3, 4), "moments", Decimal("1200.50")),
        (3, date(2024, 3, 5), None, Decimal("300")),
        (5, date(2024, 3, 6), "paid_feed", Decimal("0")),
    ]


def test_costs_xlsx(tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "costs.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["date", "channel", "amount", "currency"])
    sheet.append([date(2024, 3, 4), "moments", 800, "CNY"])
    sheet.append(["2024-03-05", "paid_feed", 99.5, None])
    book.save(path)
    rows = read_costs(path, currency="CNY")
    assert [(r.row, r.day, r.channel, r.amount) for r in rows] == [
        (2, date(2024, 3, 4), "moments", Decimal("800")),
        (3, date(2024, 3, 5), "paid_feed", Decimal("99.5")),
    ]


def test_bad_cost_rows_are_all_reported_and_none_is_used(tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    path.write_text(
        "date,channel,amount,currency\n"
        "2024-03-04,moments,100,CNY\n"
        "2024-02-30,moments,100,CNY\n"
        "yesterday,moments,100,CNY\n"
        "2024-03-05,moments,-5,CNY\n"
        "2024-03-05,moments,abc,CNY\n"
        "2024-03-05,moments,5,USD\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput) as caught:
        read_costs(path, currency="CNY")
    message = caught.value.message
    for row, words in ((3, "does not exist"), (4, "is not a date"), (5, "'-5'"), (6, "'abc'"), (7, "USD")):
        assert f"row {row}: " in message and words in message
    assert "row 2:" not in message
    assert "no cost was used" in message


def test_costs_file_needs_date_and_amount(tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    path.write_text("day_of_spend,channel,amount\n2024-03-04,moments,1\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="no 'date' column"):
        read_costs(path, currency="CNY")
    with pytest.raises(InvalidInput, match="no such file"):
        read_costs(tmp_path / "missing.csv", currency="CNY")
