"""Hypothesis strategies for funnel parity: small event logs full of ties, repeats and boundary cases."""

from __future__ import annotations

from funnel_reference import Ev, Spec
from funnel_support import BASE
from hypothesis import strategies as st

S = 1_000_000
NAMES = ("a", "b", "c", "x", "refund", "$identify")
STEP_NAMES = ("a", "b", "c")
CHANNELS = (None, "", "wx", "dy", "zh")
AMOUNTS = (None, 1, 5, 5.0, 10, "10", "abc", True)


@st.composite
def event_logs(draw: st.DrawFn) -> list[Ev]:
    """Up to 6 persons; times on a coarse grid (ties) and near window edges; events arrive in any order."""
    events: list[Ev] = []
    persons = draw(st.integers(1, 6))
    uid = 0
    for p in range(persons):
        for _ in range(draw(st.integers(0, 9))):
            seconds = draw(st.sampled_from([0, 1, 2, 3, 5, 8, 10, 11, 13, 20, 21, 30]))
            props = {}
            amount = draw(st.sampled_from(AMOUNTS))
            if amount is not None:
                props["amount"] = amount
            events.append(
                Ev(
                    f"p{p}",
                    BASE + seconds * S,
                    draw(st.sampled_from(NAMES)),
                    draw(st.sampled_from(CHANNELS)),
                    props,
                    uid,
                )
            )
            uid += 1
    return draw(st.permutations(events))


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    n = draw(st.integers(1, 4))
    steps = tuple(draw(st.sampled_from(STEP_NAMES)) for _ in range(n))
    order = draw(st.sampled_from(["ordered", "strict", "unordered"]))
    where = []
    for _ in range(draw(st.integers(0, 2))):
        step = draw(st.sampled_from([*steps, *[str(i + 1) for i in range(n)]]))
        prop = draw(st.sampled_from(["amount", "channel"]))
        op = draw(st.sampled_from(["=", "!=", ">", ">=", "<", "<="]))
        value = draw(st.sampled_from(["5", "10", "wx", "abc", "1"]))
        where.append((step, prop, op, value))
    exclusions = []
    if order != "unordered" and n >= 2:
        for _ in range(draw(st.integers(0, 2))):
            i = draw(st.integers(1, n - 1))
            j = draw(st.integers(i + 1, n))
            exclusions.append((draw(st.sampled_from(["refund", "x"])), i, j))
    start = draw(st.sampled_from([None, BASE + 1 * S, BASE + 3 * S]))
    end = draw(st.sampled_from([None, BASE + 11 * S, BASE + 21 * S]))
    if start is not None and end is not None and end <= start:
        end = None
    return Spec(
        steps=steps,
        window=draw(st.sampled_from([1, 2, 5, 10, 20])) * S,
        order=order,
        entry=draw(st.sampled_from(["any", "first"])),
        where=tuple(where),
        exclusions=tuple(exclusions),
        by=draw(st.sampled_from([None, "channel", "amount"])),
        start=start,
        end=end,
    )
