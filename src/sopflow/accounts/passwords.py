"""Password hashing (argon2id), the password policy, and generated passwords for new accounts.

argon2-cffi's defaults follow RFC 9106's low-memory profile (argon2id, t=3, 64 MiB, p=4). When they change,
a hash made with the old parameters still verifies, and :func:`verify_password` returns a fresh hash for the
caller to store: accounts move to the new parameters one login at a time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from sopflow.errors import InvalidInput
from sopflow.i18n import _

MIN_CHARS = 10
# A bound on what is hashed: argon2 takes any length, but a megabyte "password" is only a way to burn CPU.
MAX_CHARS = 1024
# No 0/O, 1/l/I: a generated password is read off a terminal and typed in by hand.
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

DEFAULT_HASHER = PasswordHasher()


@dataclass(frozen=True)
class Verified:
    """The outcome of checking a password: ``ok``, and a new hash to store when the parameters changed."""

    ok: bool
    new_hash: str | None = None


def check_password_policy(password: str, *, name: str) -> None:
    """Refuse a password that is too short, too long, or the user's own name (in any case)."""
    if len(password) < MIN_CHARS:
        raise InvalidInput(_("the password needs at least {n} characters", n=MIN_CHARS), code="weak_password")
    if len(password) > MAX_CHARS:
        raise InvalidInput(
            _("the password may have at most {n} characters", n=MAX_CHARS), code="weak_password"
        )
    if password.strip().casefold() == name.strip().casefold():
        raise InvalidInput(_("the password must not be the user name"), code="weak_password")


def hash_password(password: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    return hasher.hash(password)


def verify_password(stored: str, password: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> Verified:
    """Check ``password`` against ``stored``; a malformed stored hash is a failed check, never an error."""
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return Verified(ok=False)
    if hasher.check_needs_rehash(stored):
        return Verified(ok=True, new_hash=hasher.hash(password))
    return Verified(ok=True)


def burn_a_verification(password: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> None:
    """Spend the time of one verification, so an unknown user name answers as slowly as a wrong password."""
    verify_password(_dummy_hash(hasher), password, hasher=hasher)


_dummy_hashes: dict[int, str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    # Made on first use (hashing at import would slow every CLI command), once per hasher's parameters.
    key = id(hasher)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hashes[key]


def generate_password(groups: int = 4, size: int = 4) -> str:
    """A random password such as ``k7Qm-3xPa-Wn9d-Hr2T`` (about 94 bits with the defaults)."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _i in range(size)) for _g in range(groups))
