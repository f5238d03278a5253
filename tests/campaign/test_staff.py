"""Staff: add, update, disable, list; the service on SQLite and PostgreSQL, the email check with hypothesis."""

from __future__ import annotations

import string
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sopflow.campaign.staff import (
    UnknownStaff,
    add_staff,
    check_email,
    get_staff,
    list_staff,
    reports_of,
    set_active,
    update_staff,
)
from sopflow.errors import InvalidInput
from sopflow.store.database import open_database
from sopflow.store.runs import Staff


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    db = open_database(database_url)
    try:
        with db.session() as s:
            yield s
    finally:
        db.close()


def _team(session: Session) -> None:
    add_staff(session=session, name="韩梅梅", role="lead")
    add_staff(session=session, name="王芳", role="ops", manager="韩梅梅")
    add_staff(session=session, name="李雷", role="ops", manager="王芳", email="lilei@example.com")


def _error(caught: pytest.ExceptionInfo[InvalidInput]) -> tuple[str, str]:
    return caught.value.code, caught.value.message


def test_add_and_list(session: Session) -> None:
    _team(session)
    person = add_staff(
        session=session,
        name="  小 张 ",
        role="group_assistant",
        manager="王芳",
        email=" zhang@例子.中国 ",
        wecom_userid="zhang.san@corp",
    )
    assert (person.name, person.role, person.manager) == ("小 张", "group_assistant", "王芳")
    assert (person.email, person.wecom_userid, person.active) == ("zhang@例子.中国", "zhang.san@corp", True)
    listed = list_staff(session=session)
    assert [(p.role, p.name) for p in listed] == [
        ("group_assistant", "小 张"),
        ("lead", "韩梅梅"),
        ("ops", "李雷"),
        ("ops", "王芳"),
    ]
    assert set(listed[0].as_json()) == {
        "id",
        "name",
        "role",
        "manager",
        "email",
        "wecom_userid",
        "active",
        "created_at",
    }


def test_a_duplicate_name_is_refused(session: Session) -> None:
    _team(session)
    with pytest.raises(InvalidInput) as caught:
        add_staff(session=session, name="李雷 ", role="ops")
    assert _error(caught) == ("duplicate_name", "NAME: a staff member named '李雷' already exists")
    set_active(session=session, name="李雷", active=False)
    with pytest.raises(InvalidInput, match="disabled; turn it back on with: sopflow staff enable 李雷"):
        add_staff(session=session, name="李雷", role="ops")


def test_unknown_and_disabled_managers_are_refused(session: Session) -> None:
    _team(session)
    with pytest.raises(UnknownStaff) as unknown:
        add_staff(session=session, name="小张", role="ops", manager="张伟")
    assert unknown.value.message == "--manager: no staff member named '张伟'; staff: 李雷, 王芳, 韩梅梅"
    set_active(session=session, name="王芳", active=False)
    with pytest.raises(InvalidInput, match="--manager: 王芳 is disabled") as inactive:
        add_staff(session=session, name="小张", role="ops", manager="王芳")
    assert inactive.value.code == "inactive_manager"
    assert session.scalar(select(func.count()).select_from(Staff)) == 3


