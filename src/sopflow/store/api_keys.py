"""Ingest API keys: create (shown once), list, revoke, and verify them fast on every request.

A key is ``sf_`` followed by 32 random bytes in URL-safe base64. Only its SHA-256 is stored: a slow password
hash (argon2) is pointless for 256-bit random secrets and would cost milliseconds per request. The verifier
keeps recent answers in memory for ``api_key_cache_seconds``, so a revoked key stops working within that time.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sopflow.errors import InvalidInput, NotFound
from sopflow.i18n import _
from sopflow.store.database import Database
from sopflow.store.models import ApiKey

KEY_PREFIX = "sf_"
PREFIX_CHARS = len(KEY_PREFIX) + 8
MAX_NAME_CHARS = 100
_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class ApiKeyPublic:
    """What may be shown about a key: never the key itself."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "active": self.active,
        }


@dataclass(frozen=True)
class CreatedApiKey:
    key: str
    record: ApiKeyPublic


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _public(row: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(
        id=row.id, name=row.name, prefix=row.prefix, created_at=row.created_at, revoked_at=row.revoked_at
    )


def create_api_key(*, session: Session, name: str, now: datetime | None = None) -> CreatedApiKey:
    clean = name.strip()
    if not clean or len(clean) > MAX_NAME_CHARS:
        raise InvalidInput(_("a key name needs 1 to {n} characters", n=MAX_NAME_CHARS), code="invalid_name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=clean, key_hash=hash_key(key), prefix=key[:PREFIX_CHARS], created_at=now or datetime.now(UTC)
    )
    session.add(row)
    session.flush()
    return CreatedApiKey(key=key, record=_public(row))


def list_api_keys(*, session: Session, include_revoked: bool = True) -> list[ApiKeyPublic]:
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return [_public(row) for row in session.scalars(query)]


def revoke_api_key(*, session: Session, ref: str, now: datetime | None = None) -> ApiKeyPublic:
    """Revoke the key whose id or displayed prefix is ``ref``; revoking a revoked key changes nothing."""
    ref = ref.strip().rstrip("…")  # `keys list` shows prefixes with a trailing ellipsis
    if ref.isdigit():
        rows = list(session.scalars(select(ApiKey).where(ApiKey.id == int(ref))))
    else:
        rows = list(session.scalars(select(ApiKey).where(ApiKey.prefix == ref)))
    if not rows:
        raise NotFound(_("no API key with id or prefix {ref!r}; see `sopflow keys list`", ref=ref))
    if len(rows) > 1:
        raise InvalidInput(
            _("several keys start with {ref!r}; revoke by id instead", ref=ref), code="ambiguous"
        )
    row = rows[0]
    if row.revoked_at is None:
        row.revoked_at = now or datetime.now(UTC)
        session.flush()
    return _public(row)


def find_active_key(*, session: Session, key: str) -> ApiKeyPublic | None:
    row = session.scalars(
        select(ApiKey).where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
    ).first()
    return _public(row) if row else None


class ApiKeyVerifier:
    """Answers "is this an active key?" for every request, from memory when it asked recently.

    Unknown keys are cached too, for a second, so a client hammering with a wrong key costs little database work.
    """

    def __init__(
        self, database: Database, *, cache_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._database = database
        self._ttl = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, ApiKeyPublic | None]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str) -> tuple[bool, ApiKeyPublic | None]:
        """``(True, answer)`` when the answer is in memory (no I/O), else ``(False, None)``."""
        if not key:
            return True, None
        with self._lock:
            hit = self._cache.get(hash_key(key))
        if hit is not None and hit[0] > self._clock():
            return True, hit[1]
        return False, None

    def verify(self, key: str) -> ApiKeyPublic | None:
        known, answer = self.cached(key)
        if known:
            return answer
        digest = hash_key(key)
        now = self._clock()
        with self._database.session() as session:
            row = session.scalars(
                select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
            ).first()
            found = _public(row) if row else None
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            # A key created a moment ago must start working quickly, so misses are kept for a second at most.
            ttl = self._ttl if found is not None else min(self._ttl, 1.0)
            self._cache[digest] = (now + ttl, found)
        return found
