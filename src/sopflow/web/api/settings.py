"""``/api/v1/settings:`` workspace settings the console changes (timezone)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
