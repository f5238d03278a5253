"""The campaign's per-step table against a plain-Python reading of its definitions, on seeded event logs,
and the same JSON on the embedded engine and on Spark (local[2], 3 partitions).

The logs hold what the definitions care about: touches of this campaign by id and by name only, touches of
another campaign with the same name, owner records (``staff:``), first touches tied at one moment with
different variants, payments at the very moment of a touch, payments in another currency, payments
outside the window, stage events with and without their ``where``, events outside the range.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from spark_support import requires_java, spark_engine

from sopflow.analytics.engines.embedded import EmbeddedEngine
from sopflow.analytics.targets.campaign_steps import CampaignRun, CampaignTask, compute_campaign_steps
from sopflow.analytics.timerange import TimeRange, parse_range
from sopflow.events.schema import EVENT_SCHEMA
from sopflow.playbook.loader import parse_playbook
from sopflow.workspace import Workspace

pytestmark = pytest.mark.xdist_group("spark")

HOUR = 3_600_000_000
DAY = 24 * HOUR
T0 = 1_793_000_000_000_000  # 2026-10-26 UTC
WINDOW = 2 * DAY
STEPS = ("s1", "s2", "s3", "s4")
PLAYBOOK = """\
meta: {id: eng, name: 引擎, version: 1, owner: 运营, currency: CNY}
brief: {background: 背景, purpose: 宗旨, goals: [目标]}
team: {roles: [{id: ops, name: 运营}]}
channels: [{id: c, name: 社群, kind: community, base_users: 100}]
funnel:
  window: 2d
  stages:
    - {id: join, name: 入群, event: join, aarrr: acquisition}
    - {id: attend, name: 到课, event: attend, aarrr: activation, expected_rate: 0.5}
    - {id: pay, name: 付费, event: pay, aarrr: revenue, expected_rate: 0.1, value: 99,
       where: [{property: product, op: "=", value: course}]}
timeline:
  span: {start: "D0 00:00", end: "D+9 23:59"}
  phases:
    - id: p
      name: 执行
      steps:
        - {id: s1, name: 一, at: "D0 10:00", owner: ops, channel: community_group, action: a, stage: attend}
        - {id: s2, name: 二, at: "D+2 10:00", owner: ops, channel: community_group, action: b,
           audience: {not_reached: pay}}
        - {id: s3, name: 三, at: "D+4 10:00", owner: ops, channel: community_group, action: c}
        - {id: s4, name: 四, at: "D+6 10:00", owner: ops, channel: community_group, action: d,
           exit_when: {event: unsubscribe}}
