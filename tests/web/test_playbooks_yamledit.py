"""The console form's write-back into YAML: it changes only what was edited and keeps the rest as written."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.errors import InvalidInput
from sopflow.playbook.catalog import template_names, template_text
from sopflow.playbook.loader import parse_playbook
from sopflow.web.console.playbooks.yamledit import (
    append_copy,
    apply_edits,
    dump_document,
    fresh_id,
    get_path,
    load_document,
)

from .console_api import PLAYBOOK


@pytest.mark.parametrize("name", template_names())
def test_an_unedited_template_is_written_back_unchanged(name: str) -> None:
    text = template_text(name)
    assert dump_document(load_document(text)) == text


def test_edits_change_only_their_values_and_keep_comments() -> None:
    text = "# our plan\n" + PLAYBOOK
    edited = apply_edits(
        text,
        [
            (("meta", "name"), "冬季营"),
            (("brief", "goals"), ["拉新 500 人", "转化 50 人"]),
            (("channels", 0, "cost"), 350),
            (("timeline", "phases", 0, "steps", 1, "at"), "D+1 08:00"),
        ],
    )
    assert edited.startswith("# our plan\n")
    changed = [
        (old, new) for old, new in zip(text.splitlines(), edited.splitlines(), strict=True) if old != new
    ]
    assert [new for _old, new in changed] == [
        'meta: {id: course, name: 冬季营, version: "1.0", owner: 运营}',
        "brief: {background: 背景, purpose: 宗旨, goals: [拉新 500 人, 转化 50 人]}",
        "  - {id: moments, name: 朋友圈, kind: moments, posters: 10, reach_per_poster: 100, entry_rate: 0.1, "
        "cost: 350}",
        '        - {id: s2, name: 提醒, at: "D+1 08:00", owner: ops, channel: moments, action: 再发一条}',
    ]
    playbook, problems = parse_playbook(edited, filename="x.yaml")
    assert problems == [] and playbook is not None
    assert playbook.channels[0].cost == 350


def test_an_added_step_copies_the_last_one_under_a_new_id() -> None:
    path = ("timeline", "phases", 0, "steps")
    new_id = fresh_id(["s1", "s2", "step_2"], "step")
    assert new_id == "step_3"
    edited = append_copy(PLAYBOOK, path, new_id=new_id, new_name="新步骤")
    steps = get_path(load_document(edited), path)
    assert [(s["id"], s["name"], s["owner"]) for s in steps] == [
        ("s1", "发圈", "ops"),
        ("s2", "提醒", "ops"),
        ("step_3", "新步骤", "ops"),
    ]
    assert parse_playbook(edited, filename="x.yaml")[1] == []


def test_text_that_is_not_a_yaml_mapping_or_a_missing_place_is_a_clear_error() -> None:
    for text in ("meta: [", "- a list", ""):
        with pytest.raises(InvalidInput) as caught:
            apply_edits(text, [(("meta", "name"), "x")])
        assert caught.value.code == "yaml_unreadable"
    with pytest.raises(InvalidInput) as missing:
        apply_edits(PLAYBOOK, [(("channels", 5, "cost"), 1)])
    assert missing.value.code == "no_path" and "channels[5].cost" in missing.value.message
    with pytest.raises(InvalidInput) as nothing:
        append_copy(PLAYBOOK, ("targets",), new_id="t", new_name="t")
    assert nothing.value.code == "nothing_to_copy"


@settings(max_examples=150, deadline=None)
@given(name=st.text(min_size=1, max_size=40), goals=st.lists(st.text(max_size=20), min_size=1, max_size=3))
def test_any_text_typed_in_the_form_reads_back_as_typed(name: str, goals: list[str]) -> None:
    # Line breaks (NEL and U+2028 included), control characters, spaces at the ends: all come back exactly.
    edited = apply_edits(PLAYBOOK, [(("meta", "name"), name), (("brief", "goals"), goals)])
    document = load_document(edited)
    assert get_path(document, ("meta", "name")) == name
    assert list(get_path(document, ("brief", "goals"))) == goals
    assert get_path(document, ("meta", "id")) == "course"
