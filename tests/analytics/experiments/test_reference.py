"""The per-person pass against a plain-Python reference on generated events (hypothesis), any partitions."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aarrr_support import Event, FrameEngine

from sopflow.analytics.experiments.analysis import analyze_experiment
from sopflow.analytics.experiments.spec import ExperimentSpec, parse_metric
from sopflow.errors import SopflowError

BASE = datetime(2024, 3, 7, 12, 0)
WINDOW_H = 48
STEP = "s"

event_kind = st.sampled_from(
    [("sop_touch", STEP, "control"), ("sop_touch", STEP, "b"), ("sop_touch", STEP, None),
     ("sop_touch", "other", "b"), ("pay", None, None), ("visit", None, None)]
)  # fmt: skip
person = st.lists(st.tuples(st.integers(0, 120), event_kind), max_size=6)


def as_events(rows: list[tuple[int, tuple[str, str | None, str | None]]]) -> list[Event]:
    out: list[Event] = []
    for hours, (name, step, variant) in rows:
        props: dict[str, Any] = {}
        if step is not None:
            props["step"] = step
        if variant is not None:
            props["variant"] = variant
        out.append(((BASE + timedelta(hours=hours)).strftime("%Y-%m-%d %H:%M"), name, props))
    return out


def reference(persons: dict[str, list[tuple[int, tuple[str, str | None, str | None]]]]) -> dict[str, Any]:
    arms: dict[str, list[int]] = {}
    mixed = 0
    for rows in persons.values():
        touches = [(h, v) for h, (n, s, v) in rows if n == "sop_touch" and s == STEP and v is not None]
        if not touches:
            continue
        if len({v for _h, v in touches}) > 1:
            mixed += 1
            continue
        t0 = min(h for h, _v in touches)
        converted = any(n == "pay" and t0 <= h <= t0 + WINDOW_H for h, (n, _s, _v) in rows)
        arms.setdefault(touches[0][1], [0, 0])
        arms[touches[0][1]][0] += 1
        arms[touches[0][1]][1] += int(converted)
    return {"arms": {a: tuple(v) for a, v in arms.items()}, "mixed": mixed}


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text("abcdef", min_size=1, max_size=3), person, max_size=25), st.integers(1, 4))
def test_arms_and_conversions_match_the_reference(persons: dict[str, Any], parts: int) -> None:
    expected = reference(persons)
    engine = FrameEngine({p: as_events(rows) for p, rows in persons.items()}, parts=parts, seed=parts)
    spec = ExperimentSpec(
        step=STEP, metric=parse_metric("conversion:pay"), window_us=WINDOW_H * 3_600_000_000
    )
    try:
        data = analyze_experiment(engine=engine, spec=spec).as_json()
    except SopflowError:
        assert len(expected["arms"]) < 2  # no touches, no variants or one arm: refused
        return
    got = {r["variant"]: (r["persons"], r["conversions"]) for r in data["variants"]}
    assert got == expected["arms"]
    assert data["mixed_persons"] == expected["mixed"]
