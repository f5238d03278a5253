"""Playbook versions and approval: publish, list, diff, approve, resolve; the service on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from sopflow.errors import InvalidInput, NotFound
from sopflow.playbook.catalog import template_names, template_text
from sopflow.playbook.estimate import estimate
from sopflow.playbook.loader import parse_playbook
from sopflow.playbook.problems import PlaybookInvalid
from sopflow.playbook.version_diff import KEY_NUMBERS, diff_versions
from sopflow.playbook.versions import (
    NotApproved,
    PublishConflict,
    approval_required,
    approve_version,
    list_playbooks,
    list_versions,
    parse_ref,
    parse_version_number,
    publish_file,
    publish_text,
    resolve_version,
    set_approval_required,
)
from sopflow.store.database import Database, open_database
from sopflow.store.runs import PlaybookVersion

PLAYBOOK = """\
# 训练营 SOP（comments are kept: the version stores the text as written）
meta: {id: course, name: 训练营, version: "1.2", owner: 运营}
brief: {background: 背景, purpose: 宗旨, goals: [拉新]}
team:
  roles: [{id: ops, name: 运营}]
channels:
  - {id: moments, name: 朋友圈, kind: moments, posters: 10, reach_per_poster: 100, entry_rate: 0.1, cost: 200}
funnel:
  stages:
    - {id: join, name: 进群, event: join_group, aarrr: acquisition}
    - {id: attend, name: 听课, event: attend, aarrr: activation, expected_rate: 0.5}
    - {id: pay, name: 付费, event: pay, aarrr: revenue, expected_rate: 0.1, value: 99}
  referral: {k: [0.5], max_generations: 2, inviters_stage: attend}
timeline:
  span: {start: "D-1 09:00", end: "D+1 21:00"}
  phases:
    - id: launch
      name: 启动
      steps:
        - {id: s1, name: 发圈, at: "D0 10:00", owner: ops, channel: moments, action: 发朋友圈}
