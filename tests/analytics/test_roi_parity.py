"""The vectorised ROI path (profile revenue kept per frame, ledger grouped in NumPy) against the per-row
logic it replaced (``roi_reference.py``), on generated campaigns: the same profile, the same ledger, for any
range and attribution, asked in any order of the same frame; and the embedded engine's kept frames answer a
new question as a fresh engine does."""

from __future__ import annotations

import gc
from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np
import pytest
from aarrr_support import SHANGHAI, Event, build_frame, fission, micros, simulated
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from roi_reference import reference_ledger, reference_profile

from sopflow.analytics.aarrr.profile import PersonProfile, ProfileSpec
from sopflow.analytics.aarrr.remember import kept_frames
from sopflow.analytics.aarrr.revenue import RevenueLines
from sopflow.analytics.engines.embedded import EmbeddedEngine
from sopflow.analytics.frame import Coded, PersonTable
from sopflow.analytics.roi.aggregate import compute_roi
from sopflow.analytics.roi.definition import (
    Attribution,
    Ledger,
    build_ledger,
    day_of,
    local_day_numbers,
    local_days,
    roi_profile,
)
from sopflow.analytics.timerange import TimeRange
from sopflow.errors import InvalidInput
from sopflow.workspace import Workspace

PLAYBOOK = fission()
EVENTS = ["visit", "signup", "join_group", "attend_class", "submit_homework", "pay"]
# Channel names that JSON must escape, that sort unlike their codes, and one spelled like "no channel".
CHANNELS = [None, "moments", "paid_feed", "referral", "老用户群", 'say "hi"', "back\\slash", "(none)", ""]
AMOUNTS = ["699.0000", "999.0000", "10.5000", "0.0001", "12345678.9000", "699.00"]

event_st = st.tuples(
    st.integers(0, 6),  # day of March 2024
    st.integers(0, 3),  # hour (few: ties at one time are common)
    st.sampled_from(EVENTS),
    st.fixed_dictionaries(
        {},
        optional={
            "channel": st.sampled_from(CHANNELS[1:]),
            "inviter_id": st.sampled_from(["p0", "p1", "ghost", "邀请人"]),
            "revenue": st.sampled_from(AMOUNTS),
            "currency": st.sampled_from(["CNY", "CNY", "USD"]),
            "product": st.sampled_from(["system_course", "advanced_course", "book"]),
        },
    ),
)
persons_st = st.lists(st.lists(event_st, min_size=1, max_size=8), min_size=1, max_size=10)
bound_st = st.one_of(st.none(), st.tuples(st.integers(0, 7), st.integers(0, 23)))


def _persons(raw: list[list[tuple[int, int, str, dict[str, Any]]]]) -> dict[str, list[Event]]:
    return {
        f"p{i}": [(f"2024-03-{2 + d:02d} {h * 7:02d}:00", name, props) for d, h, name, props in events]
        for i, events in enumerate(raw)
    }


def _range(start: tuple[int, int] | None, end: tuple[int, int] | None) -> TimeRange:
    def at(bound: tuple[int, int] | None) -> int | None:
        return None if bound is None else micros(f"2024-03-{2 + bound[0]:02d} {bound[1]:02d}:30")

    return TimeRange(at(start), at(end), SHANGHAI)


def _plain(table: PersonTable) -> dict[str, Any]:
    return {
        name: column.decoded() if isinstance(column, Coded) else np.asarray(column).tolist()
        for name, column in table.items()
    }


def _text_only(table: PersonTable) -> PersonTable:
    """The table as the Spark engine hands it over (concatenated: the revenue as JSON text only)."""
    revenue = table["revenue"]
    assert isinstance(revenue, Coded)
    return {**table, "revenue": Coded(revenue.codes, revenue.values)}


