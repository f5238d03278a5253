"""Retention definitions on hand-built person frames: each rule of docs/analytics.md "Retention" pinned."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.analytics.frame import Coded, PersonFrame, PersonTable, concat_tables
from sopflow.analytics.retention.aggregate import NONE, OTHER, RetentionResult, aggregate
from sopflow.analytics.retention.definition import RetentionKernel, RetentionSpec
from sopflow.analytics.retention.periods import day_ordinals, period_index, period_start
from sopflow.analytics.timerange import TimeRange, to_micros
from sopflow.errors import InvalidInput

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")

Row = tuple[str, str] | tuple[str, str, str | None]  # (local time, event[, by value])


def us(text: str, tz: ZoneInfo = SHANGHAI) -> int:
    return to_micros(datetime.fromisoformat(text).replace(tzinfo=tz))


def frame_of(persons: list[list[Row]], *, tz: ZoneInfo = SHANGHAI, by: str | None = None) -> PersonFrame:
    """Persons' rows (any order inside a person: sorted here by time, ties kept as given)."""
    names: list[str] = []
    values: list[str] = []
    ts, event, codes, offsets = [], [], [], [0]
    for rows in persons:
        for row in sorted(rows, key=lambda r: us(r[0], tz)):
            ts.append(us(row[0], tz))
            if row[1] not in names:
                names.append(row[1])
            event.append(names.index(row[1]))
            value = row[2] if len(row) > 2 else None
            if value is not None and value not in values:
                values.append(value)
            codes.append(values.index(value) if value is not None else -1)
        offsets.append(len(ts))
    columns = {by: Coded(np.array(codes, dtype=np.int32), values)} if by else {}
    return PersonFrame(
        offsets=np.array(offsets, dtype=np.int64),
        ts=np.array(ts, dtype=np.int64),
        event=np.array(event, dtype=np.int32),
        event_names=names,
        columns=columns,
    )


def spec_of(
    *, start: str = "signup", back: str = "visit", tz: ZoneInfo = SHANGHAI, lo: str | None = None,
    hi: str | None = None, **kw: Any,
) -> RetentionSpec:  # fmt: skip
    rng = TimeRange(us(lo, tz) if lo else None, us(hi, tz) if hi else None, tz)
    return RetentionSpec.make(start_event=start, return_event=back, range=rng, **kw)


def run(persons: list[list[Row]], spec: RetentionSpec, *, data_end: str | None = None) -> RetentionResult:
    tz = spec.range.tz
    frame = frame_of(persons, tz=tz, by=spec.by)  # type: ignore[arg-type]
    rows = RetentionKernel(spec)(frame)
    end = us(data_end, tz) if data_end else int(frame.ts.max())  # type: ignore[arg-type]
    return aggregate(rows, spec=spec, data_end=end, engine="test")


# periods -----------------------------------------------------------------------------------------------
def test_days_follow_local_midnights_across_dst() -> None:
    # 2024-03-10 has 23 hours in New York, 2024-11-03 has 25.
    stamps = [
        "2024-03-09 23:59:59", "2024-03-10 00:00:00", "2024-03-10 23:30:00", "2024-03-11 00:00:00",
        "2024-11-03 00:30:00", "2024-11-03 23:59:00", "2024-11-04 00:00:00",
    ]  # fmt: skip
    ts = np.array([us(s, NEW_YORK) for s in stamps], dtype=np.int64)
    days = [date.fromordinal(int(d)).isoformat() for d in day_ordinals(ts, NEW_YORK)]
    assert days == [s[:10] for s in stamps]
    # 2024-11-03 01:30 happens twice; both are that day.
    first = to_micros(datetime(2024, 11, 3, 1, 30, tzinfo=NEW_YORK))
    second = to_micros(datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=NEW_YORK))
    assert second - first == 3600 * 10**6
    assert set(day_ordinals(np.array([first, second]), NEW_YORK).tolist()) == {date(2024, 11, 3).toordinal()}


