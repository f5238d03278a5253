"""Password policy, argon2id hashing, rehash on new parameters, generated passwords."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st

from sopflow.accounts.passwords import (
    MAX_CHARS,
    MIN_CHARS,
    check_password_policy,
    generate_password,
    hash_password,
    verify_password,
)
from sopflow.errors import InvalidInput

from .conftest import FAST


@given(password=st.text(max_size=MIN_CHARS - 1))
def test_short_passwords_are_refused(password: str) -> None:
    with pytest.raises(InvalidInput, match=f"at least {MIN_CHARS} characters") as err:
        check_password_policy(password, name="someone")
    assert err.value.code == "weak_password"


@given(name=st.text(min_size=MIN_CHARS, max_size=40).filter(lambda s: s.strip() == s))
def test_the_user_name_is_refused_in_any_case(name: str) -> None:
    for candidate in (name, name.upper(), name.lower()):
        if len(candidate) < MIN_CHARS or candidate.casefold() != name.casefold():
            continue
        with pytest.raises(InvalidInput, match="must not be the user name"):
            check_password_policy(candidate, name=name)


@given(
    password=st.text(min_size=MIN_CHARS, max_size=200),
    name=st.text(min_size=1, max_size=30),
)
def test_long_enough_passwords_other_than_the_name_pass(password: str, name: str) -> None:
    if password.strip().casefold() == name.strip().casefold():
        with pytest.raises(InvalidInput):
            check_password_policy(password, name=name)
    else:
        check_password_policy(password, name=name)  # no error


def test_huge_passwords_are_refused() -> None:
    with pytest.raises(InvalidInput, match="at most"):
        check_password_policy("x" * (MAX_CHARS + 1), name="a")


def test_hash_is_argon2id_and_verifies_only_the_right_password() -> None:
    stored = hash_password("correct horse battery", hasher=FAST)
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert verify_password(stored, "correct horse battery", hasher=FAST).ok
    assert not verify_password(stored, "correct horse batterY", hasher=FAST).ok


def test_a_malformed_stored_hash_is_a_failed_check_not_an_error() -> None:
    assert not verify_password("not-a-hash", "whatever123", hasher=FAST).ok


def test_changed_parameters_give_a_new_hash_on_login() -> None:
    old = hash_password("correct horse battery", hasher=FAST)
    stronger = PasswordHasher(time_cost=2, memory_cost=128, parallelism=1)
    outcome = verify_password(old, "correct horse battery", hasher=stronger)
    assert outcome.ok and outcome.new_hash is not None
    assert "m=128,t=2,p=1" in outcome.new_hash
    assert stronger.verify(outcome.new_hash, "correct horse battery")
    # Already current: nothing to store.
    assert verify_password(outcome.new_hash, "correct horse battery", hasher=stronger).new_hash is None


def test_generated_passwords_pass_the_policy_and_differ() -> None:
    seen = {generate_password() for _ in range(200)}
    assert len(seen) == 200
    for password in seen:
        check_password_policy(password, name="admin")
        assert len(password) == 19
        assert not set(password) & set("0O1lI")
