"""Request bodies are read exactly as :func:`json.loads` reads them, though orjson does the usual work."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopflow.web.body import has_long_digit_run, parse_json
from sopflow.web.errors import ApiError

_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=6),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


def same(a: Any, b: Any) -> bool:
    """Equal, with types (1 is not 1.0) and NaN equal to itself."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) and repr(a) == repr(b)


@given(_values)
def test_any_json_reads_as_json_loads_reads_it(value: Any) -> None:
    body = json.dumps(value).encode()
    assert same(parse_json(body), json.loads(body))


@pytest.mark.parametrize(
    "body",
    [
        b"18446744073709551616",
        b"[-9223372036854775809, 1]",
        b'{"user_id": 123456789012345678901234567890}',
        b"[1e400]",
        b"[NaN, -Infinity]",
        b'\xef\xbb\xbf[{"a": 1}]',
        b'["\\ud800"]',
    ],
)
def test_what_orjson_reads_otherwise_is_read_by_json(body: bytes) -> None:
    assert same(parse_json(body), json.loads(body))


def test_errors_name_line_and_column_as_json_does() -> None:
    body = b'[\n  {"a": 1,}\n]'
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(body)
    with pytest.raises(ApiError) as info:
        parse_json(body)
    where = f"line {expected.value.lineno}, column {expected.value.colno}: {expected.value.msg}"
    assert info.value.code == "invalid_json" and info.value.message.endswith(where)


@given(st.binary(max_size=60).map(lambda b: bytes(b"0123456789,:a"[x % 13] for x in b)))
def test_long_digit_runs_are_found_as_a_regex_finds_them(data: bytes) -> None:
    assert has_long_digit_run(data) == bool(re.search(rb"[0-9]{19}", data))
