"""Dedupe keys (vectorised = per-id = DuckDB's MD5) and the header map."""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.errors import InvalidInput
from sopflow.events.headers import parse_map_options, resolve_columns, unique_headers
from sopflow.events.keys import KeySet, event_keys, fresh_mask, key_of


@settings(deadline=None)  # the first example pays for imports, which a busy machine makes slow
@given(
    st.lists(
        st.one_of(
            st.text(max_size=40),
            st.uuids().map(str),
            st.binary(min_size=16, max_size=16).map(lambda b: b.hex()),
        ),
        max_size=30,
    )
)
def test_vectorised_keys_equal_per_id_keys(ids: list[str]) -> None:
    assert event_keys(pa.array(ids, pa.string())).tolist() == [key_of(i) for i in ids]


def test_keys_are_md5_prefixes_as_duckdb_computes_them() -> None:
    ids = [f"0190e7a2-{i:04d}-7bbb-8ccc-000000000000" for i in range(5000)]  # past the Python-loop size
    with duckdb.connect() as con:
        expected = [int(r[0]) for r in con.execute("SELECT md5_number_upper(unnest(?))", [ids]).fetchall()]
    assert event_keys(pa.array(ids)).tolist() == expected
    digest = hashlib.md5(b"content").hexdigest()
    assert key_of(digest) == int.from_bytes(hashlib.md5(b"content").digest()[:8], "little")


def test_fresh_mask_keeps_first_occurrence_and_skips_known() -> None:
    keys = np.array([5, 3, 5, 9, 3, 7], dtype=np.uint64)
    known = np.array([7], dtype=np.uint64)
    assert fresh_mask(keys, [known]).tolist() == [True, True, False, True, False, False]
    seen = KeySet()
    for chunk in ([1, 2], [3], [4, 5, 6, 7], [8]):
        seen.add(np.array(chunk, dtype=np.uint64))
    assert len(seen) == 8
    assert seen.contains(np.array([0, 1, 5, 8, 9], dtype=np.uint64)).tolist() == [
        False,
        True,
        True,
        True,
        False,
    ]


def test_builtin_and_explicit_header_mapping() -> None:
    headers = unique_headers(["\ufeff用户ID", "行为", "发生时间", "备注", "备注", ""])
    assert headers == ["用户ID", "行为", "发生时间", "备注", "备注 2", "column 6"]
    assert resolve_columns(headers, {}, source="f.csv") == {
        "用户ID": "user_id",
        "行为": "event",
        "发生时间": "ts",
        "备注": "备注",
        "备注 2": "备注 2",
        "column 6": "column 6",
    }
    assert resolve_columns(["User ID", "distinctId"], {"distinctId": "-"}, source="f")["User ID"] == "user_id"


def test_header_conflicts_and_bad_map_options_are_clear() -> None:
    with pytest.raises(InvalidInput, match="both mean user_id"):
        resolve_columns(["用户ID", "客户ID"], {}, source="f.csv")
    assert resolve_columns(["用户ID", "客户ID"], {"客户ID": "user_id"}, source="f")["用户ID"] == "用户ID"
    with pytest.raises(InvalidInput, match="not in the header"):
        resolve_columns(["a"], {"b": "user_id"}, source="f.csv")
    with pytest.raises(InvalidInput, match="SOURCE=TARGET"):
        parse_map_options(["用户手机号"])
    assert parse_map_options(["手机号 = user_id", "备注=-"]) == {"手机号": "user_id", "备注": "-"}


@given(
    st.lists(st.binary(min_size=16, max_size=16).map(lambda b: b.hex()), min_size=1, max_size=20), st.data()
)
def test_keys_of_derived_ids_decoded_at_once_equal_per_id_keys(ids: list[str], data: st.DataObject) -> None:
    assert event_keys(pa.array(ids)).tolist() == [key_of(i) for i in ids]
    upper = data.draw(st.integers(0, len(ids) - 1))
    mixed = [*ids[:upper], ids[upper].upper(), *ids[upper + 1 :]]  # not a digest sopflow writes: hashed
    assert event_keys(pa.array(mixed)).tolist() == [key_of(i) for i in mixed]
