"""Retention and referral give the same JSON on the embedded engine and on Spark (local[2], 3 partitions).

One seeded event log of a few hundred persons holds what the definitions care about: anonymous ids merged
by ``$identify``, inviter ids naming an anonymous id, unknown inviters, self-invites, an invitation cycle,
same-time start events with different ``--by`` values, returns across a DST change in the chosen --tz.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from spark_support import requires_java, spark_engine

from sopflow.analytics.conditions import Condition
from sopflow.analytics.engines.embedded import EmbeddedEngine
from sopflow.analytics.referral import ReferralSpec, compute_referral
from sopflow.analytics.referral.definition import InvitersStage
from sopflow.analytics.retention import RetentionSpec, compute_retention
from sopflow.analytics.timerange import parse_range
from sopflow.events.schema import EVENT_SCHEMA
from sopflow.workspace import Workspace

# One JVM per test process: keep every Spark test on one xdist worker (make test uses --dist loadgroup).
pytestmark = pytest.mark.xdist_group("spark")

NEW_YORK = ZoneInfo("America/New_York")
DAY = 86_400_000_000
T0 = 1_709_683_200_000_000  # 2024-03-06 00:00 UTC: New York changes to DST on 03-10


def event_log(seed: int = 11, persons: int = 240) -> pa.Table:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []

    def add(event: str, user: str, ts: int, **extra: Any) -> None:
        rows.append({"event_id": f"e{len(rows)}", "event": event, "user_id": user, "ts": ts, **extra})

    for i in range(persons):
        user, anon = f"u{i}", f"anon{i}"
        start = T0 + rng.randrange(0, 20 * DAY, 3_600_000_000)
        inviter = rng.choice(
            [None, None, f"u{rng.randrange(persons)}", f"anon{rng.randrange(persons)}", "ghost"]
        )
        extra = {"inviter_id": inviter} if inviter else {}
        if rng.random() < 0.4:  # an anonymous visit first, merged later
            add("visit", anon, start - 3_600_000_000, **extra)
            add("$identify", user, start, properties=json.dumps({"$anon_distinct_id": anon}))
        add("signup", user, start, channel=rng.choice(["wx", "dy", "ks", None]), **extra)
        if rng.random() < 0.1:  # a tie on the first start event
            add("signup", user, start, channel="aa")
        for _ in range(rng.randrange(0, 5)):
            add("visit", user, start + rng.randrange(0, 25 * DAY, 1_800_000_000))
        if rng.random() < 0.3:
            add(
                "pay",
                user,
                start + DAY,
                revenue="99",
                properties=json.dumps({"product": rng.choice(["a", "b"])}),
            )
    add("signup", "self", T0, inviter_id="self")
    add("signup", "cy1", T0 + DAY, inviter_id="cy2")
    add("signup", "cy2", T0 + 2 * DAY, inviter_id="cy1")
    columns = {name: [r.get(name) for r in rows] for name in EVENT_SCHEMA.names}
    arrays = [
        pa.array(columns[f.name], type=pa.int64() if f.name == "ts" else pa.string()) for f in EVENT_SCHEMA
    ]
    typed = [a.cast(f.type) for a, f in zip(arrays, EVENT_SCHEMA, strict=True)]
    return pa.Table.from_arrays(typed, schema=EVENT_SCHEMA)


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    folder = tmp_path_factory.mktemp("rr")
    path = folder / "events.parquet"
    pq.write_table(event_log(), path)
    embedded = EmbeddedEngine.open(workspace=Workspace.resolve(folder / "ws"), events_path=path)
    return embedded, spark_engine(folder / "ws", events_path=path)


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert {**a, "engine": None} == {**b, "engine": None}


@requires_java
@pytest.mark.parametrize(
    "options",
    [
        {"period": "day", "periods": 10, "mode": "on", "by": "channel", "top": 2},
        {
            "period": "week",
            "periods": 3,
            "mode": "on_or_after",
            "from": "2024-03-08",
            "to": "2024-03-20",
            "same": 1,
        },
    ],
)
def test_retention_is_the_same_on_spark(engines: tuple[Any, Any], options: dict[str, Any]) -> None:
    embedded, spark = engines
    spec = RetentionSpec.make(
        start_event="signup",
        return_event="signup" if options.get("same") else "visit",
        range=parse_range(options.get("from"), options.get("to"), tz=NEW_YORK),
        period=options["period"],
        periods=options["periods"],
        mode=options["mode"],
        by=options.get("by"),
        top=options.get("top", 10),
    )
    local = compute_retention(embedded, spec).as_json()
    assert local["size"] > 200 or options.get("from")
    _same(local, compute_retention(spark, spec).as_json())


@requires_java
def test_referral_is_the_same_on_spark(engines: tuple[Any, Any], tmp_path: Path) -> None:
    from test_referral_cached import workspace_of

    embedded, spark = engines
    stage = InvitersStage("pay", "pay", (Condition("product", "=", "a"),))
    spec = ReferralSpec(
        range=parse_range("2024-03-01", "2024-03-22", tz=NEW_YORK), inviters_stage=stage, top=5
    )
    local, remote = compute_referral(embedded, spec), compute_referral(spark, spec)
    data = local.as_json()
    assert data["self_invites"] >= 1 and data["cycles_broken"] >= 1 and data["unknown_inviters"] >= 1
    assert 0 < data["could_invite"]["persons"] < data["persons"]
    _same(data, remote.as_json())
    assert local.tree == remote.tree
    # the same log imported into a workspace: the one pass over the cache's coded columns agrees too
    cached = compute_referral(
        EmbeddedEngine.open(workspace=workspace_of(tmp_path / "ws", [event_log()])), spec
    )
    _same(cached.as_json(), remote.as_json())
    assert cached.tree == remote.tree
