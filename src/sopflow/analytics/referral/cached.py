"""Referral in one pass over the analytics cache: the coded inviter and revenue columns, no text read.

The definitions are :mod:`sopflow.analytics.referral.definition`'s; only the way to them differs. The
per-person function there reads every row's ``user_id``, ``inviter_id`` and ``revenue`` as text, to find
the person an inviter id names through each person's raw ids. Here:

- a compiled pass (``referral.c``) over the cache's rows gives each person's first time, first inviter code,
  whether they reached the inviters stage, and their revenue (the float sum in the same row order);
- an inviter code names a person when its text is a raw id that some event carries as ``user_id``
  (``has_events``: exactly the ids the text path collects as a person's shown id and aliases), found once
  per inviter id at compaction (``inviter_raw``), the person being that raw id's identity label;
- other inviter codes are unknown inviters, one node each, named by their text;
- person ids are looked up only for the nodes shown (top sharers, cycles, the tree export).

It applies to the embedded engine over a sealed generation that has the coded columns (see
:meth:`sopflow.analytics.engines.embedded.EmbeddedEngine.map_cache`); anything else takes the text path.
"""

from __future__ import annotations

import ctypes
import mmap
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sopflow.analytics.frame import BOOKKEEPING_EVENTS, FrameRequest, PersonTable
from sopflow.analytics.kernel.build import load_source
from sopflow.analytics.kernel.parallel import run_parts, split
from sopflow.analytics.referral.tree import Tree, tree_of

if TYPE_CHECKING:
    import pyarrow as pa

    from sopflow.analytics.engines.embedded import CachedEvents
    from sopflow.analytics.frame import Engine
    from sopflow.analytics.referral.definition import ReferralKernel

_P, _I32, _I64 = ctypes.c_void_p, ctypes.c_int32, ctypes.c_int64
# sop_referral(p_begin, p_end, offsets, ts, event, event_width, bookkeeping, inviter, blank, text_offsets,
#              text_data, revenue, amount, reached, from, to, first_out, inviter_out, reached_out, paid_out,
#              revenue_out)
_ARGTYPES: list[Any] = [_I64, _I64, _P, _P, _P, _I32, *[_P] * 8, _I64, _I64, *[_P] * 5]
_SOME_NAMES = 64  # up to this many names are looked up person by person; more: all persons' at once


@cache
def _kernel() -> ctypes._NamedFuncPointer:
    function = load_source(Path(__file__).with_name("referral.c")).sop_referral
    function.argtypes = _ARGTYPES
    function.restype = None
    return function


def cached_referral(engine: Engine, kernel: ReferralKernel) -> tuple[PersonTable, Tree] | None:
    """The per-person numbers and the tree, when ``engine`` reads a cache with the coded columns."""
    map_cache = getattr(engine, "map_cache", None)
    if map_cache is None:
        return None
    found: tuple[PersonTable, Tree] | None = map_cache(CachedReferral(kernel))
    return found


@dataclass(frozen=True)
class CachedReferral:
    """The cache function (hashable: the engine answers the same question once)."""

    kernel: ReferralKernel

    def __call__(self, events: CachedEvents) -> tuple[PersonTable, Tree]:
        offsets = np.ascontiguousarray(events.arrays.offsets, dtype=np.int64)
        n = len(offsets) - 1
        texts = events.inviter_ids()
        out = _pass(events, self.kernel, offsets, texts)
        first_ts, chosen = out["first_ts"], out["inviter"]
        could = first_ts >= 0
        if self.kernel.inviters_stage is not None:
            could &= out["reached"].astype(bool)
        persons = _person_codes(events)
        parent, unknown, self_invites = _parents(events, persons, chosen)
        names = _Names(events, persons, texts, unknown)
        tree = tree_of(parent, n, names, first_ts, self_invites)
        rows: PersonTable = {
            "first_ts": first_ts,
            "could_invite": could,
            "paid": out["paid"].astype(bool),
            "revenue": out["revenue"],
        }
        return rows, tree


