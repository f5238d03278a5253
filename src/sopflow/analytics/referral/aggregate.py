"""Referral, across persons: K-factor, generations, depth, viral cycle time, top sharers, the tree export.

- *Persons*: persons with a non-bookkeeping event in range. *Invitees*: persons with an inviter (self-invites
  and the links cut to break cycles excluded). *Inviters*: nodes with at least one invitee, unknown ones
  (an ``inviter_id`` that names no person in range) included and also counted apart.
- *Could invite*: persons who reached the playbook's ``referral.inviters_stage`` (the first stage when the
  referral names none, as in the plan) when a playbook is given; else every person.
- K-factor = invitees ÷ persons who could invite. Per generation g: invitees of generation g + 1 ÷ persons
  of generation g who could invite (invitees of unknown inviters are generation 1). The plan's K per
  generation is ``referral.k_for(g)``; its overall K is the estimate's ``k_factor``.
- Max depth: the largest generation of a person. Viral cycle time: invitee's first event − inviter's first
  event (seconds; negative when the invitee was seen first), over invitees whose inviter is a person; the
  median interpolates as NumPy does.
- Top sharers: nodes by invitees (ties by id), with how many of their invitees paid and their revenue.
- Tree export: every node that invited or was invited: person, inviter (null for generation 0), generation,
  first_ts (ISO in ``--tz``; null for unknown inviters), ordered by generation, first_ts, person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from functools import cached_property
from typing import Any

import numpy as np

from sopflow.analytics.engines.spark_worker import empty_frame
from sopflow.analytics.frame import Engine, PersonTable
from sopflow.analytics.referral.cached import cached_referral
from sopflow.analytics.referral.definition import InvitersStage, ReferralKernel
from sopflow.analytics.referral.tree import Tree, build_tree
from sopflow.analytics.timerange import TimeRange, from_micros
from sopflow.errors import InvalidInput
from sopflow.i18n import _


@dataclass(frozen=True)
class PlanK:
    """The plan's referral: overall K and K per generation (index g: invitees per inviter of generation g)."""

    playbook: str
    k_factor: float | None
    ks: tuple[float, ...]


@dataclass(frozen=True)
class ReferralSpec:
    range: TimeRange
    top: int = 10
    inviters_stage: InvitersStage | None = None
    plan: PlanK | None = None

    def __post_init__(self) -> None:
        if self.top < 1:
            raise InvalidInput(_("--top must be at least 1, got {n}", n=self.top))

    @classmethod
    def from_playbook(cls, playbook: Any, *, range: TimeRange, top: int = 10) -> ReferralSpec:
        """The spec with the stage and plan of a :class:`sopflow.playbook.model.Playbook`."""
        from sopflow.analytics.conditions import from_playbook
        from sopflow.playbook.estimate import estimate, generation_ks, referral_stages

        funnel = playbook.funnel
        at_inviters, _entry = referral_stages(playbook)
        stage = funnel.stages[at_inviters]
        conditions = from_playbook(stage.where)
        plan = estimate(playbook)
        # The plan's metrics hold k_factor whether or not it has a referral (0 without one).
        k = plan.metrics.get("k_factor")
        return cls(
            range=range,
            top=top,
            inviters_stage=InvitersStage(stage.id, stage.event, conditions),
            plan=PlanK(playbook.meta.id, k, tuple(generation_ks(playbook))),
        )


@dataclass(frozen=True)
class GenerationRow:
    generation: int
    persons: int
    could_invite: int
    invitees: int  # persons of generation + 1
    k: float | None
    plan_k: float | None


@dataclass(frozen=True)
class Sharer:
    person: str
    known: bool  # a person in range (not an unknown inviter id)
    generation: int
    invitees: int
    invitees_paid: int
    invitees_revenue: float


@dataclass(frozen=True)
class TreeRow:
    person: str
    inviter: str | None
    generation: int
    first_ts: str | None


