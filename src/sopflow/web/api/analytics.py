"""``/api/v1/analytics:`` funnel, retention, referral, ROI, targets and AARRR for the console."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
