"""``/api/v1/events/imports,`` /api/v1/events/recent: uploads with column mapping, their progress and rejects; the live stream."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
