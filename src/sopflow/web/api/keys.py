"""``/api/v1/keys:`` the ingest API keys (list, create, revoke)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
