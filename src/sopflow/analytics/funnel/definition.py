"""The funnel's per-person definition: which step each event can fill, then the compiled kernel.

:class:`FunnelPersons` is the one function both engines run (see :mod:`sopflow.analytics.frame`). It
returns, per person: ``level`` (steps reached by the attempt that counts; 0 = not counted), ``entry_ts``
and ``step_ts_K`` (the attempt's step times, µs; ``NONE`` when not reached or unordered), and, when asked,
``breakdown`` (the entry event's ``--by`` value), ``channel`` (the entry event's channel) and ``person_id``.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import numpy as np

from sopflow.analytics.conditions import rows_holding
from sopflow.analytics.frame import BOOKKEEPING_EVENTS, Coded, FrameRequest, PersonFrame, PersonTable
from sopflow.analytics.funnel.spec import FunnelSpec
from sopflow.analytics.kernel.build import load
from sopflow.analytics.kernel.lookup import lookup
from sopflow.analytics.kernel.parallel import run_parts, split

NONE = np.iinfo(np.int64).min
_ORDER_CODE = {"ordered": 0, "strict": 1, "unordered": 2}
_P = ctypes.c_void_p
_I32, _I64 = ctypes.c_int32, ctypes.c_int64
# sop_funnel(n_persons, offsets, ts, event, event_width, n_events, mask_table, excl_table, other_table,
#            mask_rows, breakdown, breakdown_width, n_values, rank_table, n_steps, order, entry_first, n_excl,
#            excl_from, excl_to, window, from, to, p_begin, p_end, level_out, entry_out, times_out, code_out)
_ARGTYPES: list[Any] = [
    *(_I64, _P, _P, _P, _I32, _I64, _P, _P, _P, _P, _P, _I32, _I64, _P),
    *(_I32, _I32, _I32, _I32, _P, _P, _I64, _I64, _I64, _I64, _I64, _P, _P, _P, _P),
]


def _kernel() -> ctypes._NamedFuncPointer:
    function = load("funnel").sop_funnel
    function.argtypes = _ARGTYPES
    function.restype = ctypes.c_int
    return function


def request_for(spec: FunnelSpec) -> FrameRequest:
    columns: list[str] = []
    for conditions in spec.where:
        columns += [c.prop for c in conditions if c.prop not in columns]
    if spec.by and spec.by not in columns:
        columns.append(spec.by)
    if spec.dropped_at is not None and "channel" not in columns:
        columns.append("channel")
    # A strict funnel is interrupted by any other event, so it reads them all.
    events = None if spec.order == "strict" else frozenset(spec.steps) | {x.event for x in spec.exclusions}
    return FrameRequest(
        events=events, columns=tuple(columns), person_ids=spec.dropped_at is not None, exact_events=False
    )


@dataclass(frozen=True)
class FunnelPersons:
    spec: FunnelSpec

    def __call__(self, frame: PersonFrame) -> PersonTable:
        spec = self.spec
        n, steps = frame.n_persons, len(spec.steps)
        # The kernel writes every entry of these. It writes the entry's breakdown code itself (a gather
        # over the 10M-row column afterwards costs more than that); the entry row only when still needed.
        level = np.empty(n, dtype=np.int32)
        times = np.empty((steps, n), dtype=np.int64)  # step-major, as the kernel writes
        code = np.empty(n, dtype=np.int32) if spec.by else None
        needs_entry = spec.order == "unordered" or (spec.dropped_at is not None and spec.by != "channel")
        entry = np.empty(n, dtype=np.int64) if needs_entry else None
        if n:
            _run_kernel(frame, spec, level, entry, times, code)
        return _person_table(frame, spec, level, entry, times, code)


def _tables(
    frame: PersonFrame, spec: FunnelSpec
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Per event name (plus a last entry for none): the steps it fills, its exclusions, whether it is an
    "other event" for strict order; and per-row masks when a step has --where (else None)."""
    slots = len(frame.event_names) + 1
    fills = np.zeros(slots, dtype=np.uint32)
    for k, name in enumerate(spec.steps):
        code = frame.event_code(name)
        if code >= 0 and not spec.conditions(k):
            fills[code] |= np.uint32(1 << k)
    rows = step_masks(frame, spec) if any(spec.conditions(k) for k in range(len(spec.steps))) else None
    excluded = np.zeros(slots, dtype=np.uint32)
    for x, exclusion in enumerate(spec.exclusions):
        code = frame.event_code(exclusion.event)
        if code >= 0:
            excluded[code] |= np.uint32(1 << x)
    other = np.ones(slots, dtype=np.uint8)
    for name in BOOKKEEPING_EVENTS:
        code = frame.event_code(name)
        if code >= 0:
            other[code] = 0
    return fills, rows, excluded, other


def step_masks(frame: PersonFrame, spec: FunnelSpec) -> np.ndarray:
    """Bit k of an event's mask: it can fill step k (its name is the step's and it meets the step's --where)."""
    names = {name: frame.event_code(name) for name in spec.steps}
    plain = np.zeros(len(frame.event_names) + 1, dtype=np.uint32)
    conditional: list[int] = []
    for k, name in enumerate(spec.steps):
        if spec.conditions(k):
            conditional.append(k)
        elif names[name] >= 0:
            plain[names[name]] |= np.uint32(1 << k)
    event = np.asarray(frame.event)
    mask: np.ndarray = lookup(event, plain)
    for k in conditional:
        code = names[spec.steps[k]]
        if code < 0:
            continue
        fits = event == code
        for condition in spec.conditions(k):
            fits &= rows_holding(condition, frame.columns[condition.prop])
        mask[fits] |= np.uint32(1 << k)
    return mask