def _pass(
    events: CachedEvents, kernel: ReferralKernel, offsets: np.ndarray, texts: pa.Array
) -> dict[str, np.ndarray]:
    arrays, coded = events.arrays, events.coded
    n = len(offsets) - 1
    ts = np.ascontiguousarray(arrays.ts, dtype=np.int64)
    event = np.asarray(arrays.event)
    if event.dtype not in (np.int16, np.int32):
        event = event.astype(np.int32)
    event = np.ascontiguousarray(event)
    bookkeeping = np.zeros(max(len(arrays.event_names), 1), dtype=np.uint8)
    for name in BOOKKEEPING_EVENTS:
        if name in arrays.event_names:
            bookkeeping[arrays.event_names.index(name)] = 1
    inviter = np.ascontiguousarray(coded.inviter, dtype=np.int32)
    revenue = np.ascontiguousarray(coded.revenue, dtype=np.int32)
    amount = np.ascontiguousarray(_amounts(coded.revenue_units), dtype=np.float64)
    blank = np.ascontiguousarray(_blank(texts), dtype=np.uint8)
    text_offsets, text_data = _text_buffers(texts)
    reached = _reached(events, kernel)
    span = kernel.range
    start = np.iinfo(np.int64).min if span.start is None else span.start
    end = np.iinfo(np.int64).max if span.end is None else span.end
    out: dict[str, np.ndarray] = {
        "first_ts": np.empty(n, dtype=np.int64),
        "inviter": np.empty(n, dtype=np.int32),
        "reached": np.empty(n, dtype=np.uint8),
        "paid": np.empty(n, dtype=np.uint8),
        "revenue": np.empty(n, dtype=np.float64),
    }
    function = _kernel()

    def work(begin: int, stop: int) -> None:
        function(
            begin, stop, offsets.ctypes.data, ts.ctypes.data, event.ctypes.data, event.dtype.itemsize,
            bookkeeping.ctypes.data, inviter.ctypes.data, blank.ctypes.data, text_offsets.ctypes.data,
            text_data.ctypes.data, revenue.ctypes.data, amount.ctypes.data,
            None if reached is None else reached.ctypes.data, start, end,
            *(out[name].ctypes.data for name in ("first_ts", "inviter", "reached", "paid", "revenue")),
        )  # fmt: skip

    run_parts(work, split(offsets))
    release(arrays.ts, arrays.event, coded.inviter, coded.revenue)
    return out


def release(*columns: np.ndarray) -> None:
    """Let go of the pages of memory-mapped cache columns a pass has read (Linux): they stay in the page
    cache, so a later read is as fast, but no longer count in this process's memory. At 50M events the
    four columns of the pass are 900 MB, which the aggregation after it would otherwise sit on top of."""
    advice = getattr(mmap, "MADV_DONTNEED", None)
    for column in columns:
        mapped = getattr(column, "_mmap", None)  # a numpy.memmap (np.load with mmap_mode)
        if advice is not None and isinstance(mapped, mmap.mmap):
            mapped.madvise(advice)


def _amounts(units: np.ndarray) -> np.ndarray:
    """Each amount as ``float()`` of its decimal text gives it (the text path's value), code by code."""
    from sopflow.events.revenues import amounts

    return amounts(units) if len(units) else np.zeros(1, dtype=np.float64)


def _blank(texts: pa.Array) -> np.ndarray:
    """Per inviter code: is the text empty or only whitespace (as ``not text.strip()`` says)?

    Only texts whose first character is whitespace by Python's rule (or that are empty) can be blank; the
    distinct first characters are few, so Python looks at those and at the few candidate texts alone.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    out = np.zeros(max(len(texts), 1), dtype=np.uint8)
    if not len(texts):
        return out
    heads = pc.dictionary_encode(pc.utf8_slice_codeunits(texts, 0, 1))
    spacey = pa.array([not head.strip() for head in heads.dictionary.to_pylist()], pa.bool_())
    candidates = np.flatnonzero(np.asarray(spacey.take(heads.indices).to_numpy(zero_copy_only=False)))
    for code, text in zip(candidates.tolist(), texts.take(pa.array(candidates)).to_pylist(), strict=True):
        out[code] = not text.strip()
    return out


def _text_buffers(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The Arrow string offsets (int32, from the array's own start) and bytes of the inviter ids."""
    import pyarrow as pa

    texts = texts.cast(pa.string())
    if not len(texts):
        return np.zeros(1, dtype=np.int32), np.zeros(1, dtype=np.uint8)
    _validity, offsets_buffer, data_buffer = texts.buffers()
    assert offsets_buffer is not None
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32, count=texts.offset + len(texts) + 1)
    offsets = np.ascontiguousarray(offsets[texts.offset :])
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(1, np.uint8)
    return offsets, np.ascontiguousarray(data if len(data) else np.zeros(1, np.uint8))


