"""The profile's revenue lines, found once per frame and filtered per range.

A person's ``revenue`` in the profile is the JSON text ``[[ts, amount, currency, first_touch, last_touch], …]``
of their revenue events in the range (see ``profile.py``), written exactly as ``json.dumps`` with
``ensure_ascii=False`` and ``separators=(",", ":")`` writes it. :class:`RevenueRows` holds every revenue event
of a frame whatever the range (each distinct value dumped to JSON once, each line's text joined once), so a
new range only picks rows and joins them per person. The column it gives (:class:`RevenueLines`) also carries
those rows as codes, so the ROI ledger sums them without parsing the JSON back; a table concatenated from
several frames (Spark) has the text only, and the ledger parses it (the same numbers: tested).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from sopflow.analytics.frame import Coded


def in_range(ts: np.ndarray, start: int | None, end: int | None) -> np.ndarray:
    """Whether each µs timestamp is in ``[start, end)`` (an open end: no bound)."""
    inside = np.ones(len(ts), dtype=bool)
    if start is not None:
        inside &= ts >= start
    if end is not None:
        inside &= ts < end
    return inside


@dataclass(frozen=True)
class LineCodes:
    """Revenue lines as codes: ``amount`` into ``amounts``, ``currency`` into ``currencies``, both touches into
    ``channels`` (code -1: null). Lines by person, in row order."""

    ts: np.ndarray
    amount: np.ndarray
    currency: np.ndarray
    first: np.ndarray
    last: np.ndarray
    amounts: list[str]
    currencies: list[str]
    channels: list[str]

    def take(self, index: np.ndarray) -> LineCodes:
        return LineCodes(
            self.ts[index],
            self.amount[index],
            self.currency[index],
            self.first[index],
            self.last[index],
            self.amounts,
            self.currencies,
            self.channels,
        )


@dataclass(frozen=True)
class RevenueLines(Coded):
    """The profile's ``revenue`` column (JSON text per person) with its lines as codes beside."""

    lines: LineCodes | None = None


@dataclass(frozen=True)
class RevenueRows:
    """Every revenue event of a frame: its owner (ascending), its line as codes and as JSON text."""

    owners: np.ndarray
    codes: LineCodes
    texts: list[str]

    @classmethod
    def of(cls, owners: np.ndarray, codes: LineCodes) -> RevenueRows:
        stamps = codes.ts.tolist()
        amounts = _texts(codes.amounts, codes.amount)
        currencies = _texts(codes.currencies, codes.currency)
        firsts, lasts = _texts(codes.channels, codes.first), _texts(codes.channels, codes.last)
        texts = [
            f"[{stamp},{amount},{cur},{first},{last}]"
            for stamp, amount, cur, first, last in zip(
                stamps, amounts, currencies, firsts, lasts, strict=True
            )
        ]
        return cls(owners, codes, texts)

    def within(self, start: int | None, end: int | None, n: int) -> RevenueLines:
        """Per person (``n`` of them), their lines in ``[start, end)`` as one JSON list (code -1: none)."""
        out = np.full(n, -1, dtype=np.int32)
        picked = np.flatnonzero(in_range(self.codes.ts, start, end))
        if not len(picked):
            return RevenueLines(out, [], self.codes.take(picked))
        owners = self.owners[picked]
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        out[owners[starts]] = np.arange(len(starts), dtype=np.int32)
        chosen = [self.texts[i] for i in picked.tolist()]
        bounds = [*starts.tolist(), len(picked)]
        values = ["[" + ",".join(chosen[s:e]) + "]" for s, e in pairwise(bounds)]
        return RevenueLines(out, values, self.codes.take(picked))


def _texts(values: list[str], codes: np.ndarray) -> list[str]:
    """The JSON text of each code's value (``null`` for -1), each distinct value dumped once."""
    lookup = np.array([json.dumps(v, ensure_ascii=False) for v in values] + ["null"], dtype=object)
    picked: list[str] = lookup[np.where(codes >= 0, codes, len(values))].tolist()
    return picked