def test_weeks_start_on_monday_local_time() -> None:
    # 2024-03-04 is a Monday; Sunday 23:59 Shanghai is still the week before.
    ts = np.array([us("2024-03-03 23:59:59"), us("2024-03-04 00:00:00"), us("2024-03-10 23:59:59")])
    weeks = period_index(ts, period="week", tz=SHANGHAI)
    assert weeks[0] + 1 == weeks[1] == weeks[2]
    assert period_start(int(weeks[1]), period="week", tz=SHANGHAI) == us("2024-03-04 00:00:00")


# cohorts and returns ------------------------------------------------------------------------------------
DATA = [
    # a: cohort 03-04, back on day 1 and day 3
    [("2024-03-04 10:00", "signup"), ("2024-03-05 09:00", "visit"), ("2024-03-07 20:00", "visit")],
    # b: cohort 03-04, a visit the same day (period 0: changes nothing), back on day 2
    [("2024-03-04 23:00", "signup"), ("2024-03-04 23:30", "visit"), ("2024-03-06 00:00", "visit")],
    # c: cohort 03-05, never back
    [("2024-03-05 08:00", "signup")],
    # d: a visit only: in no cohort
    [("2024-03-05 08:00", "visit")],
]


def test_on_mode_counts_returns_in_exactly_period_k() -> None:
    result = run(DATA, spec_of(periods=3), data_end="2024-03-09 12:00")
    cohorts = result.as_json()["cohorts"]
    assert [(c["cohort"], c["size"], c["counts"]) for c in cohorts] == [
        ("2024-03-04", 2, [2, 1, 1, 1]),
        ("2024-03-05", 1, [1, 0, 0, 0]),
    ]
    assert cohorts[0]["rates"] == [1.0, 0.5, 0.5, 0.5]
    overall = result.as_json()["overall"]
    assert [(o["persons"], o["returned"], o["rate"]) for o in overall] == [
        (3, 3, 1.0), (3, 1, pytest.approx(1 / 3)), (3, 1, pytest.approx(1 / 3)), (3, 1, pytest.approx(1 / 3))
    ]  # fmt: skip


def test_on_or_after_counts_any_return_in_period_k_or_later() -> None:
    result = run(DATA, spec_of(periods=3, mode="on_or_after"), data_end="2024-03-09 12:00")
    assert [c["counts"] for c in result.as_json()["cohorts"]] == [[2, 2, 2, 1], [1, 0, 0, 0]]


def test_on_or_after_counts_returns_beyond_the_last_period_shown() -> None:
    persons = [[("2024-03-04 10:00", "signup"), ("2024-03-20 10:00", "visit")]]
    result = run(persons, spec_of(periods=2, mode="on_or_after"))
    assert result.as_json()["cohorts"][0]["counts"] == [1, 1, 1]
    on = run(persons, spec_of(periods=2, mode="on"))
    assert on.as_json()["cohorts"][0]["counts"] == [1, 0, 0]


def test_the_start_event_is_never_its_own_return() -> None:
    persons = [
        [("2024-03-04 10:00", "open"), ("2024-03-04 11:00", "open")],  # same day only: period 0
        [("2024-03-04 10:00", "open"), ("2024-03-05 10:00", "open")],
    ]
    result = run(persons, spec_of(start="open", back="open", periods=1), data_end="2024-03-09 00:00")
    assert result.as_json()["cohorts"][0]["counts"] == [2, 1]


def test_the_cohort_is_the_first_start_event_in_range() -> None:
    persons = [
        # a start before the range is ignored; the first one in range sets the cohort (03-05)
        [("2024-03-01 10:00", "signup"), ("2024-03-05 10:00", "signup"), ("2024-03-06 10:00", "visit")],
        # a start after the range puts nobody in a cohort, but returns after the range's end count
        [("2024-03-05 12:00", "signup"), ("2024-03-08 10:00", "visit"), ("2024-03-09 10:00", "signup")],
    ]
    spec = spec_of(lo="2024-03-04 00:00", hi="2024-03-06 00:00", periods=3)
    result = run(persons, spec)
    assert [(c["cohort"], c["counts"]) for c in result.as_json()["cohorts"]] == [("2024-03-05", [2, 1, 0, 1])]


