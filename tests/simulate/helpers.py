"""Helpers for the simulation tests: the playbook's filter semantics written plainly, person lookups."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sopflow.playbook.catalog import template_path
from sopflow.playbook.loader import load_playbook
from sopflow.playbook.model import Playbook
from sopflow.playbook.model.base import Condition

LARGE_USERS = 40_000


def playbook_of(name: str) -> Playbook:
    return load_playbook(template_path(name))


def matches(properties: dict[str, Any], conditions: Sequence[Condition]) -> bool:
    """The playbook's filter semantics, written plainly for the tests."""
    for c in conditions:
        value = properties.get(c.property)
        if value is None:
            return False
        ok = {
            "=": lambda v, c=c: v == c.value,
            "!=": lambda v, c=c: v != c.value,
            ">": lambda v, c=c: v > c.value,
            ">=": lambda v, c=c: v >= c.value,
            "<": lambda v, c=c: v < c.value,
            "<=": lambda v, c=c: v <= c.value,
            "in": lambda v, c=c: v in c.value,  # type: ignore[operator]
            "contains": lambda v, c=c: str(c.value) in str(v),
        }[c.op](value)
        if not ok:
            return False
    return True


def users_at(table: pa.Table, event: str, conditions: Sequence[Condition]) -> set[str]:
    """Distinct user ids with an ``event`` row whose properties pass ``conditions``."""
    rows = table.filter(pc.equal(table["event"], event))
    texts = pc.unique(rows["properties"]).to_pylist()
    passing = [t for t in texts if matches(json.loads(t), conditions)]
    chosen = rows.filter(pc.is_in(rows["properties"], pa.array(passing, pa.string())))
    return set(pc.unique(chosen["user_id"]).to_pylist())


def generation(user_id: str) -> int:
    """Invitees are named after their inviter: ``u00000012.3`` is the third invitee of ``u00000012``."""
    return user_id.count(".")
