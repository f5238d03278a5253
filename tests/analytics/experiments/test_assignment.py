"""Assignment: the documented hash, stable across processes, and shares that follow the weights."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections import Counter

import pytest

from sopflow.analytics.experiments.assignment import assign_variant, bucket
from sopflow.errors import InvalidInput

WEIGHTS = [("control", 0.5), ("b", 0.3), ("c", 0.2)]


def test_the_bucket_is_the_documented_hash() -> None:
    digest = hashlib.sha256(b"exp-1\x1fuser-42").digest()
    assert bucket(person="user-42", key="exp-1") == int.from_bytes(digest[:8], "big") / 2**64
    assert 0 <= bucket(person="", key="") < 1


def test_the_same_in_a_fresh_process() -> None:
    persons = [f"u{i}" for i in range(200)]
    here = [assign_variant(person=p, key="welcome_copy", weights=WEIGHTS) for p in persons]
    code = (
        "from sopflow.analytics.experiments.assignment import assign_variant as a\n"
        f"print(','.join(a(person=p, key='welcome_copy', weights={WEIGHTS!r}) for p in {persons!r}))"
    )
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert there.stdout.strip().split(",") == here


def test_shares_follow_the_weights() -> None:
    n = 30_000
    counts = Counter(assign_variant(person=f"p{i}", key="k", weights=WEIGHTS) for i in range(n))
    for name, weight in WEIGHTS:
        # binomial standard error ≤ 0.003 at n = 30 000: 4 of them
        assert abs(counts[name] / n - weight) < 0.012, (name, counts)


def test_relative_weights_are_shares_of_their_sum() -> None:
    relative = [("control", 1.0), ("b", 1.0)]
    half = [("control", 0.5), ("b", 0.5)]
    persons = [f"p{i}" for i in range(500)]
    assert [assign_variant(person=p, key="k", weights=relative) for p in persons] == [
        assign_variant(person=p, key="k", weights=half) for p in persons
    ]


def test_experiments_assign_independently() -> None:
    persons = [f"p{i}" for i in range(4000)]
    even = [("a", 0.5), ("b", 0.5)]
    first = [assign_variant(person=p, key="one", weights=even) for p in persons]
    second = [assign_variant(person=p, key="two", weights=even) for p in persons]
    same = sum(x == y for x, y in zip(first, second, strict=True)) / len(persons)
    assert 0.45 < same < 0.55


@pytest.mark.parametrize("weights", [[], [("a", 0.0), ("b", 1.0)], [("a", -1.0)]])
def test_bad_weights_are_refused(weights: list[tuple[str, float]]) -> None:
    with pytest.raises(InvalidInput):
        assign_variant(person="p", key="k", weights=weights)