def test_returns_before_the_cohort_do_not_count() -> None:
    persons = [[("2024-03-03 10:00", "visit"), ("2024-03-04 10:00", "signup")]]
    assert run(persons, spec_of(periods=1)).as_json()["cohorts"][0]["counts"] == [1, None]


def test_incomplete_periods_are_null_and_left_out_of_the_weighted_rate() -> None:
    persons = [
        [("2024-03-04 10:00", "signup"), ("2024-03-05 10:00", "visit")],
        [("2024-03-05 10:00", "signup")],
    ]
    # the data ends 03-06 23:59:59.999999: day 03-06 is complete, 03-07 is not
    result = run(persons, spec_of(periods=3), data_end="2024-03-06 23:59:59.999999")
    data = result.as_json()
    assert [c["counts"] for c in data["cohorts"]] == [[1, 1, 0, None], [1, 0, None, None]]
    assert [c["rates"] for c in data["cohorts"]][1] == [1.0, 0.0, None, None]
    assert [(o["persons"], o["returned"], o["rate"]) for o in data["overall"]] == [
        (2, 2, 1.0), (2, 1, 0.5), (1, 0, 0.0), (0, 0, None)
    ]  # fmt: skip
    # one microsecond earlier, 03-06 is not over
    earlier = run(persons, spec_of(periods=3), data_end="2024-03-06 23:59:59.999998")
    assert earlier.as_json()["cohorts"][0]["counts"] == [1, 1, None, None]


def test_weekly_cohorts() -> None:
    persons = [
        [("2024-03-04 10:00", "signup"), ("2024-03-10 23:00", "visit"), ("2024-03-11 01:00", "visit")],
        [("2024-03-10 22:00", "signup"), ("2024-03-18 10:00", "visit")],
        [("2024-03-12 10:00", "signup"), ("2024-03-19 10:00", "visit")],
    ]
    result = run(persons, spec_of(period="week", periods=2), data_end="2024-04-01 00:00")
    assert [(c["cohort"], c["counts"]) for c in result.as_json()["cohorts"]] == [
        ("2024-03-04", [2, 1, 1]),
        ("2024-03-11", [1, 1, 0]),
    ]


def test_dst_days_in_new_york() -> None:
    persons = [
        [("2024-03-09 12:00", "signup"), ("2024-03-10 23:30", "visit")],  # day 1 is 23 hours long
        [("2024-11-02 23:30", "signup"), ("2024-11-04 00:10", "visit")],  # 03 has 25 hours: day 2
    ]
    result = run(persons, spec_of(tz=NEW_YORK, periods=2), data_end="2024-12-01 00:00")
    assert [(c["cohort"], c["counts"]) for c in result.as_json()["cohorts"]] == [
        ("2024-03-09", [1, 1, 0]),
        ("2024-11-02", [1, 0, 1]),
    ]


def test_many_periods_use_several_bit_words() -> None:
    persons = [[("2024-01-01 10:00", "signup"), ("2024-03-10 10:00", "visit"), ("2024-04-10 10:00", "visit")]]
    result = run(persons, spec_of(periods=130), data_end="2024-06-01 00:00")
    counts = result.as_json()["cohorts"][0]["counts"]
    assert [k for k, c in enumerate(counts) if c] == [0, 69, 100]


# breakdown -----------------------------------------------------------------------------------------------
def test_by_uses_the_first_start_event_and_ties_take_the_smallest_value() -> None:
    persons: list[list[Row]] = [
        [("2024-03-04 10:00", "signup", "wx"), ("2024-03-05 10:00", "signup", "ad")],
        [("2024-03-04 10:00", "signup", "wx"), ("2024-03-04 10:00", "signup", "ad")],  # tie: "ad"
        [("2024-03-04 10:00", "signup", "ad"), ("2024-03-04 10:00", "signup", "wx")],  # same, other order
        [("2024-03-04 10:00", "signup", None), ("2024-03-04 10:00", "signup", "")],  # none
        [("2024-03-04 10:00", "signup", "qq")],
        [("2024-03-04 10:00", "signup", "zz")],
    ]
    result = run(persons, spec_of(periods=1, by="channel", top=2))
    assert [(b["value"], b["size"]) for b in result.as_json()["breakdown"]] == [
        ("ad", 2), ("qq", 1), (OTHER, 2), (NONE, 1)
    ]  # fmt: skip


