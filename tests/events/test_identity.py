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


def half_clashing(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Digests whose first half is one of two values: nearly every pair of ids clashes."""
    _h1, h2 = real_digests(values)
    return np.asarray([len(v or "") % 2 for v in values.to_pylist()], dtype=np.uint64), h2


real_digests = identity_module.id_digests


@settings(max_examples=40, deadline=None)
@given(_chunks, _chunks)
def test_clashing_digests_still_give_one_code_per_id(chunks: list[list[str]], later: list[list[str]]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(identity_module, "id_digests", half_clashing)
        identity = Identity()
        codes = encode_all(identity, chunks)
        reloaded = Identity(
            identity.raw_ids, identity.labels, identity.identified
        )  # a map built from raw ids
        codes += encode_all(reloaded, later)
    pairs = {
        (v, c)
        for chunk, got in zip(chunks + later, codes, strict=True)
        for v, c in zip(chunk, got, strict=True)
    }
    texts = [v for v, _c in pairs]
    assert len(set(texts)) == len(pairs)  # one code per id
    assert len({c for _v, c in pairs}) == len(pairs)  # and one id per code
    assert all(reloaded.raw_ids[c].as_py() == v for v, c in pairs)
    assert sorted(c for _v, c in pairs) == list(range(len(reloaded)))  # dense: no code left unused


def test_a_loaded_identity_finds_its_ids_and_unknown_ones_are_minus_one() -> None:
    loaded = Identity(pa.array(["a", "b", "c"]), np.arange(3, dtype=np.int32), np.zeros(3, dtype=bool))
    assert loaded.codes_of(pa.array(["c", "x", None, "a"])).tolist() == [2, -1, -1, 0]
    assert loaded.encode(pa.array(["x", "b", "y", "x"])).tolist() == [3, 1, 4, 3]
    assert loaded.labels.tolist() == [0, 1, 2, 3, 4] and len(loaded) == 5
