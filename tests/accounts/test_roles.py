"""Roles: the hierarchy, the write-action table, and contact masking for viewers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopflow.accounts.roles import ACTIONS, ROLES, can, mask_contact, parse_role
from sopflow.errors import InvalidInput


def test_viewers_may_only_read() -> None:
    allowed = {action for action in ACTIONS if can("viewer", action)}
    assert allowed == {"read"}


def test_operators_run_campaigns_but_do_not_administer() -> None:
    assert can("operator", "campaign.start")
    assert can("operator", "playbook.write")
    assert not can("operator", "users.manage")
    assert not can("operator", "audit.read")
    assert not can("operator", "playbook.approve")


def test_admins_may_do_everything() -> None:
    assert all(can("admin", action) for action in ACTIONS)


def test_an_unknown_role_may_do_nothing_and_an_unknown_action_is_a_bug() -> None:
    assert not can("root", "read")
    with pytest.raises(ValueError, match="unknown action"):
        can("admin", "campaign.launch")


def test_parse_role() -> None:
    assert parse_role(" Admin ") == "admin"
    with pytest.raises(InvalidInput, match="viewer, operator, admin"):
        parse_role("owner")
    assert ROLES == ("viewer", "operator", "admin")


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("+8613812345678", "+86****5678"),
        ("wxid_k2ab", "wx****ab"),
        ("wx12345678ab", "wx****ab"),
        ("abc", "****"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_contact(value: str | None, masked: str | None) -> None:
    assert mask_contact(value) == masked


@given(st.text(min_size=5, max_size=40).filter(lambda s: s.strip() == s and len(s) >= 5 and "*" not in s))
def test_masking_never_shows_the_middle(value: str) -> None:
    masked = mask_contact(value)
    assert masked is not None and "****" in masked
    assert len(masked) <= 11
    assert masked != value
