"""Hand-built person frames for the AARRR, ROI and targets tests, and an engine that runs a per-person
function over them the way both real engines may: persons in any order, split into any partitions."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from sopflow.analytics.frame import (
    Coded,
    FrameRequest,
    PersonFrame,
    PersonFunction,
    PersonTable,
    concat_tables,
)
from sopflow.analytics.timerange import TimeRange, to_micros
from sopflow.playbook.loader import load_playbook
from sopflow.playbook.model import Playbook

SHANGHAI = ZoneInfo("Asia/Shanghai")
TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "sopflow" / "playbook" / "templates"

# An event: (local time "2024-03-04 10:00" in Shanghai, event name, {column or property: text})
Event = tuple[str, str, dict[str, Any]]


@cache
def _template(name: str) -> Playbook:
    return load_playbook(TEMPLATES / f"{name}.yaml")


def fission() -> Playbook:
    """The community fission template (a copy: tests may change it)."""
    return _template("community_fission").model_copy(deep=True)


def micros(local: str) -> int:
    return to_micros(datetime.fromisoformat(local).replace(tzinfo=SHANGHAI))


def _encode(values: list[str | None]) -> Coded:
    index: dict[str, int] = {}
    codes = []
    for value in values:
        if value is None:
            codes.append(-1)
        else:
            codes.append(index.setdefault(value, len(index)))
    return Coded(np.array(codes, dtype=np.int32), list(index))


def build_frame(
    persons: dict[str, list[Event]], request: FrameRequest, *, seed: int | None = None
) -> PersonFrame:
    """The frame of ``persons`` (their own id is their ``user_id`` unless an event says otherwise).

    With ``seed``, events at the same time come in a shuffled order (the engines promise no order there).
    """
    rng = random.Random(seed)
    rows: list[tuple[int, str, dict[str, Any]]] = []
    offsets = [0]
    for person, events in persons.items():
        mine = [
            (micros(t), name, {"user_id": person, **props})
            for t, name, props in events
            if request.events is None or name in request.events
        ]
        if seed is not None:
            rng.shuffle(mine)
        mine.sort(key=lambda row: row[0])
        rows += mine
        offsets.append(len(rows))
    names = sorted({name for _t, name, _p in rows})
    columns = {
        column: _encode([None if p.get(column) is None else str(p[column]) for _t, _n, p in rows])
        for column in request.columns
    }
    return PersonFrame(
        offsets=np.array(offsets, dtype=np.int64),
        ts=np.array([t for t, _n, _p in rows], dtype=np.int64),
        event=np.array([names.index(n) for _t, n, _p in rows], dtype=np.int32),
        event_names=names,
        columns=columns,
        person_ids=list(persons) if request.person_ids else None,
    )


@dataclass
class FrameEngine:
    """Runs ``fn`` over ``persons`` in ``parts`` partitions of shuffled persons (1: one frame of everyone)."""

    persons: dict[str, list[Event]]
    parts: int = 1
    seed: int = 0
    name: str = "test"
    calls: list[FrameRequest] = field(default_factory=list)

    def map_persons(self, request: FrameRequest, fn: PersonFunction) -> PersonTable:
        self.calls.append(request)
        ids = [p for p, events in self.persons.items() if events]
        random.Random(self.seed).shuffle(ids)
        chunks = [ids[i :: self.parts] for i in range(self.parts)]
        tables = [
            fn(build_frame({p: self.persons[p] for p in chunk}, request, seed=self.seed))
            for chunk in chunks
            if chunk
        ]
        return concat_tables(tables)

    def time_bounds(self) -> tuple[int, int] | None:
        times = [micros(t) for events in self.persons.values() for t, _n, _p in events]
        return (min(times), max(times)) if times else None


# A small campaign of the community fission template, pinned in test_aarrr.py and test_roi.py.
RANGE = TimeRange(micros("2024-03-04 00:00"), micros("2024-04-01 00:00"), SHANGHAI)
SYSTEM = {"product": "system_course"}

# a: visits anonymously on moments, signs up on the official account, joins, pays the system course.
# b: invited by a's anonymous id; reaches homework.   c: invited by a; a tie of channels; renews.
# d: no channel, an inviter nobody is; pays for something that is no stage.   e: signed up before the
# range, pays in it, names themself as inviter.
PERSONS: dict[str, list[Event]] = {
    "a": [
        ("2024-03-04 08:00", "visit", {"user_id": "anon-a", "channel": "moments"}),
        ("2024-03-04 09:00", "signup", {"channel": "official_account"}),
        ("2024-03-04 10:00", "join_group", {}),
        ("2024-03-10 20:00", "pay", {**SYSTEM, "revenue": "699.0000"}),
    ],
    "b": [
        ("2024-03-05 10:00", "signup", {"channel": "referral", "inviter_id": "anon-a"}),
        ("2024-03-05 11:00", "join_group", {}),
        ("2024-03-06 20:00", "attend_class", {}),
        ("2024-03-07 21:00", "submit_homework", {}),
    ],
    "c": [
        ("2024-03-05 12:00", "visit", {"channel": "paid_feed", "inviter_id": "a"}),
        ("2024-03-05 12:00", "signup", {"channel": "moments", "inviter_id": "a"}),
        (
            "2024-03-12 20:00",
            "pay",
            {"product": "advanced_course", "revenue": "999.0000", "channel": "old_groups"},
        ),
    ],
    "d": [
        ("2024-03-06 10:00", "signup", {"inviter_id": "ghost"}),
        ("2024-03-07 10:00", "pay", {"product": "book", "revenue": "10.5000"}),
    ],
    "e": [
        ("2024-03-01 10:00", "signup", {"channel": "paid_feed"}),
        (
            "2024-03-08 10:00",
            "pay",
            {**SYSTEM, "revenue": "699.0000", "channel": "paid_feed", "inviter_id": "e"},
        ),
    ],
}


# -- a simulated campaign for the CLI tests, made once per test session -------------------------------------------
_SIMULATED: dict[str, Path] = {}


def simulated(make_dir: Any) -> dict[str, Path]:
    """``{"workspace": DIR, "events": FILE.parquet, "playbook": FILE.yaml}``: the same 2,000-user run of the
    community fission template (no noise), in a workspace and in a Parquet file. ``make_dir``: pytest's
    ``tmp_path_factory.mktemp``."""
    if not _SIMULATED:
        import pyarrow.parquet as pq

        from sopflow.events.store import EventStore
        from sopflow.simulate.generator import Options, table_of
        from sopflow.workspace import Workspace

        root = Path(make_dir("aarrr_sim"))
        table = table_of(playbook=fission(), options=Options(users=2_000, seed=5, noise=False))
        with EventStore.open(Workspace.resolve(root / "ws")) as store:
            store.append_table(table)
        pq.write_table(table, root / "events.parquet")
        _SIMULATED.update(
            workspace=root / "ws",
            events=root / "events.parquet",
            playbook=TEMPLATES / "community_fission.yaml",
        )
    return _SIMULATED