"""
# The second version: a dearer course and more entrants.
PLAYBOOK_V2 = PLAYBOOK.replace("value: 99", "value: 198").replace("entry_rate: 0.1", "entry_rate: 0.2")
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = open_database(database_url)
    yield db
    db.close()


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    with database.session() as s:
        yield s


def _publish(session: Session, text: str, *, note: str = "", by: str = "李雷") -> int:
    result = publish_text(session=session, text=text, source="course.yaml", note=note, by=by, now=T0)
    return result.version.version


def test_publish_stores_the_text_as_written_with_its_hash(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "course.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    result = publish_file(session=session, path=path, note="第一版", by="李雷", now=T0)
    assert result.created
    v = result.version
    assert (v.playbook_id, v.version, v.ref, v.name, v.declared_version) == (
        "course",
        1,
        "course@1",
        "训练营",
        "1.2",
    )
    assert (v.note, v.published_by, v.source, v.approved) == ("第一版", "李雷", str(path), False)
    assert v.content_hash == hashlib.sha256(PLAYBOOK.encode("utf-8")).hexdigest()
    row = session.scalars(select(PlaybookVersion)).one()
    assert row.content == PLAYBOOK  # comments and layout kept
    assert row.published_at == T0


def test_unchanged_content_is_not_stored_again(session: Session) -> None:
    assert _publish(session, PLAYBOOK) == 1
    again = publish_text(session=session, text=PLAYBOOK, source="again.yaml", note="no change")
    assert not again.created
    assert again.version.version == 1 and again.version.note == ""
    assert _publish(session, PLAYBOOK_V2) == 2
    # Going back to the first text points at version 1 instead of making a third copy of it.
    back = publish_text(session=session, text=PLAYBOOK, source="course.yaml")
    assert (back.created, back.version.version) == (False, 1)
    assert session.scalar(select(func.count()).select_from(PlaybookVersion)) == 2


def test_version_numbers_count_per_playbook(session: Session) -> None:
    other = PLAYBOOK.replace("id: course", "id: salon")
    assert [_publish(session, PLAYBOOK), _publish(session, other), _publish(session, PLAYBOOK_V2)] == [
        1,
        1,
        2,
    ]
    summaries = {p.playbook_id: p for p in list_playbooks(session=session)}
    assert (
        summaries["course"].versions,
        summaries["course"].latest,
        summaries["course"].latest_approved,
    ) == (
        2,
        2,
        None,
    )
    assert summaries["salon"].latest == 1


def test_an_invalid_playbook_is_refused_with_its_place_and_nothing_is_stored(
    session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(PLAYBOOK.replace("expected_rate: 0.5", "expected_rate: 5"), encoding="utf-8")
    with pytest.raises(PlaybookInvalid) as caught:
        publish_file(session=session, path=path)
    assert caught.value.problems[0].format().startswith(f"{path}:11:")
    with pytest.raises(PlaybookInvalid) as missing:
        publish_file(session=session, path=tmp_path / "nope.yaml")
    assert missing.value.problems[0].code == "not_found"
    assert session.scalar(select(func.count()).select_from(PlaybookVersion)) == 0


def test_a_note_too_long_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInput, match="--note"):
        publish_text(session=session, text=PLAYBOOK, source="x.yaml", note="长" * 2001)


def test_a_publish_that_loses_the_race_for_its_number_is_a_clear_conflict(database: Database) -> None:
    def publish_elsewhere(*_args: object) -> None:
        with database.session() as other:
            publish_text(session=other, text=PLAYBOOK_V2, source="other.yaml")

    with pytest.raises(PublishConflict, match="publish again"), database.session() as session:
        # Between this publish's read of the newest number and its insert, another process publishes.
        event.listen(session, "before_flush", publish_elsewhere, once=True)
        publish_text(session=session, text=PLAYBOOK, source="mine.yaml")
    with database.session() as session:
        assert [v.source for v in list_versions(session=session, playbook_id="course")] == ["other.yaml"]
        assert _publish(session, PLAYBOOK) == 2


def test_approve_records_who_and_when_once(session: Session) -> None:
    _publish(session, PLAYBOOK)
    first = approve_version(session=session, playbook_id="course", version=1, by=" 韩梅梅 ", now=T0)
    assert first.changed and first.version.approved
    assert (first.version.approved_by, first.version.approved_at) == ("韩梅梅", T0)
    again = approve_version(session=session, playbook_id="course", version=1, by="王芳")
    assert not again.changed and again.version.approved_by == "韩梅梅"
    assert [v.approved for v in list_versions(session=session, playbook_id="course")] == [True]


def test_approve_errors_name_what_is_missing(session: Session) -> None:
    with pytest.raises(NotFound, match="no published playbook 'course'") as unknown:
        approve_version(session=session, playbook_id="course", version=1, by="韩梅梅")
    assert unknown.value.code == "unknown_playbook"
    _publish(session, PLAYBOOK)
    with pytest.raises(NotFound, match="course has no version 3; versions: 1") as version:
        approve_version(session=session, playbook_id="course", version=3, by="韩梅梅")
    assert version.value.code == "unknown_version"
    with pytest.raises(InvalidInput, match="--by"):
        approve_version(session=session, playbook_id="course", version=1, by="  ")
    assert not list_versions(session=session, playbook_id="course")[0].approved


def test_resolve_runs_approved_versions_only_by_default(session: Session) -> None:
    assert approval_required(session=session) is True
    _publish(session, PLAYBOOK)
    _publish(session, PLAYBOOK_V2)
    with pytest.raises(NotApproved) as none_approved:
        resolve_version(session=session, ref="course")
    message = none_approved.value.message
    assert "no version is approved (the newest is 2)" in message
    assert "sopflow playbook approve course 2 --by NAME" in message
    approve_version(session=session, playbook_id="course", version=1, by="韩梅梅")
    assert resolve_version(session=session, ref="course").version == 1  # newest approved, not newest
    assert resolve_version(session=session, ref="course@1").version == 1
    with pytest.raises(NotApproved, match=r"version 2 is not approved.*approve course 2 --by NAME"):
        resolve_version(session=session, ref="course@2")
    approve_version(session=session, playbook_id="course", version=2, by="韩梅梅")
    resolved = resolve_version(session=session, ref=" course ")
    assert (resolved.version, resolved.content) == (2, PLAYBOOK_V2)


def test_resolve_with_approval_off_takes_any_version(database: Database) -> None:
    with database.session() as session:
        _publish(session, PLAYBOOK)
        _publish(session, PLAYBOOK_V2)
        assert set_approval_required(session=session, required=False, now=T0) is True
    with database.session() as session:  # the setting is stored, not per session
        assert approval_required(session=session) is False
        assert resolve_version(session=session, ref="course").version == 2
        assert resolve_version(session=session, ref="course@v1").version == 1
        assert set_approval_required(session=session, required=True) is False
    with database.session() as session, pytest.raises(NotApproved):
        resolve_version(session=session, ref="course")


@pytest.mark.parametrize("ref", ["", "@2", "course@", "course@abc", "course@0", "course@-1", "course@1@2"])
def test_resolve_refuses_malformed_references(session: Session, ref: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_version(session=session, ref=ref)
    assert caught.value.code in ("invalid_playbook_ref", "invalid_version")


def test_resolve_names_unknown_playbooks_and_versions(session: Session) -> None:
    _publish(session, PLAYBOOK)
    with pytest.raises(NotFound, match="no published playbook 'salon'; published playbooks: course"):
        resolve_version(session=session, ref="salon")
    with pytest.raises(NotFound, match="course has no version 7"):
        resolve_version(session=session, ref="course@7")


def test_version_numbers_and_references_parse() -> None:
    assert [parse_version_number(v) for v in (3, "3", " v3 ", "V12")] == [3, 3, 3, 12]
    for bad in ("0", "v", "3.1", "", "x3", "1e3"):
        with pytest.raises(InvalidInput, match="expected a version number"):
            parse_version_number(bad, what="V1")
    assert parse_ref("course") == ("course", None)
    assert parse_ref("course@2") == ("course", 2)


def test_diff_shows_the_yaml_and_the_plan_numbers(session: Session) -> None:
    _publish(session, PLAYBOOK)
    _publish(session, PLAYBOOK_V2)
    result = diff_versions(session=session, playbook_id="course", before=1, after=2)
    assert result.yaml_diff[:2] == ["--- course@1", "+++ course@2"]
    removed = [line for line in result.yaml_diff if line.startswith("-") and not line.startswith("---")]
    added = [line for line in result.yaml_diff if line.startswith("+") and not line.startswith("+++")]
    assert len(removed) == len(added) == 2
    assert any("value: 99" in line for line in removed) and any("value: 198" in line for line in added)

    plans = [estimate(parse_playbook(text, filename="x")[0]) for text in (PLAYBOOK, PLAYBOOK_V2)]  # type: ignore[arg-type]
    numbers = {n.metric: n for n in result.numbers}
    assert list(numbers) == list(KEY_NUMBERS)
    assert numbers["revenue"].before == pytest.approx(plans[0].totals.revenue)
    assert numbers["revenue"].after == pytest.approx(plans[1].totals.revenue)
    assert numbers["conversions"].before == pytest.approx(plans[0].metrics["users.pay"])
    # Twice the entrants at twice the price: 4× the revenue, twice the conversions; K stays.
    assert numbers["revenue"].relative_change == pytest.approx(3.0)
    assert numbers["conversions"].relative_change == pytest.approx(1.0)
    assert numbers["k_factor"].change == 0.0
    assert numbers["cost"].change == 0.0 and numbers["cost"].relative_change == 0.0
    shape = result.as_json()
    assert set(shape) == {"playbook_id", "from", "to", "same_content", "yaml_diff", "numbers"}
    assert shape["yaml_diff"].startswith("--- course@1\n+++ course@2\n")
    assert shape["numbers"][0] == {
        "metric": "new_users",
        "from": 125.0,  # 10 posters × 100 reach × 0.1, plus 25 invited (50 attend × K 0.5)
        "to": 250.0,
        "change": 125.0,
        "relative_change": 1.0,
    }


def test_diff_of_a_version_with_itself_is_empty(session: Session) -> None:
    _publish(session, PLAYBOOK)
    result = diff_versions(session=session, playbook_id="course", before=1, after=1)
    assert result.same_content and result.yaml_diff == []
    assert all(n.change == 0.0 for n in result.numbers if n.before is not None)
    with pytest.raises(NotFound, match="course has no version 2"):
        diff_versions(session=session, playbook_id="course", before=1, after=2)


def test_every_built_in_template_can_be_published(session: Session) -> None:
    names = template_names()
    assert len(names) >= 4
    for name in names:
        result = publish_text(session=session, text=template_text(name), source=f"template:{name}")
        assert (result.created, result.version.version) == (True, 1), name
    assert len(list_playbooks(session=session)) == len(names)
