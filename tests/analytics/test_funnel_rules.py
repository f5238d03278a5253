"""Each funnel rule of docs/funnels.md pinned by a hand-computed case, on the real embedded engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from funnel_reference import Ev, Spec, funnel
from funnel_support import BASE, assert_same, file_engine, run_product

S = 1_000_000
H = 3600 * S
D = 86400 * S


def ev(person: str, seconds: float, event: str, channel: str | None = None, **props: object) -> Ev:
    return Ev(person, BASE + int(seconds * S), event, channel, dict(props))


def users(tmp_path: Path, events: list[Ev], spec: Spec) -> list[int]:
    product = run_product(file_engine(tmp_path, events), spec)
    assert_same(product, funnel(spec, events))  # the reference agrees on every case below too
    return [s["users"] for s in product["steps"]]


ABC = ("a", "b", "c")


def test_window_is_inclusive(tmp_path: Path) -> None:
    events = [ev("p", 0, "a"), ev("p", 10, "b"), ev("q", 0, "a"), ev("q", 10.000001, "b")]
    assert users(tmp_path, events, Spec(("a", "b"), window=10 * S)) == [2, 1]


def test_same_timestamp_counts_for_the_next_step(tmp_path: Path) -> None:
    assert users(tmp_path, [ev("p", 5, "b"), ev("p", 5, "a")], Spec(("a", "b"), window=H)) == [1, 1]


def test_earlier_event_does_not_count(tmp_path: Path) -> None:
    assert users(tmp_path, [ev("p", 4, "b"), ev("p", 5, "a")], Spec(("a", "b"), window=H)) == [1, 0]


def test_one_event_fills_one_step(tmp_path: Path) -> None:
    spec = Spec(("visit", "visit"), window=H)
    assert users(tmp_path, [ev("p", 0, "visit")], spec) == [1, 0]
    assert users(tmp_path, [ev("p", 0, "visit"), ev("p", 0, "visit")], spec) == [1, 1]


def test_other_events_in_between_are_allowed_when_ordered(tmp_path: Path) -> None:
    events = [ev("p", 0, "a"), ev("p", 1, "x"), ev("p", 2, "b"), ev("p", 3, "c")]
    assert users(tmp_path, events, Spec(ABC, window=H)) == [1, 1, 1]


def test_strict_is_interrupted_by_another_event(tmp_path: Path) -> None:
    events = [ev("p", 0, "a"), ev("p", 1, "b"), ev("p", 2, "x"), ev("p", 3, "c")]
    assert users(tmp_path, events, Spec(ABC, window=H, order="strict")) == [1, 1, 0]


def test_strict_ignores_same_time_repeats_and_bookkeeping(tmp_path: Path) -> None:
    events = [
        ev("p", 0, "a"),
        ev("p", 0, "x"),  # same time as the matched step
        ev("p", 1, "b"),
        ev("p", 2, "b"),  # a repeat of the step just reached
        ev("p", 2.5, "$identify"),  # bookkeeping, not something the user did
        ev("p", 3, "x"),
        ev("p", 3, "c"),  # same time as the next step
    ]
    assert users(tmp_path, events, Spec(ABC, window=H, order="strict")) == [1, 1, 1]


def test_strict_event_failing_where_is_another_event(tmp_path: Path) -> None:
    events = [ev("p", 0, "a"), ev("p", 1, "b", amount=5), ev("p", 2, "b", amount=50)]
    spec = Spec(("a", "b"), window=H, order="strict", where=(("b", "amount", ">=", "10"),))
    assert users(tmp_path, events, spec) == [1, 0]
    assert users(tmp_path, events, Spec(("a", "b"), window=H, where=(("b", "amount", ">=", "10"),))) == [1, 1]


def test_unordered_counts_distinct_steps_in_the_window(tmp_path: Path) -> None:
    events = [ev("p", 0, "c"), ev("p", 1, "a"), ev("q", 0, "b"), ev("q", 2 * H // S, "a")]
    assert users(tmp_path, events, Spec(ABC, window=H, order="unordered")) == [2, 1, 0]


def test_entry_any_takes_the_best_attempt_first_only_the_first(tmp_path: Path) -> None:
    events = [ev("p", 0, "a"), ev("p", 2 * D // S, "a"), ev("p", 2 * D // S + 60, "b")]
    assert users(tmp_path, events, Spec(("a", "b"), window=D)) == [1, 1]
    assert users(tmp_path, events, Spec(("a", "b"), window=D, entry="first")) == [1, 0]


def test_exclusion_between_steps_discards_the_attempt(tmp_path: Path) -> None:
    events = [ev("p", 0, "a"), ev("p", 1, "refund"), ev("p", 2, "b"), ev("q", 0, "a"), ev("q", 2, "b")]
    spec = Spec(("a", "b"), window=H, exclusions=(("refund", 1, 2),))
    assert users(tmp_path, events, spec) == [1, 1]  # p is not counted at all


def test_exclusion_without_the_later_step_uses_the_window(tmp_path: Path) -> None:
    events = [ev("p", 0, "a"), ev("p", 30, "refund"), ev("q", 0, "a"), ev("q", 3601, "refund")]
    spec = Spec(("a", "b"), window=H, exclusions=(("refund", 1, 2),))
    assert users(tmp_path, events, spec) == [1, 0]


def test_exclusion_leaves_a_clean_attempt(tmp_path: Path) -> None:
    events = [ev("p", 0, "a"), ev("p", 1, "refund"), ev("p", 2, "a"), ev("p", 3, "b")]
    spec = Spec(("a", "b"), window=H, exclusions=(("refund", 1, 2),))
    assert users(tmp_path, events, spec) == [1, 1]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (("pay", "amount", ">=", "99"), [3, 1]),  # 99.0 and "99" as numbers; "abc" and missing fail
        (("2", "amount", "!=", "99"), [3, 1]),  # only 5 (a number); text and missing fail a numeric test
        (("pay", "plan", "=", "pro"), [3, 1]),  # text
        (("pay", "plan", "<", "m"), [3, 1]),  # "basic" < "m" as text
    ],
)
def test_where_compares_numbers_as_numbers(
    tmp_path: Path, condition: tuple[str, str, str, str], expected: list[int]
) -> None:
    events = [
        ev("p", 0, "visit"),
        ev("p", 1, "pay", amount=99.0, plan="pro"),
        ev("q", 0, "visit"),
        ev("q", 1, "pay", amount="abc", plan="basic"),
        ev("r", 0, "visit"),
        ev("r", 1, "pay", amount=5),
    ]
    assert users(tmp_path, events, Spec(("visit", "pay"), window=H, where=(condition,))) == expected


def test_range_limits_entries_not_later_steps(tmp_path: Path) -> None:
    events = [ev("p", 0, "a"), ev("p", 2 * D // S, "b"), ev("q", -60, "a"), ev("q", 1, "b")]
    spec = Spec(("a", "b"), window=7 * D, start=BASE, end=BASE + D)
    assert users(tmp_path, events, spec) == [1, 1]


def test_breakdown_uses_the_entry_of_the_counted_attempt(tmp_path: Path) -> None:
    events = [
        ev("p", 0, "a", "wx"),
        ev("p", 10, "a", "dy"),
        ev("p", 11, "b"),
        ev("q", 0, "a", None),
        ev("r", 0, "a", ""),
    ]
    engine = file_engine(tmp_path, events)
    product = run_product(engine, Spec(("a", "b"), window=5 * S, by="channel"))
    assert product["breakdown"] == {"dy": [1, 1], "(none)": [2, 0]}


def test_medians_interpolate_between_order_statistics(tmp_path: Path) -> None:
    events = []
    for i, gap in enumerate([10, 20, 30, 40]):
        events += [ev(f"p{i}", 0, "a"), ev(f"p{i}", gap, "b")]
    product = run_product(file_engine(tmp_path, events), Spec(("a", "b"), window=H))
    assert product["steps"][1]["median_seconds_from_previous"] == pytest.approx(25.0)
    assert product["steps"][1]["p90_seconds_from_previous"] == pytest.approx(37.0)
    assert product["steps"][0]["median_seconds_from_previous"] is None


def test_rates_are_null_without_a_denominator(tmp_path: Path) -> None:
    product = run_product(file_engine(tmp_path, [ev("p", 0, "x")]), Spec(("a", "b"), window=H))
    assert [s["users"] for s in product["steps"]] == [0, 0]
    assert product["steps"][1]["rate_from_previous"] is None
    assert product["steps"][0]["rate_from_first"] is None