def _reached(events: CachedEvents, kernel: ReferralKernel) -> np.ndarray | None:
    """Per cache row: is it the inviters stage's event with its conditions (``None`` without a stage)."""
    stage = kernel.inviters_stage
    if stage is None:
        return None
    from sopflow.analytics.conditions import stage_rows

    columns = tuple(dict.fromkeys(c.prop for c in stage.conditions))
    frame = events.frame(FrameRequest(events=None, columns=columns, exact_events=False))
    return np.ascontiguousarray(stage_rows(frame, event=stage.event, conditions=stage.conditions), np.uint8)


def _parents(
    events: CachedEvents, persons: np.ndarray, chosen: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """The inviter node of each person (``persons``: their codes; unknown inviters get the nodes after the
    persons), the inviter codes of those unknown nodes, and the self-invites."""
    coded, n = events.coded, len(persons)
    raw = np.asarray(coded.inviter_raw, dtype=np.int64)
    has_events = np.asarray(coded.has_events, dtype=bool)
    labels = np.asarray(events.labels)
    known = raw >= 0
    known[known] = has_events[raw[known]]
    # person code (a raw-id code) → node; persons are the cache's, in offsets order
    node_of = np.full(len(labels), -1, dtype=np.int64)
    node_of[persons] = np.arange(n)
    target = np.full(len(raw) + 1, -1, dtype=np.int64)  # last slot: no inviter (code -1)
    target[: len(raw)][known] = node_of[labels[raw[known]]]
    used = np.zeros(len(raw) + 1, dtype=bool)
    used[chosen] = True  # code -1 marks the last slot, harmless
    unknown = np.flatnonzero(used[: len(raw)] & (target[: len(raw)] < 0))
    target[unknown] = n + np.arange(len(unknown))
    parent = np.full(n + len(unknown), -1, dtype=np.int64)
    parent[:n] = target[chosen]
    own = parent[:n] == np.arange(n)
    parent[:n][own] = -1
    return parent, unknown, int(own.sum())


def _person_codes(events: CachedEvents) -> np.ndarray:
    """The person code (a raw-id code) of each person, in offsets order."""
    codes: np.ndarray = np.asarray(events.person)[np.asarray(events.arrays.offsets)[:-1]]
    release(events.person)
    return codes


class _Names:
    """Node names on demand: persons' shown ids through the identity, unknown inviters' texts."""

    def __init__(self, events: CachedEvents, codes: np.ndarray, texts: pa.Array, unknown: np.ndarray):
        self.events = events
        self.persons = len(codes)
        self.codes = codes  # person code of each person node
        self.texts = texts
        self.unknown = unknown
        self._raw_ids: pa.Array | None = None
        self._display: np.ndarray | None = None

    def __len__(self) -> int:
        return self.persons + len(self.unknown)

    def take(self, nodes: Sequence[int]) -> list[str]:
        import pyarrow as pa

        index = np.asarray(nodes, dtype=np.int64)
        out: list[str] = [""] * len(index)
        people = np.flatnonzero(index < self.persons)
        if len(people):
            shown = self._display_of(self.codes[index[people]])
            for slot, name in zip(
                people.tolist(), self._ids().take(pa.array(shown)).to_pylist(), strict=True
            ):
                out[slot] = name
        others = np.flatnonzero(index >= self.persons)
        if len(others):
            codes = self.unknown[index[others] - self.persons]
            for slot, name in zip(others.tolist(), self.texts.take(pa.array(codes)).to_pylist(), strict=True):
                out[slot] = name
        return out

    def _ids(self) -> pa.Array:
        if self._raw_ids is None:
            self._raw_ids = self.events.raw_ids()
        return self._raw_ids

    def _display_of(self, persons: np.ndarray) -> np.ndarray:
        """The raw code shown for each person code: as :meth:`Identity.display_codes` (the smallest
        identified raw code of the person, else the person code itself)."""
        labels, identified = np.asarray(self.events.labels), np.asarray(self.events.identified)
        if self._display is None and len(persons) > _SOME_NAMES:
            from sopflow.events.identity import Identity

            self._display = Identity(None, labels, identified).display_codes()
        if self._display is not None:
            shown: np.ndarray = self._display[persons]
            return shown
        members = np.flatnonzero(np.isin(labels, persons) & identified)  # ascending: the first is the least
        best: dict[int, int] = {}
        for code, owner in zip(members.tolist(), labels[members].tolist(), strict=True):
            best.setdefault(owner, code)
        return np.asarray([best.get(p, p) for p in persons.tolist()], dtype=np.int64)
