"""``/api/v1/keys``: the ingest API keys (list, create, revoke), as ``sopflow keys`` does them.

Listing is open to every logged-in user (only names and prefixes: a key is shown once, when it is created,
and only its hash is stored). Creating and revoking are for admins (``keys.manage``) and land in the audit
log as ``key.create`` / ``key.revoke``, like the CLI's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from sopflow.accounts.audit import record_audit
from sopflow.accounts.sessions import Authenticated
from sopflow.store.api_keys import ApiKeyPublic, create_api_key, list_api_keys, revoke_api_key
from sopflow.web.api.console import ERRORS, Reader, app_session
from sopflow.web.auth import client_address, require

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])
KeyManager = Annotated[Authenticated, Depends(require("keys.manage"))]


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    active: bool


class KeyList(BaseModel):
    keys: list[KeyOut]


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="What the key is for, e.g. the mini program")


class KeyCreated(BaseModel):
    key: str = Field(description="The key itself: shown this once, store it now")
    record: KeyOut


def key_out(key: ApiKeyPublic) -> KeyOut:
    return KeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
        active=key.active,
    )


@router.get("", response_model=KeyList, responses=ERRORS)
def list_keys(request: Request, auth: Reader) -> KeyList:
    """Every ingest API key, revoked ones too: name and prefix only, never the key (any logged-in role)."""
    with app_session(request) as session:
        return KeyList(keys=[key_out(key) for key in list_api_keys(session=session)])


@router.post("", response_model=KeyCreated, status_code=201, responses=ERRORS)
def create_key(body: KeyCreate, request: Request, auth: KeyManager) -> KeyCreated:
    """Create an ingest API key (admins: ``keys.manage``); the key is in this answer only, store it now."""
    with app_session(request) as session:
        created = create_api_key(session=session, name=body.name)
        record_audit(
            session=session,
            actor=auth.user.name,
            action="key.create",
            target_kind="api_key",
            target_id=created.record.id,
            details={"name": created.record.name, "prefix": created.record.prefix},
            client=client_address(request),
        )
    return KeyCreated(key=created.key, record=key_out(created.record))


@router.post("/{ref}/revoke", response_model=KeyOut, responses=ERRORS)
def revoke_key(request: Request, auth: KeyManager, ref: str = Path(max_length=100)) -> KeyOut:
    """Revoke by id or displayed prefix; the server stops accepting it within ``api_key_cache_seconds``."""
    with app_session(request) as session:
        key = revoke_api_key(session=session, ref=ref)
        record_audit(
            session=session,
            actor=auth.user.name,
            action="key.revoke",
            target_kind="api_key",
            target_id=key.id,
            details={"name": key.name, "prefix": key.prefix},
            client=client_address(request),
        )
    return key_out(key)
