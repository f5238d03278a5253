"""Fuzzing the loader: whatever the text, ``parse_playbook`` returns problems, never raises.

Each problem must be printable as one ``FILE:LINE:COL: message`` line with a position inside the text.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from sopflow.playbook.loader import parse_playbook
from sopflow.playbook.model import Playbook
from sopflow.playbook.problems import Problem

BASE_TEXT = (Path(__file__).parent / "fixtures" / "base.yaml").read_text(encoding="utf-8")
BASE_LINES = BASE_TEXT.split("\n")
# Parsing base.yaml takes tens of milliseconds (ruamel's pure-Python round-trip reader): the tests that
# parse a whole playbook per example get smaller budgets so the suite stays fast.
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PLAYBOOK_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW_FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values that have broken YAML loaders or validators before: tags, anchors, special floats, odd times.
TRICKY = [
    "",
    "~",
    "null",
    "true",
    "no",
    "-1",
    "-0.5",
    "1.5",
    "0",
    "1e999",
    "-.inf",
    ".nan",
    "0x1F",
    "0o17",
    "99999999999999999999999",
    "[",
    "]",
    "{",
    "}",
    "[]",
    "{}",
    "&a",
    "*a",
    "*undefined",
    "!!int x",
    "!!float x",
    "!!bool x",
    "!!binary x",
    "!!timestamp x",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!custom x",
    "'",
    '"',
    "'unclosed",
    '"unclosed',
    "a: b",
    "- x",
    "? x",
    "|",
    ">",
    "#",
    "%",
    "@",
    "`",
    "\t",
    "D+2 25:00",
    "D0 99:99",
    "tomorrow",
    "2024-13-45",
    "2024-02-30 10:00:00",
    "{{x}}",
    "{{ 坏 }}",
    "x + 1 day",
    "greet + -2h",
    "22:00",
    "25:61",
    "Asia/Nowhere",
    "欢迎",
    "a" * 300,
]


def assert_well_formed(text: str, playbook: Playbook | None, problems: list[Problem]) -> None:
    assert (playbook is None) == bool(problems)
    lines = max(1, text.count("\n") + text.count("\r") + 1)
    for problem in problems:
        assert problem.file == "fuzz.yaml"
        assert 1 <= problem.line <= lines + 1, problem
        assert problem.col >= 1, problem
        assert problem.code and problem.message
        formatted = problem.format()
        assert "\n" not in formatted and "\r" not in formatted
        assert formatted.startswith(f"fuzz.yaml:{problem.line}:{problem.col}: ")


def check(text: str) -> list[Problem]:
    playbook, problems = parse_playbook(text, filename="fuzz.yaml")
    assert_well_formed(text, playbook, problems)
    return problems


# (a) random text and random YAML documents -------------------------------------------------------

YAML_ALPHABET = st.sampled_from(
    list(" \n\t-:?[]{},#&*!|>'\"%@`.~=+0123456789abcDxyz_\\/欢迎\r\x00\x07\ufeff")
)


@FUZZ
@given(st.text(max_size=300))
def test_random_text_never_raises(text: str) -> None:
    check(text)


@FUZZ
@given(st.text(YAML_ALPHABET, max_size=200))
def test_random_yaml_punctuation_never_raises(text: str) -> None:
    check(text)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(TRICKY),
)
keys = st.one_of(st.text(max_size=12), st.sampled_from(["meta", "id", "steps", "at", "after", "k", "rates"]))
documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=25,
)


def dump(value: Any) -> str:
    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(value, out)
    return out.getvalue()


@FUZZ
@given(documents)
def test_random_yaml_documents_never_raise(document: Any) -> None:
    check(dump(document))


def _base_document() -> dict[str, Any]:
    loaded = YAML(typ="safe", pure=True).load(BASE_TEXT)
    assert isinstance(loaded, dict)
    return loaded


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*path, i))
    return found


BASE_PATHS = _paths(_base_document())[1:]


@SLOW_FUZZ
@given(st.sampled_from(BASE_PATHS), documents)
def test_base_with_a_part_replaced_by_random_data_never_raises(path: tuple[Any, ...], value: Any) -> None:
    """Reaches the model and the cross checks: the document is otherwise a valid playbook."""
    document = _base_document()
    node: Any = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    # JSON is YAML too, and much faster to write than ruamel's dumper; special floats become text here
    # (they are covered by the other tests).
    check(json.dumps(document, ensure_ascii=False, indent=1))


# (b) mutations of base.yaml ----------------------------------------------------------------------


@st.composite
def mutated_base(draw: st.DrawFn) -> str:
    lines = list(BASE_LINES)
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "scalar", "insert"]))
    i = draw(st.integers(0, len(lines) - 1))
    if kind == "delete":
        del lines[i]
    elif kind == "duplicate":
        lines.insert(i, lines[i])
    elif kind == "insert":
        lines.insert(i, draw(st.text(YAML_ALPHABET, max_size=30)))
    elif kind == "swap":
        text = "\n".join(lines)
        j = draw(st.integers(0, max(0, len(text) - 2)))
        return text[:j] + text[j + 1 : j + 2] + text[j : j + 1] + text[j + 2 :]
    else:
        line = lines[i]
        head, colon, _rest = line.partition(": ")
        value = draw(st.one_of(st.sampled_from(TRICKY), st.text(max_size=15)))
        lines[i] = f"{head}{colon}{value}" if colon else f"{line} {value}"
    return "\n".join(lines)


@PLAYBOOK_FUZZ
@given(mutated_base())
def test_mutated_base_never_raises(text: str) -> None:
    check(text)


def test_base_itself_is_valid() -> None:
    playbook, problems = parse_playbook(BASE_TEXT, filename="fuzz.yaml")
    assert problems == []
    assert playbook is not None and playbook.meta.id == "camp-fission"


# Inputs found by fuzzing or review that once crashed or misplaced a problem, kept as plain tests.


def test_recursive_alias_is_a_problem_not_a_crash() -> None:
    problems = check("meta: &a [*a]\nbrief: &b {x: *b}\n")
    assert {"wrong_type", "missing_field"} <= {p.code for p in problems}


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    problems = check("\n".join(lines) + "\n")
    assert [p.code for p in problems] == ["too_large"]


def test_unhashable_complex_key_is_a_syntax_problem() -> None:
    problems = check("? [a, {b: 1}]\n: x\n")
    assert [p.code for p in problems] == ["yaml_syntax"]


def test_anchored_boolean_stays_a_boolean() -> None:
    text = BASE_TEXT.replace(
        "{notes: 职场人想提升写作, done: true}", "{notes: 职场人想提升写作, done: &yes true}"
    )
    text = text.replace("ready: true}", "ready: *yes}")
    playbook, problems = parse_playbook(text, filename="fuzz.yaml")
    assert problems == []
    assert playbook is not None and playbook.materials[0].ready is True


def test_bad_date_scalar_points_at_the_value() -> None:
    problems = check("meta:\n  id: x\n  owner: 2024-02-30\n")
    assert [(p.line, p.col, p.code) for p in problems] == [(3, 10, "yaml_syntax")]


def test_long_after_chain_is_a_problem_not_a_recursion_error() -> None:
    """Scheduling follows `after:` recursively; a very long chain written last-step-first used to overflow."""
    chain = "".join(
        f"        - {{id: s{i}, name: 步骤, after: s{i - 1} + 1m, owner: ops, channel: moments, action: 发}}\n"
        for i in range(205, 0, -1)
    )
    first = "        - {id: s0, name: 起点, at: D0 10:00, owner: ops, channel: moments, action: 发}\n"
    problems = check(BASE_TEXT.replace("policies:\n", chain + first + "policies:\n"))
    # Line 135 of base.yaml is where the chain starts, with s205 first; s201 is the first step too far.
    assert [(p.code, p.line, p.col) for p in problems] == [("chain_too_long", 135 + 205 - 201, 39)]
    assert "'s201'" in problems[0].message
