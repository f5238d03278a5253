"""Simulate the events a campaign of a playbook would produce, chunk by chunk of channel users.

The model (constants in :mod:`~sopflow.simulate.delays` and the modules named below):

- Calendar: D0 is ``start`` (default 2024-03-04, fixed so runs are reproducible) at 00:00 in the playbook's
  timezone; the simulated period runs ``days`` days from the timeline's span start (default: the span in
  whole days + 28, so retention has four more weeks). Nothing happens outside the period; ``ts`` is UTC, in
  whole milliseconds (a ``timestamp[us]`` column, as in :data:`EVENT_SCHEMA`).
- Channel users (``users`` of them) pick a channel in proportion to ``reach × entry_rate`` and sign up
  (the first stage) after one of the channel's acquisition steps (same delivery channel, in a warm-up or
  launch phase, before the launch) with a log-normal response delay; channels with no such step (paid
  feeds…) spread sign-ups over the acquisition period with a day-and-night pattern.
- Funnel: stage i follows stage i−1 with the channel's rate (``rates`` overrides the stage's
  ``expected_rate``), shortly after the stage's step when that step is still ahead, else hours after the
  previous stage, always within ``funnel.window`` of the first stage (:func:`delays.stage_times`). Each
  stage's event carries properties that match its ``where`` (and the person's persona criteria); stages
  with a ``value`` carry it as ``revenue`` in ``meta.currency`` (a later revenue stage is the renewal).
- Fission (:mod:`~sopflow.simulate.population`): everyone of generation g at the inviters stage invites a
  negative-binomial number of people with mean ``referral.k_for(g)``, for g < ``max_generations``;
  invitees sign up after a viral cycle with channel ``referral`` and ``inviter_id``, and follow the funnel's
  own rates (counted at every stage up to the entry stage), as in the plan (:mod:`sopflow.playbook.estimate`).
- Personas are drawn by ``share``; identity (:mod:`~sopflow.simulate.identity`), return visits
  (:mod:`~sopflow.simulate.returns`) and touches (:mod:`~sopflow.simulate.touches`) are described there.
- Every event of a person carries the person's ``channel``, ``inviter_id`` and ``campaign`` (= meta.id).
- Determinism: every draw is a hash of (seed, person, purpose) (:mod:`~sopflow.simulate.rng`), so the same
  playbook, seed, start, days and users give the same rows in the same order, whatever the chunk size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa

from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.playbook.model import Playbook
from sopflow.simulate import rows as rowmod
from sopflow.simulate.identity import anonymous
from sopflow.simulate.population import build_population, id_width
from sopflow.simulate.returns import return_visits
from sopflow.simulate.rng import Stream
from sopflow.simulate.scenario import DEFAULT_START, MAX_DAYS, Scenario, build_scenario, default_days
from sopflow.simulate.table import MAX_CHUNK_USERS, Dictionaries, build_table
from sopflow.simulate.touches import touch_rows

DEFAULT_CHUNK_USERS = 20_000
DEFAULT_SEED = 1
MAX_USERS = 1_000_000_000
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class Options:
    users: int
    days: int | None = None
    seed: int = DEFAULT_SEED
    start: date = DEFAULT_START
    chunk_users: int = DEFAULT_CHUNK_USERS
    noise: bool = True

    def check(self) -> None:
        """Raise :class:`InvalidInput` naming the option that is out of range."""
        if not 1 <= self.users <= MAX_USERS:
            raise InvalidInput(
                _("--users must be between 1 and {most}, got {value}", most=MAX_USERS, value=self.users)
            )
        if self.days is not None and not 1 <= self.days <= MAX_DAYS:
            raise InvalidInput(
                _("--days must be between 1 and {most}, got {value}", most=MAX_DAYS, value=self.days)
            )
        if not 0 <= self.seed <= MAX_SEED:
            raise InvalidInput(
                _("--seed must be between 0 and {most}, got {value}", most=MAX_SEED, value=self.seed)
            )
        if not 1 <= self.chunk_users <= MAX_CHUNK_USERS:
            raise InvalidInput(
                _(
                    "--chunk-users must be between 1 and {most}, got {value}",
                    most=MAX_CHUNK_USERS,
                    value=self.chunk_users,
                )
            )


@dataclass
class Chunk:
    table: pa.Table
    users: int  # channel users of this chunk
    people: int  # people who signed up within the period (channel users and invitees)
    referred: int  # invitees who signed up within the period
    by_event: dict[str, int] = field(default_factory=dict)


class Simulation:
    """``Simulation(playbook=…, options=…).chunks()`` yields one :class:`Chunk` per ``chunk_users`` users."""

    def __init__(self, *, playbook: Playbook, options: Options) -> None:
        options.check()
        self.playbook = playbook
        self.options = options
        self.days = options.days if options.days is not None else default_days(playbook)
        self.scenario: Scenario = build_scenario(
            playbook=playbook, days=self.days, seed=options.seed, start=options.start
        )
        self.slots = rowmod.slots(self.scenario)
        self._dictionaries = Dictionaries(self.scenario, self.slots)
        self._stream = Stream(options.seed)
        self._width = id_width(options.users)

    def chunks(self) -> Iterator[Chunk]:
        size = self.options.chunk_users
        for first in range(0, self.options.users, size):
            yield self.chunk(first=first, count=min(size, self.options.users - first))

    def chunk(self, *, first: int, count: int) -> Chunk:
        scenario, stream, slots = self.scenario, self._stream, self.slots
        people = build_population(scenario, stream, first=first, count=count, width=self._width)
        anon = anonymous(scenario, stream, people, slots, kinds=len(scenario.kinds.names))
        blocks = [
            anon.visits,
            anon.identify,
            rowmod.stage_rows(scenario, people.times, people.persona),
            *touch_rows(scenario, stream, people, slots),
            return_visits(scenario, stream, people, slots),
        ]
        rows = rowmod.concat(blocks)
        table = build_table(
            scenario, stream, people, rows, anon, self._dictionaries, noise=self.options.noise
        )
        arrived = people.times[:, 0] < scenario.end
        return Chunk(
            table=table,
            users=count,
            people=int(arrived.sum()),
            referred=int((arrived & (people.generation > 0)).sum()),
            by_event=_count_events(table),
        )


def _count_events(table: pa.Table) -> dict[str, int]:
    counts = table.column("event").value_counts()
    return {str(v["values"]): int(v["counts"]) for v in counts.to_pylist()}


def merge_counts(total: dict[str, int], part: dict[str, int]) -> None:
    for name, count in part.items():
        total[name] = total.get(name, 0) + count


def table_of(*, playbook: Playbook, options: Options) -> pa.Table:
    """The whole simulation as one table (small runs and tests)."""
    sim = Simulation(playbook=playbook, options=options)
    return pa.concat_tables([c.table for c in sim.chunks()])
