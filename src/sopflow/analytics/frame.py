"""What every metric reads: a person's events in time order, the same shape whichever engine reads them.

A metric is defined once, as a function of a :class:`PersonFrame` that returns one row per person (a
:class:`PersonTable`), plus an aggregation of those rows. The engines only *read*: the embedded engine
(DuckDB over the workspace cache, or over ``--events PATH``) builds one frame of every person and calls
the function once; the Spark engine builds a frame per partition inside the executors (persons never
split across partitions) and concatenates the rows. Neither engine computes a metric itself.

Order inside a person: by ``ts`` only. Events with the same timestamp come in no particular order, so a
per-person function must not depend on their order (the funnel kernel breaks ties by what the events are,
never by where they sit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

# Bookkeeping events: they link ids and set properties, they are not something the user did.
BOOKKEEPING_EVENTS = ("$identify", "$set", "$create_alias")


@dataclass(frozen=True)
class Coded:
    """Text values as integer codes into ``values`` (code -1: null). ``values`` has no duplicates.

    Codes are int32, or narrower where the engine has them so (the cache's int16 channel codes): a lookup
    table of ``len(values) + 1`` entries whose last entry stands for null can be indexed by codes directly.
    """

    codes: np.ndarray
    values: list[str]

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, index: np.ndarray) -> Coded:
        return Coded(np.asarray(self.codes)[index], self.values)

    def decoded(self) -> list[str | None]:
        values = self.values
        return [values[c] if c >= 0 else None for c in np.asarray(self.codes).tolist()]


@dataclass(frozen=True)
class FrameRequest:
    """What a metric needs read.

    - ``events``: the event names to keep (``None``: every event; a strict funnel needs them all);
    - ``columns``: per-event text values to fetch, each a *property*: a canonical column name
      (``channel``, ``campaign``, ``step``, ``variant``, ``inviter_id``, ``revenue``, ``currency``,
      ``user_id``, ``event_id``) or else a key of the ``properties`` JSON (see :func:`property_source`).
      Numbers come as their text (``revenue`` as ``"99.0000"``); the metric converts.
    - ``person_ids``: whether the frame must carry the id shown for each person;
    - ``exact_events``: ``False`` lets an engine hand over other events too (and persons who did none of
      ``events``) when that is cheaper than filtering; the function must then ignore them. The embedded
      engine reads the cache whole for such requests: filtering 10M rows costs more than skipping them.
    """

    events: frozenset[str] | None = None
    columns: tuple[str, ...] = ()
    person_ids: bool = False
    exact_events: bool = True


@dataclass
class PersonFrame:
    """Events grouped by person (person ``i`` owns rows ``offsets[i]:offsets[i+1]``), ``ts`` ascending.

    - ``ts``: int64 microseconds since the epoch, UTC;
    - ``event``: int32 codes into ``event_names``;
    - ``columns``: the requested properties, one :class:`Coded` per name, aligned with the rows;
    - ``person_ids``: the id shown for each person (identity-merged), when requested.
    """

    offsets: np.ndarray
    ts: np.ndarray
    event: np.ndarray
    event_names: list[str]
    columns: dict[str, Coded] = field(default_factory=dict)
    person_ids: list[str] | None = None

    @property
    def n_persons(self) -> int:
        return len(self.offsets) - 1

    def __len__(self) -> int:
        return len(self.ts)

    def event_code(self, name: str) -> int:
        """The code of an event name, or -1 when no event has that name."""
        try:
            return self.event_names.index(name)
        except ValueError:
            return -1

    def person_of_rows(self) -> np.ndarray:
        """The person index of every row."""
        counts = np.diff(np.asarray(self.offsets))
        return np.repeat(np.arange(self.n_persons, dtype=np.int64), counts)


# One row per person: plain NumPy columns (numbers) or Coded (text), all of length n_persons.
PersonTable = dict[str, "np.ndarray | Coded"]
PersonFunction = Callable[[PersonFrame], PersonTable]


class Engine(Protocol):
    """Reads events and runs a per-person function over them; see the module docstring."""

    name: str

    def map_persons(self, request: FrameRequest, fn: PersonFunction) -> PersonTable:
        """``fn`` over every person's events (persons in no particular order), rows concatenated."""
        ...

    def time_bounds(self) -> tuple[int, int] | None:
        """Smallest and largest ``ts`` of all events (µs UTC), or ``None`` when there are none."""
        ...


CANONICAL_PROPERTIES = (
    "event_id",
    "event",
    "user_id",
    "channel",
    "campaign",
    "step",
    "variant",
    "inviter_id",
    "revenue",
    "currency",
)


def property_source(name: str) -> tuple[str, str]:
    """Where a property lives: ``("column", name)`` for canonical columns, else ``("json", key)``.

    The same rule for ``--where``, ``--by`` and every engine: canonical columns first, then keys of the
    ``properties`` JSON object (top level; the value's text, numbers as written, nested values as JSON).
    """
    if name in CANONICAL_PROPERTIES:
        return ("column", name)
    return ("json", name)


def concat_tables(parts: Sequence[PersonTable]) -> PersonTable:
    """Rows of several person tables, in order (Coded columns re-coded into one dictionary)."""
    if not parts:
        return {}
    out: PersonTable = {}
    for name in parts[0]:
        columns = [p[name] for p in parts]
        first = columns[0]
        if isinstance(first, Coded):
            out[name] = _concat_coded([c for c in columns if isinstance(c, Coded)])
        else:
            out[name] = np.concatenate([np.asarray(c) for c in columns])
    return out


def _concat_coded(columns: list[Coded]) -> Coded:
    values: list[str] = []
    index: dict[str, int] = {}
    codes = []
    for column in columns:
        remap = np.empty(len(column.values) + 1, dtype=np.int32)
        remap[-1] = -1
        for i, value in enumerate(column.values):
            if value not in index:
                index[value] = len(values)
                values.append(value)
            remap[i] = index[value]
        codes.append(remap[np.asarray(column.codes)])
    return Coded(np.concatenate(codes) if codes else np.zeros(0, np.int32), values)
