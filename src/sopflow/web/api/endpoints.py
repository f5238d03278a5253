"""``/api/v1/endpoints:`` delivery endpoints (list, create, update, send a test)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
