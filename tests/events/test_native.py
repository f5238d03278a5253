"""The event store's C helpers agree with plain Python on generated input."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.events.native.content import content_md5
from sopflow.events.native.keyset import HashKeySet

_cells = st.one_of(st.none(), st.text(max_size=90))  # past 55 and 64 bytes: one, two and more MD5 blocks


@settings(deadline=None)
@given(st.lists(st.tuples(_cells, _cells, _cells), max_size=30), st.integers(0, 3))
def test_content_md5_is_hashlib_md5_of_the_joined_row(rows: list[tuple[str | None, ...]], skip: int) -> None:
    columns = [pa.array([None] * skip + [row[i] for row in rows], pa.string()).slice(skip) for i in range(3)]
    expected = [hashlib.md5("\x1f".join(c or "" for c in row).encode()).hexdigest() for row in rows]
    assert content_md5(columns, "\x1f").to_pylist() == expected


@given(st.lists(st.lists(st.integers(0, 40), max_size=25), max_size=6))
def test_key_set_marks_first_sight_like_a_python_set(batches: list[list[int]]) -> None:
    seen: set[int] = set()
    keys = HashKeySet()
    for batch in batches:
        expected = []
        for key in batch:
            expected.append(key not in seen)
            seen.add(key)
        assert keys.add(np.asarray(batch, dtype=np.uint64)).tolist() == expected
    assert len(keys) == len(seen)
