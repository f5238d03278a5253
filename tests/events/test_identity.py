"""Identity codes: new ids get the next codes in order of first sight, whatever the hashes do."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.events import identity as identity_module
from sopflow.events.identity import Identity

_chunks = st.lists(
    st.lists(st.sampled_from([f"u{i}" for i in range(12)] + ["", "用户甲"]), max_size=9), max_size=5
)


def reference_codes(chunks: list[list[str]]) -> list[list[int]]:
    seen: dict[str, int] = {}
    return [[seen.setdefault(v, len(seen)) for v in chunk] for chunk in chunks]


def encode_all(identity: Identity, chunks: list[list[str]]) -> list[list[int]]:
    return [identity.encode(pa.array(chunk, pa.string())).tolist() for chunk in chunks]


@settings(deadline=None)
@given(_chunks)
def test_codes_follow_first_sight_across_chunks(chunks: list[list[str]]) -> None:
    identity = Identity()
    assert encode_all(identity, chunks) == reference_codes(chunks)
    seen = [v for chunk in chunks for v in chunk]
    assert identity.raw_ids.to_pylist() == list(dict.fromkeys(seen))


@settings(max_examples=30, deadline=None)
@given(_chunks)
def test_colliding_hashes_still_give_exact_codes(chunks: list[list[str]]) -> None:
    with pytest.MonkeyPatch.context() as patch:  # every id hashes to one of two values
        patch.setattr(
            identity_module,
            "id_hashes",
            lambda values: np.asarray([len(v) % 2 for v in values.to_pylist()], dtype=np.uint64),
        )
        identity = Identity()
        assert encode_all(identity, chunks) == reference_codes(chunks)


def test_a_loaded_identity_finds_its_ids_and_unknown_ones_are_minus_one() -> None:
    loaded = Identity(pa.array(["a", "b", "c"]), np.arange(3, dtype=np.int32), np.zeros(3, dtype=bool))
    assert loaded.codes_of(pa.array(["c", "x", None, "a"])).tolist() == [2, -1, -1, 0]
    assert loaded.encode(pa.array(["x", "b", "y", "x"])).tolist() == [3, 1, 4, 3]
    assert loaded.labels.tolist() == [0, 1, 2, 3, 4] and len(loaded) == 5