@dataclass(frozen=True)
class ReferralResult:
    spec: ReferralSpec
    engine: str
    persons: int
    invitees: int
    inviters: int
    unknown_inviters: int
    self_invites: int
    cycles_broken: int
    could_invite: int
    k_factor: float | None
    max_depth: int
    cycle_median_seconds: float | None
    cycle_pairs: int
    generations: list[GenerationRow]
    top_sharers: list[Sharer]
    links: _Links = field(repr=False, compare=False)

    @cached_property
    def tree(self) -> list[TreeRow]:
        """The tree export's rows (built on first use: formatting every time is the slow part)."""
        return self.links.rows(self.spec.range.tz)

    def as_json(self) -> dict[str, Any]:
        spec, stage, plan = self.spec, self.spec.inviters_stage, self.spec.plan
        return {
            "range": spec.range.as_json(),
            "engine": self.engine,
            "persons": self.persons,
            "inviters": self.inviters,
            "invitees": self.invitees,
            "unknown_inviters": self.unknown_inviters,
            "self_invites": self.self_invites,
            "cycles_broken": self.cycles_broken,
            "could_invite": {
                "rule": "all_persons" if stage is None else "inviters_stage",
                "stage": None if stage is None else stage.stage,
                "event": None if stage is None else stage.event,
                "persons": self.could_invite,
            },
            "k_factor": _round(self.k_factor),
            "max_depth": self.max_depth,
            "viral_cycle": {"median_seconds": _round(self.cycle_median_seconds), "pairs": self.cycle_pairs},
            "generations": [
                {**g.__dict__, "k": _round(g.k), "plan_k": _round(g.plan_k)} for g in self.generations
            ],
            "top_sharers": [
                {**s.__dict__, "invitees_revenue": _round(s.invitees_revenue)} for s in self.top_sharers
            ],
            "plan": None
            if plan is None
            else {
                "playbook": plan.playbook,
                "k_factor": _round(plan.k_factor),
                "k_per_generation": list(plan.ks),
            },
        }

    def tree_json(self) -> list[dict[str, Any]]:
        return [row.__dict__ for row in self.tree]


