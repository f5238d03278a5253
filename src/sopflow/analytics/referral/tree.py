"""The invitation tree: invitees joined to inviters across persons, cycles broken, generations counted.

Nodes are the persons of the per-person rows (row ``i`` is node ``i``) and then one node per inviter id that
names no person ("unknown" inviters: they count as inviters, never as persons). An ``inviter_id`` names the
person any of whose ids (shown id first, then aliases) equals it. A person naming themself is a
self-invite: ignored and counted.

Invitation data can hold cycles (A invited by B, B by A: ids reused, bad imports). Each cycle is broken at
its member who arrived first (smallest ``first_ts``, then id): that member keeps no inviter, as they could
not have been invited by someone who came later. Generations: 0 for nodes without an inviter, g + 1 for
nodes invited by a node of generation g, found by pointer doubling (log₂ n NumPy passes, so a long chain
costs no more than a Python loop over it).

The node ids are :class:`Names`: a plain list here, or names looked up on demand when the tree was built
from the analytics cache (:mod:`sopflow.analytics.referral.cached`), where most are never shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sopflow.analytics.frame import Coded, PersonTable
from sopflow.analytics.referral.definition import ALIAS_SEP


class Names(Protocol):
    """The id shown for each node (unknown inviters: the raw inviter id)."""

    def __len__(self) -> int: ...

    def take(self, nodes: Sequence[int]) -> list[str]: ...


@dataclass(frozen=True)
class ListNames:
    values: list[str]

    def __len__(self) -> int:
        return len(self.values)

    def take(self, nodes: Sequence[int]) -> list[str]:
        values = self.values
        return [values[i] for i in nodes]


@dataclass(frozen=True)
class Tree:
    ids: Names
    persons: int  # nodes [0, persons) are rows of the per-person table
    parent: np.ndarray  # node → inviter node, −1 for none
    generation: np.ndarray
    self_invites: int
    cycles_broken: int

    @property
    def children(self) -> np.ndarray:
        parents = self.parent[self.parent >= 0]
        return np.bincount(parents, minlength=len(self.ids))


def build_tree(rows: PersonTable) -> Tree:
    person = rows["person"]
    assert isinstance(person, Coded)
    ids: list[str] = [v or "" for v in person.decoded()]
    n = len(ids)
    first_ts = np.asarray(rows["first_ts"], dtype=np.int64)
    parent, self_invites = _resolve(rows, ids)
    return tree_of(parent, n, ListNames(ids), first_ts, self_invites)


def tree_of(parent: np.ndarray, persons: int, ids: Names, first_ts: np.ndarray, self_invites: int) -> Tree:
    """The tree of resolved links: ``parent`` per node (persons first, self-invites already dropped)."""
    parent[:persons][first_ts < 0] = -1  # not a person in range: invited by nobody we count
    generation, cyclic = _generations(parent)
    cycles = 0
    if cyclic.any():
        cycles = _break_cycles(parent, cyclic, first_ts, ids)
        generation, cyclic = _generations(parent)
    return Tree(ids, persons, parent, generation, self_invites, cycles)


def _resolve(rows: PersonTable, ids: list[str]) -> tuple[np.ndarray, int]:
    """The inviter node of each person (adding unknown inviters as nodes), and the self-invites."""
    n = len(ids)
    aliases, inviter = rows["aliases"], rows["inviter"]
    assert isinstance(aliases, Coded) and isinstance(inviter, Coded)
    node: dict[str, int] = {}
    alias_codes = np.asarray(aliases.codes)
    for i in np.flatnonzero(alias_codes >= 0).tolist():
        for raw in aliases.values[alias_codes[i]].split(ALIAS_SEP):
            node.setdefault(raw, i)
    node.update({shown: i for i, shown in enumerate(ids)})  # a shown id wins over an alias
    # each distinct inviter id is looked up once
    target = np.empty(len(inviter.values) + 1, dtype=np.int64)
    target[-1] = -1
    for code, raw in enumerate(inviter.values):
        found = node.get(raw)
        if found is None:
            found = node[raw] = len(ids)
            ids.append(raw)
        target[code] = found
    codes = np.asarray(inviter.codes)
    parent = np.full(len(ids), -1, dtype=np.int64)
    parent[:n] = target[np.where(codes < 0, len(inviter.values), codes)]
    own = parent[:n] == np.arange(n)
    parent[:n][own] = -1
    return parent, int(own.sum())


def _generations(parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(generation of every node, whether it lies on or under a cycle: its generation is then meaningless)."""
    n = len(parent)
    has = parent >= 0
    jump = np.where(has, parent, np.arange(n))
    depth = has.astype(np.int64)
    for _ in range(max(n, 1).bit_length()):
        if not has[jump].any():
            break
        depth = depth + depth[jump]
        jump = jump[jump]
    return depth, has[jump]


def _break_cycles(parent: np.ndarray, cyclic: np.ndarray, first_ts: np.ndarray, ids: Names) -> int:
    """Cut each cycle among the ``cyclic`` nodes at its earliest member; returns how many were cut."""
    nodes = np.flatnonzero(cyclic).tolist()
    names = dict(zip(nodes, ids.take(nodes), strict=True))  # members of cycles are among these
    state: dict[int, int] = {}  # 1: on the current walk, 2: done
    cut = 0
    for start in nodes:
        walk = []
        node = start
        while node >= 0 and node not in state:
            state[node] = 1
            walk.append(node)
            node = int(parent[node])
        if node >= 0 and state.get(node) == 1:
            members = walk[walk.index(node) :]
            earliest = min(members, key=lambda m: (_arrival(first_ts, m), names[m]))
            parent[earliest] = -1
            cut += 1
        for member in walk:
            state[member] = 2
    return cut


def _arrival(first_ts: np.ndarray, node: int) -> int:
    """When a node arrived; unknown or inactive nodes sort last."""
    if node < len(first_ts) and first_ts[node] >= 0:
        return int(first_ts[node])
    return int(np.iinfo(np.int64).max)