# validation ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"period": "month"}, "--period"),
        ({"mode": "before"}, "--mode"),
        ({"periods": 0}, "--periods"),
        ({"periods": 401}, "--periods"),
        ({"top": 0}, "--top"),
        ({"start": " "}, "--start-event"),
    ],
)
def test_bad_specs_are_refused(kw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        spec_of(**kw)


# against a slow reference, over any split of persons --------------------------------------------------
def reference(
    persons: list[list[Row]], spec: RetentionSpec, data_end: int
) -> list[tuple[str, list[int | None]]]:
    """The definition read literally: dates with datetime, one person at a time."""
    tz = spec.range.tz

    def day(ts: int) -> date:
        return (
            (datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC")) + timedelta(microseconds=ts)).astimezone(tz).date()
        )

    def period(d: date) -> date:
        return d if spec.period == "day" else d - timedelta(days=d.weekday())

    def shift(p: date, k: int) -> date:
        return p + timedelta(days=k if spec.period == "day" else 7 * k)

    cohorts: dict[date, list[set[int]]] = {}
    for rows in persons:
        starts = [
            us(r[0], tz) for r in rows if r[1] == spec.start_event and spec.range.contains(us(r[0], tz))
        ]
        if not starts:
            continue
        p0 = period(day(min(starts)))
        back: set[int] = set()
        for r in rows:
            if r[1] == spec.return_event:
                p = period(day(us(r[0], tz)))
                k = 0
                while shift(p0, k) < p:
                    k += 1
                back.add(k)
        cohorts.setdefault(p0, []).append(back)
    out = []
    for p0, members in sorted(cohorts.items()):
        counts: list[int | None] = []
        for k in range(spec.periods + 1):
            end = shift(p0, k + 1)
            if k and to_micros(datetime(end.year, end.month, end.day, tzinfo=tz)) - 1 > data_end:
                counts.append(None)
            elif k == 0:
                counts.append(len(members))
            elif spec.mode == "on":
                counts.append(sum(k in b for b in members))
            else:
                counts.append(sum(any(j >= k for j in b) for b in members))
        out.append((p0.isoformat(), counts))
    return out


_times = st.builds(
    lambda d, m: (datetime(2024, 3, 8, tzinfo=NEW_YORK) + timedelta(days=d, minutes=m)).strftime(
        "%Y-%m-%d %H:%M"
    ),
    st.integers(0, 20),
    st.sampled_from([0, 30, 60 * 23 + 30, 60 * 12]),
)
_rows = st.lists(st.tuples(_times, st.sampled_from(["signup", "visit", "other"])), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    persons=st.lists(_rows, min_size=1, max_size=8),
    period=st.sampled_from(["day", "week"]),
    mode=st.sampled_from(["on", "on_or_after"]),
    same=st.booleans(),
    split=st.integers(0, 8),
    end_day=st.integers(5, 30),
)
def test_matches_the_reference_on_any_split(
    persons: list[list[Row]], period: str, mode: str, same: bool, split: int, end_day: int
) -> None:
    spec = spec_of(
        tz=NEW_YORK, back="signup" if same else "visit", period=period, mode=mode, periods=4,
        lo="2024-03-09 00:00", hi="2024-03-20 00:00",
    )  # fmt: skip
    data_end = us(f"2024-03-{end_day:02d} 06:00", NEW_YORK)
    kernel = RetentionKernel(spec)
    # Spark splits persons over partitions: the rows of any split give the same table.
    parts = [persons[:split], persons[split:]]
    tables: list[PersonTable] = [kernel(frame_of(p, tz=NEW_YORK)) for p in parts if p]
    result = aggregate(concat_tables(tables), spec=spec, data_end=data_end, engine="test")
    got = [(c.label, c.counts) for c in result.table.cohorts]
    assert got == reference(persons, spec, data_end)
