"""The top of the invitation tree, small enough to draw: the biggest sharers' subtrees, a few levels deep.

From the rows of the referral model's tree export (person, inviter, generation; every node that invited or
was invited). Roots are nodes without an inviter (generation 0, or unknown inviter ids). Each node keeps
its direct invitees and all its descendants as counts, so what is cut from the drawing is still counted:
a node shows at most ``children`` invitees (the biggest subtrees first, ties by id) and says how many more
it has; ``levels`` levels are drawn (the root is level 1); ``roots`` roots by descendants.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

MAX_ROOTS = 4
MAX_CHILDREN = 3
MAX_LEVELS = 3


def top_of_tree(
    rows: Sequence[dict[str, Any]],
    *,
    roots: int = MAX_ROOTS,
    children: int = MAX_CHILDREN,
    levels: int = MAX_LEVELS,
) -> dict[str, Any]:
    """``{"roots": [node…], "more_roots": n, "nodes": all nodes}``; a node is
    ``{"person", "generation", "invitees", "descendants", "children": [node…], "more": n}``."""
    kids: dict[str, list[str]] = defaultdict(list)
    generation: dict[str, int] = {}
    for row in rows:
        person = str(row["person"])
        generation[person] = int(row["generation"])
        if row.get("inviter") is not None:
            kids[str(row["inviter"])].append(person)
    # Descendants bottom-up: deepest generation first, so children are done before their inviter.
    descendants: dict[str, int] = defaultdict(int)
    for person in sorted(generation, key=lambda p: -generation[p]):
        for kid in kids.get(person, ()):
            descendants[person] += 1 + descendants[kid]
    invited = {person for people in kids.values() for person in people}
    all_roots = [p for p in generation if p not in invited]

    def ranked(people: list[str]) -> list[str]:
        return sorted(people, key=lambda p: (-descendants[p], p))

    def node(person: str, level: int) -> dict[str, Any]:
        mine = ranked(kids.get(person, []))
        shown = mine[:children] if level < levels else []
        return {
            "person": person,
            "generation": generation.get(person, 0),
            "invitees": len(mine),
            "descendants": descendants[person],
            "children": [node(kid, level + 1) for kid in shown],
            "more": len(mine) - len(shown),
        }

    chosen = ranked(all_roots)[:roots]
    return {
        "roots": [node(p, 1) for p in chosen],
        "more_roots": len(all_roots) - len(chosen),
        "nodes": len(generation),
    }