"""
# what counts as a reaction per step (event, product or None for any) and the conversion
REACTIONS: list[tuple[str | None, str | None]] = [
    ("attend", None),
    ("pay", "course"),
    (None, None),
    ("unsubscribe", None),
]


def _run() -> CampaignRun:
    playbook, problems = parse_playbook(PLAYBOOK, filename="eng.yaml")
    assert playbook is not None, problems
    tasks = tuple(
        CampaignTask(
            step=s,
            name=s,
            position=i,
            task_id=i + 1,
            owner="王",
            state="sent",
            executed_at=None,
            audience_size=10,
        )
        for i, s in enumerate(STEPS)
    )
    return CampaignRun(
        id=7, name="C", playbook_id="eng", version=1, timezone="UTC", playbook=playbook, tasks=tasks
    )


def event_log(seed: int, persons: int = 150) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []

    def add(event: str, user: str, ts: int, **extra: Any) -> None:
        rows.append({"event_id": f"e{len(rows)}", "event": event, "user_id": user, "ts": ts, **extra})

    for i in range(persons):
        user = f"staff:{i}" if i % 37 == 0 else f"p{i}"
        add("join", user, T0 - DAY)
        moments = [T0 + rng.randrange(0, 9 * DAY, HOUR) for _ in range(rng.randrange(0, 6))]
        for k, step in enumerate(STEPS):
            if rng.random() < 0.6:
                at = T0 + k * 2 * DAY + rng.randrange(0, 3) * HOUR
                moments.append(at)
                whose = rng.choice([{"campaign_id": 7}, {"campaign_id": 7}, {}, {"campaign_id": 8}])
                for _ in range(rng.choice([1, 1, 2])):  # sometimes a tie at one moment, another variant
                    add("sop_touch", user, at, campaign="C", step=step,
                        variant=rng.choice(["control", "b", None]), properties=json.dumps(whose))  # fmt: skip
        for at in moments:
            kind = rng.choice(["attend", "pay", "visit", "unsubscribe", "pay"])
            when = at + rng.choice([0, HOUR, DAY, 3 * DAY, -HOUR])
            if kind == "pay":
                add("pay", user, when, revenue=str(rng.choice([99, 199, 0.5])),
                    currency=rng.choice([None, "CNY", "USD"]),
                    properties=json.dumps({"product": rng.choice(["course", "book"])}))  # fmt: skip
            else:
                add(kind, user, when)
    return rows


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    columns = {name: [r.get(name) for r in rows] for name in EVENT_SCHEMA.names}
    arrays = [
        pa.array(columns[f.name], type=pa.int64() if f.name == "ts" else pa.string()) for f in EVENT_SCHEMA
    ]
    return pa.Table.from_arrays(
        [a.cast(f.type) for a, f in zip(arrays, EVENT_SCHEMA, strict=True)], schema=EVENT_SCHEMA
    )


def reference(rows: list[dict[str, Any]], span: TimeRange) -> dict[str, Any]:
    """The definitions of ``campaign_kernel``, person by person, without NumPy."""
    by_person: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if span.contains(row["ts"]):
            by_person[row["user_id"]].append(row)
    steps: list[dict[str, Any]] = [
        {"touched": 0, "reacted": 0, "converted": 0, "revenue": 0.0, "v": {}} for _ in STEPS
    ]
    touched_any, staff, other = 0, 0, 0

    def ours(row: dict[str, Any]) -> bool:
        if row["event"] != "sop_touch" or row.get("step") not in STEPS:
            return False
        campaign_id = json.loads(row.get("properties") or "{}").get("campaign_id")
        return campaign_id == 7 or (campaign_id is None and row.get("campaign") == "C")

    def does(row: dict[str, Any], event: str | None, product: str | None) -> bool:
        if event is None:
            return row["event"] not in ("sop_touch", "$identify", "$set", "$create_alias")
        product_of = json.loads(row.get("properties") or "{}").get("product")
        return row["event"] == event and (product is None or product_of == product)

    for user, events in by_person.items():
        touches = [r for r in events if ours(r)]
        if user.startswith("staff:"):
            staff += bool(touches)
            continue
        if touches:
            other += sum(1 for r in events if r.get("revenue") is not None and r.get("currency") == "USD")
        touched_any += bool(touches)
        for k, step in enumerate(STEPS):
            mine = [r for r in touches if r["step"] == step]
            if not mine:
                continue
            t0 = min(r["ts"] for r in mine)
            names = sorted(r["variant"] for r in mine if r["ts"] == t0 and r.get("variant"))
            variant = names[0] if names else None
            within = [r for r in events if t0 <= r["ts"] <= t0 + WINDOW]
            reacted = any(does(r, *REACTIONS[k]) for r in within)
            converted = any(does(r, "pay", "course") for r in within)
            out = steps[k]["v"].setdefault(variant, [0, 0, 0, 0.0])
            for target in (steps[k], None):
                if target is None:
                    out[0] += 1
                    out[1] += reacted
                    out[2] += converted
                else:
                    target["touched"] += 1
                    target["reacted"] += reacted
                    target["converted"] += converted
        for pay in events:
            if pay.get("revenue") is None or pay.get("currency") == "USD" or not touches:
                continue
            before = [r for r in touches if r["ts"] <= pay["ts"]]
            if not before:
                continue
            last = max(before, key=lambda r: (r["ts"], STEPS.index(r["step"])))
            if pay["ts"] - last["ts"] <= WINDOW:
                k = STEPS.index(last["step"])
                steps[k]["revenue"] += float(pay["revenue"])
                first = [r for r in touches if r["step"] == last["step"]]
                t0 = min(r["ts"] for r in first)
                names = sorted(r["variant"] for r in first if r["ts"] == t0 and r.get("variant"))
                steps[k]["v"][names[0] if names else None][3] += float(pay["revenue"])
    return {"steps": steps, "touched": touched_any, "staff": staff, "other": other}


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    steps = []
    for row in data["steps"]:
        variants = {
            v["variant"]: [v["touched"], v["reacted"], v["converted"], round(v["revenue"], 4)]
            for v in row["variants"]
        }
        steps.append({"touched": row["touched"], "reacted": row["reacted"], "converted": row["converted"],
                      "revenue": round(row["revenue"], 4), "v": variants})  # fmt: skip
    totals = data["totals"]
    return {
        "steps": steps,
        "touched": totals["touched"],
        "staff": totals["staff_records"],
        "other": totals["other_currency_events"],
    }


def _expected(rows: list[dict[str, Any]], span: TimeRange) -> dict[str, Any]:
    ref = reference(rows, span)
    for step in ref["steps"]:
        step["revenue"] = round(step["revenue"], 4)
        has_variants = any(name is not None for name in step["v"])
        step["v"] = (
            {n: [a, b, c, round(d, 4)] for n, (a, b, c, d) in step["v"].items()} if has_variants else {}
        )
    return ref


def _embedded(tmp_path: Path, rows: list[dict[str, Any]]) -> EmbeddedEngine:
    path = tmp_path / "events.parquet"
    pq.write_table(_table(rows), path)
    return EmbeddedEngine.open(workspace=Workspace.resolve(tmp_path / "ws"), events_path=path)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("window", [(None, None), ("2026-10-27", "2026-11-02")])
def test_the_table_follows_its_definitions(
    tmp_path: Path, seed: int, window: tuple[str | None, str | None]
) -> None:
    rows = event_log(seed)
    span = parse_range(window[0], window[1], tz=ZoneInfo("UTC"))
    got = compute_campaign_steps(engine=_embedded(tmp_path, rows), run=_run(), time_range=span).as_json()
    expected = _expected(rows, span)
    assert _summary(got) == expected
    assert (
        sum(s["touched"] for s in expected["steps"]) > 50 and expected["other"] > 0 and expected["staff"] > 0
    )


@requires_java
def test_the_same_json_on_spark(tmp_path: Path) -> None:
    rows = event_log(5)
    path = tmp_path / "events.parquet"
    pq.write_table(_table(rows), path)
    span = parse_range("2026-10-26", None, tz=ZoneInfo("UTC"))
    local = compute_campaign_steps(engine=_embedded(tmp_path, rows), run=_run(), time_range=span).as_json()
    spark = spark_engine(tmp_path / "ws", events_path=path)
    remote = compute_campaign_steps(engine=spark, run=_run(), time_range=span).as_json()
    assert {**local, "engine": None} == {**remote, "engine": None}
    assert local["totals"]["touched"] > 50
