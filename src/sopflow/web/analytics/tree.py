"""The top of the invitation tree for the console, from the referral model's arrays.

The HTML report draws :func:`sopflow.analytics.report.tree.top_of_tree` from the tree export's rows; at 10M
events that is over a million formatted rows (seconds) to draw a few dozen nodes. This computes the same
shape from the model's parent and generation arrays with NumPy: descendants summed one generation at a
time from the deepest up, then only the drawn nodes get their names. One difference: among roots or
children with as many descendants, the earlier node in the model's order comes first (the report sorts
them by id, which would need every name).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sopflow.analytics.referral.aggregate import ReferralResult
from sopflow.analytics.report.tree import MAX_CHILDREN, MAX_LEVELS, MAX_ROOTS


def _ranked(nodes: np.ndarray, descendants: np.ndarray, limit: int) -> list[int]:
    """The ``limit`` nodes with the most descendants (ties: lower node first)."""
    if len(nodes) == 0:
        return []
    order = np.lexsort((nodes, -descendants[nodes]))
    return [int(n) for n in nodes[order[:limit]]]


def tree_top(
    result: ReferralResult,
    *,
    roots: int = MAX_ROOTS,
    children: int = MAX_CHILDREN,
    levels: int = MAX_LEVELS,
) -> dict[str, Any]:
    """``{"roots": [node…], "more_roots": n, "nodes": n}`` as :func:`top_of_tree` answers it."""
    links = result.links
    tree, invited, kids = links.tree, links.invited, links.children
    parent, generation = tree.parent, tree.generation
    in_tree = invited | (kids > 0)
    descendants = np.zeros(len(parent), dtype=np.int64)
    linked = np.flatnonzero(invited)
    depth = generation[linked]
    for level in range(int(depth.max()) if len(depth) else 0, 0, -1):
        at = linked[depth == level]
        np.add.at(descendants, parent[at], 1 + descendants[at])
    all_roots = np.flatnonzero(in_tree & ~invited)
    chosen = _ranked(all_roots, descendants, roots)
    drawn: dict[int, dict[str, Any]] = {}

    def node(index: int, level: int) -> dict[str, Any]:
        mine = np.flatnonzero(invited & (parent == index)) if kids[index] else np.empty(0, dtype=np.int64)
        shown = _ranked(mine, descendants, children) if level < levels else []
        drawn[index] = {
            "person": "",
            "generation": int(generation[index]),
            "invitees": len(mine),
            "descendants": int(descendants[index]),
            "children": [node(kid, level + 1) for kid in shown],
            "more": int(len(mine) - len(shown)),
        }
        return drawn[index]

    top = [node(index, 1) for index in chosen]
    order = list(drawn)
    for index, name in zip(order, tree.ids.take(order), strict=True):
        drawn[index]["person"] = name
    return {"roots": top, "more_roots": int(len(all_roots) - len(chosen)), "nodes": int(in_tree.sum())}
