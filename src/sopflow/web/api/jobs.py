"""``/api/v1/jobs:`` long work running in the background (imports, reports, big queries) and its progress."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
