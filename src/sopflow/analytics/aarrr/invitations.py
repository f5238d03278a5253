"""Who invited whom: the cross-person join of the profile rows (never inside a per-person function)."""

from __future__ import annotations

import numpy as np

from sopflow.analytics.aarrr.profile import NONE
from sopflow.analytics.frame import Coded, PersonTable

NOT_FOUND = -1  # no inviter id, or it names nobody among the persons read
SELF = -2  # the inviter id is one of the person's own ids


def resolve_inviters(table: PersonTable) -> np.ndarray:
    """Per profile row, the row of the person who invited them, else :data:`NOT_FOUND` or :data:`SELF`.

    An ``inviter_id`` finds the person holding that raw id (any of their ids: anonymous or identified).
    """
    inviter, aliases = table["inviter"], table["aliases"]
    assert isinstance(inviter, Coded) and isinstance(aliases, Coded)
    n = len(inviter)
    wanted = {value: j for j, value in enumerate(inviter.values)}
    alias_codes = np.asarray(aliases.codes)
    holder = np.full(len(aliases.values) + 1, -1, dtype=np.int64)
    have = np.flatnonzero(alias_codes >= 0)
    holder[alias_codes[have]] = have
    owner = np.full(len(inviter.values) + 1, -1, dtype=np.int64)
    for a, text in enumerate(aliases.values):
        if holder[a] < 0:
            continue
        for raw in text.split("\n"):
            j = wanted.get(raw)
            if j is not None:
                owner[j] = holder[a]
    codes = np.asarray(inviter.codes)
    found: np.ndarray = owner[np.where(codes >= 0, codes, len(inviter.values))]
    found[found == np.arange(n)] = SELF
    return found


def invited_within(table: PersonTable, start: int | None, end: int | None) -> np.ndarray:
    """Per row: was the person invited (their first event with an ``inviter_id``) within the range?"""
    at = np.asarray(table["invited_ts"])
    inside: np.ndarray = at != NONE
    if start is not None:
        inside &= at >= start
    if end is not None:
        inside &= at < end
    return inside
