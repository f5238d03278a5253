"""Deterministic assignment of a person to an arm of an experiment (the campaign runner calls this).

The rule, stable across restarts, machines and engines because it depends on nothing but its inputs:

1. ``bucket = int(sha256(key + "\\x1f" + person)[:8], big-endian) / 2**64``: a number in ``[0, 1)``,
   uniform for practical purposes. The experiment key goes first so the same person lands in
   independent buckets in different experiments (a person is not "always the treatment"). The unit
   separator ``\\x1f`` keeps ``("ab", "c")`` and ``("a", "bc")`` apart.
2. Weights are divided by their sum (a playbook writes relative weights: ``control`` 1, ``b`` 1), and the
   person gets the first arm, in the order given, whose cumulative share exceeds the bucket.

Changing the order or the weights of the arms moves persons between arms: keep both fixed while an
experiment runs (a new experiment key starts a fresh assignment).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sopflow.errors import InvalidInput
from sopflow.i18n import _

_SCALE = float(2**64)


def bucket(*, person: str, key: str) -> float:
    """The person's place in ``[0, 1)`` for experiment ``key``."""
    digest = hashlib.sha256(f"{key}\x1f{person}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def assign_variant(*, person: str, key: str, weights: Sequence[tuple[str, float]]) -> str:
    """The arm of ``person`` in experiment ``key``; ``weights``: ``(arm, weight > 0)`` in a fixed order."""
    if not weights:
        raise InvalidInput(_("an experiment needs at least one arm to assign persons to"))
    total = 0.0
    for name, weight in weights:
        if not weight > 0:
            raise InvalidInput(
                _(
                    "the weight of arm {name!r} must be a positive number, got {weight}",
                    name=name,
                    weight=weight,
                )
            )
        total += weight
    point = bucket(person=person, key=key) * total
    running = 0.0
    for name, weight in weights:
        running += weight
        if point < running:
            return name
    return weights[-1][0]  # rounding left the bucket at the very top: the last arm