def _ledger(table: PersonTable, spec: ProfileSpec, attribution: Attribution, reference: bool) -> Any:
    build = reference_ledger if reference else build_ledger
    try:
        ledger: Ledger = build(
            table,
            playbook=PLAYBOOK,
            spec=spec,
            attribution=attribution,
            tz=SHANGHAI,
            bounds=(date(2024, 3, 1), date(2024, 3, 9)),
            cost_rows=None,
        )
    except InvalidInput as exc:
        return ("refused", str(exc).split(": ")[-1] if reference else str(exc))
    return (
        dict(ledger.revenue),
        dict(ledger.cost),
        dict(ledger.cost_parts),
        ledger.new_users,
        ledger.paying_users,
    )


def _same_ledger(mine: Any, theirs: Any) -> None:
    if mine[0] == "refused" or theirs[0] == "refused":
        assert mine[0] == theirs[0] == "refused"
        assert theirs[1] in mine[1]  # the same currencies and counts, named in the message
        return
    assert mine == theirs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    persons_st,
    st.lists(st.tuples(bound_st, bound_st), min_size=1, max_size=3),
    st.sampled_from(["first", "last"]),
)
def test_profile_and_ledger_match_the_per_row_logic(
    raw: list[list[tuple[int, int, str, dict[str, Any]]]],
    ranges: list[tuple[tuple[int, int] | None, tuple[int, int] | None]],
    attribution: Attribution,
) -> None:
    persons = _persons(raw)
    frame = build_frame(persons, roi_profile(PLAYBOOK, None).request())
    # Several ranges on one frame: the later ones are answered from what the first one kept.
    for start, end in ranges:
        spec = roi_profile(PLAYBOOK, _range(start, end))
        fast, slow = PersonProfile(spec)(frame), reference_profile(spec, frame)
        assert _plain(fast) == _plain(slow)
        assert isinstance(fast["revenue"], RevenueLines)
        expected = _ledger(slow, spec, attribution, reference=True)
        _same_ledger(_ledger(fast, spec, attribution, reference=False), expected)
        _same_ledger(_ledger(_text_only(fast), spec, attribution, reference=False), expected)


def test_what_a_frame_kept_goes_with_it() -> None:
    spec = roi_profile(PLAYBOOK, None)
    gc.collect()  # frames other tests left unreferenced go first, so the count is this test's alone
    before = kept_frames()
    frame = build_frame({"a": [("2024-03-04 10:00", "signup", {"channel": "moments"})]}, spec.request())
    PersonProfile(spec)(frame)
    assert kept_frames() == before + 1
    del frame
    gc.collect()
    assert kept_frames() == before


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace.resolve(simulated(tmp_path_factory.mktemp)["workspace"])


def test_a_kept_engine_answers_a_new_range_as_a_fresh_one(workspace: Workspace) -> None:
    kept = EmbeddedEngine.open(workspace=workspace)
    spans = [
        TimeRange(None, None, SHANGHAI),
        TimeRange(micros("2024-01-01 00:00"), micros("2024-03-20 00:00"), SHANGHAI),
        TimeRange(micros("2024-03-10 00:00"), None, SHANGHAI),
    ]
    for span in spans:
        for attribution in ("first", "last"):
            asked = compute_roi(engine=kept, playbook=PLAYBOOK, time_range=span, attribution=attribution)
            fresh = EmbeddedEngine.open(workspace=workspace)
            again = compute_roi(engine=fresh, playbook=PLAYBOOK, time_range=span, attribution=attribution)
            assert asked.as_json() == again.as_json()
    spec = roi_profile(PLAYBOOK, spans[1])
    # The frame over every row is handed out again, with its columns read once.
    assert kept.frame(spec.request()) is kept.frame(replace(spec, start=None).request())
    assert compute_roi(engine=kept, playbook=PLAYBOOK).as_json()["totals"]["revenue"] > 0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(-(10**15), 4 * 10**15), max_size=30),
    st.sampled_from(["Asia/Shanghai", "America/New_York", "Pacific/Chatham", "UTC"]),
)
def test_day_numbers_are_the_days(stamps: list[int], zone: str) -> None:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    ts = np.array(stamps, dtype=np.int64)
    assert [day_of(n) for n in local_day_numbers(ts, tz).tolist()] == local_days(ts, tz)