def _rank_table(column: Coded) -> np.ndarray:
    """Each breakdown value's rank among the values, missing and empty first (-1): ties between entries."""
    order = sorted(range(len(column.values)), key=lambda i: column.values[i])
    rank = np.empty(len(column.values) + 1, dtype=np.int32)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(order), dtype=np.int32)
    rank[-1] = -1
    for i, value in enumerate(column.values):
        if value == "":
            rank[i] = -1
    return rank


def _codes(values: np.ndarray) -> np.ndarray:
    """Codes as the kernel reads them: int16 or int32, contiguous (no copy when they already are)."""
    array = np.asarray(values)
    if array.dtype in (np.int16, np.int32) and array.flags.c_contiguous:
        return array
    return np.ascontiguousarray(array, dtype=np.int32)


def _run_kernel(
    frame: PersonFrame,
    spec: FunnelSpec,
    level: np.ndarray,
    entry: np.ndarray | None,
    times: np.ndarray,
    code: np.ndarray | None,
) -> None:
    kernel = _kernel()
    offsets = np.ascontiguousarray(frame.offsets, dtype=np.int64)
    ts = np.ascontiguousarray(frame.ts, dtype=np.int64)
    event = _codes(frame.event)
    fills, rows, excluded, other = _tables(frame, spec)
    if spec.by:
        column = frame.columns[spec.by]
        breakdown, rank = _codes(column.codes), _rank_table(column)
    else:
        breakdown, rank = None, np.full(1, -1, dtype=np.int32)
    starts = np.array([x.start - 1 for x in spec.exclusions] or [0], dtype=np.int32)
    ends = np.array([x.end - 1 for x in spec.exclusions] or [0], dtype=np.int32)
    window_range = spec.range
    lo = window_range.start if window_range and window_range.start is not None else NONE
    hi = window_range.end if window_range and window_range.end is not None else np.iinfo(np.int64).max
    head = (
        frame.n_persons,
        _ptr(offsets),
        _ptr(ts),
        _ptr(event),
        event.itemsize,
        len(fills),
        _ptr(fills),
        _ptr(excluded),
        _ptr(other),
        None if rows is None else _ptr(rows),
        None if breakdown is None else _ptr(breakdown),
        4 if breakdown is None else breakdown.itemsize,
        len(rank),
        _ptr(rank),
        len(spec.steps),
        _ORDER_CODE[spec.order],
        1 if spec.entry == "first" else 0,
        len(spec.exclusions),
        _ptr(starts),
        _ptr(ends),
        spec.window_us,
        int(lo),
        int(hi),
    )
    tail = (
        _ptr(level),
        None if entry is None else _ptr(entry),
        _ptr(times),
        None if code is None else _ptr(code),
    )
    statuses: list[int] = []

    def run(begin: int, end: int) -> None:  # each part writes only its own persons' slots
        statuses.append(kernel(*head, begin, end, *tail))

    run_parts(run, split(offsets))
    if any(statuses):
        raise ValueError(f"funnel kernel refused its arguments ({statuses})")


def _ptr(array: np.ndarray) -> int:
    assert array.flags.c_contiguous
    return int(array.ctypes.data)


def _person_table(
    frame: PersonFrame,
    spec: FunnelSpec,
    level: np.ndarray,
    entry: np.ndarray | None,
    times: np.ndarray,
    code: np.ndarray | None,
) -> PersonTable:
    if spec.order == "unordered":
        assert entry is not None
        counted = entry >= 0
        ts = np.asarray(frame.ts)
        safe = np.where(counted, entry, 0)
        entry_ts = np.where(counted, ts[safe] if len(ts) else NONE, NONE).astype(np.int64)
    else:  # the kernel wrote the entry's time as step 1's (NONE for persons not counted)
        entry_ts = times[0]
    table: PersonTable = {"level": level, "entry_ts": entry_ts}
    for k in range(len(spec.steps)):
        table[f"step_ts_{k + 1}"] = times[k]
    if spec.by:
        assert code is not None
        table["breakdown"] = Coded(code, frame.columns[spec.by].values)
    if spec.dropped_at is not None:
        if spec.by == "channel":
            assert code is not None
            table["channel"] = Coded(code, frame.columns["channel"].values)
        else:
            assert entry is not None
            table["channel"] = _entry_codes(frame.columns["channel"], entry)
        ids = frame.person_ids or []
        table["person_id"] = Coded(np.arange(len(ids), dtype=np.int32), list(ids))
    return table


def _entry_codes(column: Coded, entry: np.ndarray) -> Coded:
    """Each person's code of ``column`` on their entry event (-1: not counted)."""
    counted = entry >= 0
    safe = np.where(counted, entry, 0)
    codes = np.asarray(column.codes)[safe].astype(np.int32) if len(column) else np.full(len(safe), -1)
    codes[~counted] = -1
    return Coded(codes.astype(np.int32, copy=False), column.values)