def _round(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(f"{value:.10g}")


def _ratio(top: int, bottom: int) -> float | None:
    return top / bottom if bottom else None


def compute_referral(engine: Engine, spec: ReferralSpec) -> ReferralResult:
    """Referral of ``spec`` over the events ``engine`` reads.

    Over a workspace's analytics cache with the coded inviter and revenue columns, one compiled pass over
    the cache (:mod:`sopflow.analytics.referral.cached`); otherwise (Spark, ``--events`` files, a store
    with an unsealed log or written before those columns) the per-person function over read columns.
    """
    kernel = ReferralKernel(spec.range, spec.inviters_stage)
    cached = cached_referral(engine, kernel)
    if cached is not None:
        rows, tree = cached
        return aggregate(rows, spec=spec, engine=engine.name, tree=tree)
    rows = engine.map_persons(kernel.request(), kernel)
    if not rows:  # an engine that read nobody may hand back no columns at all
        rows = kernel(empty_frame(kernel.request()))
    return aggregate(rows, spec=spec, engine=engine.name)


def aggregate(
    rows: PersonTable, *, spec: ReferralSpec, engine: str, tree: Tree | None = None
) -> ReferralResult:
    """The result from the per-person rows of :class:`ReferralKernel` (any engine, any row order), or from
    the numbers of the cached pass and its ``tree`` (whose first nodes are the rows)."""
    tree = build_tree(rows) if tree is None else tree
    n = tree.persons
    first_ts = np.asarray(rows["first_ts"], dtype=np.int64)
    active = np.zeros(len(tree.ids), dtype=bool)
    active[:n] = first_ts >= 0
    could = np.zeros(len(tree.ids), dtype=bool)
    could[:n] = np.asarray(rows["could_invite"], dtype=bool) & active[:n]
    invited = active & (tree.parent >= 0)
    children = np.bincount(tree.parent[invited], minlength=len(tree.ids))
    generation = tree.generation
    depth = int(generation[active].max()) if active.any() else 0
    invitees = int(invited.sum())
    could_n = int(could.sum())
    return ReferralResult(
        spec=spec,
        engine=engine,
        persons=int(active.sum()),
        invitees=invitees,
        inviters=int((children > 0).sum()),
        unknown_inviters=int(((children > 0) & ~active).sum()),
        self_invites=tree.self_invites,
        cycles_broken=tree.cycles_broken,
        could_invite=could_n,
        k_factor=_ratio(invitees, could_n),
        max_depth=depth,
        generations=_generation_rows(generation, active, could, depth, spec.plan),
        top_sharers=_sharers(tree, rows, children, invited, active, spec.top),
        links=_Links(tree, first_ts, children, invited),
        **_cycle_time(tree, first_ts, invited, active),
    )


def _generation_rows(
    generation: np.ndarray, active: np.ndarray, could: np.ndarray, depth: int, plan: PlanK | None
) -> list[GenerationRow]:
    persons = np.bincount(generation[active], minlength=depth + 2)
    able = np.bincount(generation[could], minlength=depth + 2)
    rows = []
    for g in range(depth + 1):
        plan_k = None if plan is None else (plan.ks[g] if g < len(plan.ks) else 0.0)
        invitees = int(persons[g + 1])
        rows.append(
            GenerationRow(g, int(persons[g]), int(able[g]), invitees, _ratio(invitees, int(able[g])), plan_k)
        )
    return rows


def _cycle_time(tree: Tree, first_ts: np.ndarray, invited: np.ndarray, active: np.ndarray) -> dict[str, Any]:
    n = tree.persons
    child = np.flatnonzero(invited[:n])
    parent = tree.parent[child]
    known = parent < n
    child, parent = child[known], parent[known]
    known = active[parent]
    seconds = (first_ts[child[known]] - first_ts[parent[known]]) / 1e6
    return {
        "cycle_median_seconds": float(np.median(seconds)) if len(seconds) else None,
        "cycle_pairs": len(seconds),
    }


def _sharers(
    tree: Tree, rows: PersonTable, children: np.ndarray, invited: np.ndarray, active: np.ndarray, top: int
) -> list[Sharer]:
    n = tree.persons
    paid = np.zeros(len(tree.ids))
    paid[:n] = np.asarray(rows["paid"], dtype=bool)
    revenue = np.zeros(len(tree.ids))
    revenue[:n] = np.asarray(rows["revenue"], dtype=np.float64)
    parents = tree.parent[invited]
    paid_by = np.bincount(parents, weights=paid[invited], minlength=len(tree.ids))
    revenue_by = np.bincount(parents, weights=revenue[invited], minlength=len(tree.ids))
    sharing = np.flatnonzero(children > 0)
    if len(sharing) > top:  # only those tied with the top-th count or above can be chosen
        floor = np.partition(children[sharing], len(sharing) - top)[len(sharing) - top]
        sharing = sharing[children[sharing] >= floor]
    names = dict(zip(sharing.tolist(), tree.ids.take(sharing.tolist()), strict=True))
    chosen = sorted(names, key=lambda i: (-int(children[i]), names[i]))[:top]
    return [
        Sharer(
            person=names[i],
            known=bool(active[i]),
            generation=int(tree.generation[i]),
            invitees=int(children[i]),
            invitees_paid=int(paid_by[i]),
            invitees_revenue=float(revenue_by[i]),
        )
        for i in chosen
    ]


@dataclass(frozen=True)
class _Links:
    """What the tree export needs, kept until asked for."""

    tree: Tree
    first_ts: np.ndarray
    children: np.ndarray
    invited: np.ndarray

    def rows(self, tz: tzinfo) -> list[TreeRow]:
        tree, invited = self.tree, self.invited
        nodes = np.flatnonzero(invited | (self.children > 0))
        arrived = np.full(len(tree.ids), np.iinfo(np.int64).max, dtype=np.int64)  # unknown: last
        known = self.first_ts >= 0
        arrived[: tree.persons][known] = self.first_ts[known]
        names = dict(zip(nodes.tolist(), tree.ids.take(nodes.tolist()), strict=True))  # parents among them
        ids = np.array(list(names.values()), dtype=object)
        order = nodes[np.lexsort((ids, arrived[nodes], tree.generation[nodes]))]
        last = np.iinfo(np.int64).max
        return [
            TreeRow(
                person=names[i],
                inviter=names[int(tree.parent[i])] if invited[i] else None,
                generation=int(tree.generation[i]),
                first_ts=from_micros(int(arrived[i]), tz).isoformat() if arrived[i] != last else None,
            )
            for i in order.tolist()
        ]