def test_a_manager_chain_may_not_loop(session: Session) -> None:
    _team(session)  # 李雷 → 王芳 → 韩梅梅
    with pytest.raises(InvalidInput) as loop:
        update_staff(session=session, name="韩梅梅", manager="李雷")
    assert _error(loop) == (
        "manager_cycle",
        "--manager: 韩梅梅 cannot report to 李雷: the chain would loop (韩梅梅 → 李雷 → 王芳 → 韩梅梅)",
    )
    with pytest.raises(InvalidInput, match="the chain would loop \\(李雷 → 李雷\\)"):
        update_staff(session=session, name="李雷", manager="李雷")
    assert get_staff(session=session, name="韩梅梅").manager is None
    # A chain that does not come back is fine, however long.
    assert update_staff(session=session, name="李雷", manager="韩梅梅").manager == "韩梅梅"


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("lilei", "exactly one @"),
        ("li@lei@example.com", "exactly one @"),
        ("li lei@example.com", "spaces or characters"),
        ("<lilei@example.com>", "spaces or characters"),
        ("@example.com", "before @"),
        ("li..lei@example.com", "before @"),
        ("lilei@example", "example.com"),
        ("lilei@-example.com", "example.com"),
        ("lilei@example..com", "example.com"),
        ("lilei@127.0.0.1", "example.com"),
    ],
)
def test_malformed_emails_are_refused_with_the_reason(session: Session, email: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        add_staff(session=session, name="李雷", role="ops", email=email)
    code, message = _error(caught)
    assert code == "invalid_email"
    assert message.startswith(f"--email: {email!r} is not an email address (") and reason in message
    assert session.scalar(select(func.count()).select_from(Staff)) == 0


@pytest.mark.parametrize(
    ("kwargs", "code", "fragment"),
    [
        ({"role": "运营"}, "invalid_role", "--role '运营'"),
        ({"role": "1ops"}, "invalid_role", "team.roles"),
        ({"wecom_userid": "_lilei"}, "invalid_wecom_userid", "--wecom-userid '_lilei'"),
        ({"wecom_userid": "a" * 65}, "invalid_wecom_userid", "1 to 64"),
        ({"wecom_userid": "li lei"}, "invalid_wecom_userid", "starts with a letter"),
    ],
)
def test_roles_and_wecom_userids_are_checked(
    session: Session, kwargs: dict[str, str], code: str, fragment: str
) -> None:
    args = {"role": "ops", **kwargs}
    with pytest.raises(InvalidInput) as caught:
        add_staff(session=session, name="李雷", **args)
    assert caught.value.code == code and fragment in caught.value.message


def test_names_are_checked(session: Session) -> None:
    for bad in ("", "   ", "x" * 101, "li\x00lei"):
        with pytest.raises(InvalidInput, match="NAME: a name needs 1 to 100 printable characters"):
            add_staff(session=session, name=bad, role="ops")


def test_a_wecom_userid_belongs_to_one_person(session: Session) -> None:
    add_staff(session=session, name="李雷", role="ops", wecom_userid="LiLei")
    with pytest.raises(InvalidInput, match="李雷 already has this userid"):
        add_staff(session=session, name="王芳", role="ops", wecom_userid="LiLei")
    # The person keeps their own userid when it is given again.
    assert update_staff(session=session, name="李雷", wecom_userid="LiLei").wecom_userid == "LiLei"


def test_update_changes_what_is_given_and_clears_empty_values(session: Session) -> None:
    _team(session)
    updated = update_staff(session=session, name="李雷", role="lead", email="lei.li@example.org")
    assert (updated.role, updated.manager, updated.email) == ("lead", "王芳", "lei.li@example.org")
    cleared = update_staff(session=session, name="李雷", manager="", email=" ", wecom_userid="")
    assert (cleared.role, cleared.manager, cleared.email, cleared.wecom_userid) == ("lead", None, None, None)


def test_a_refused_update_changes_nothing(session: Session) -> None:
    _team(session)
    with pytest.raises(InvalidInput, match="--email"):
        update_staff(session=session, name="李雷", role="lead", manager="韩梅梅", email="not-an-address")
    person = get_staff(session=session, name="李雷")
    assert (person.role, person.manager, person.email) == ("ops", "王芳", "lilei@example.com")
    with pytest.raises(UnknownStaff, match="NAME: no staff member named '张伟'"):
        update_staff(session=session, name="张伟", role="ops")


def test_disable_and_enable(session: Session) -> None:
    _team(session)
    person, changed = set_active(session=session, name="王芳", active=False)
    assert (person.active, changed) == (False, True)
    assert reports_of(session=session, name="王芳") == ["李雷"]
    assert set_active(session=session, name="王芳", active=False)[1] is False
    assert [p.name for p in list_staff(session=session, include_inactive=False)] == ["韩梅梅", "李雷"]
    assert set_active(session=session, name="王芳", active=True) == (
        get_staff(session=session, name="王芳"),
        True,
    )
    with pytest.raises(UnknownStaff):
        set_active(session=session, name="张伟", active=False)


# The email check: every address it accepts has the shape it promises, and ordinary addresses pass.
_LOCAL = st.text(string.ascii_letters + string.digits + "._%+-", min_size=1, max_size=20).filter(
    lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s
)
_LABEL = st.from_regex(r"\A[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?\Z")
_TLD = st.from_regex(r"\A[a-z]{2,6}\Z")


@given(local=_LOCAL, labels=st.lists(_LABEL, min_size=1, max_size=3), tld=_TLD)
def test_ordinary_addresses_are_accepted(local: str, labels: list[str], tld: str) -> None:
    address = f"{local}@{'.'.join([*labels, tld])}"
    assert check_email(f" {address} ") == address


@given(st.text(max_size=60))
def test_any_text_is_accepted_only_in_the_promised_shape(text: str) -> None:
    try:
        address = check_email(text)
    except InvalidInput as exc:
        assert exc.code == "invalid_email" and exc.message.startswith("--email: ")
        return
    local, domain = address.split("@")
    assert local and "." in domain and not any(ch.isspace() for ch in address)
    assert address == text.strip() and len(address) <= 200
