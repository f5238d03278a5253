"""Starting a campaign from what a person gives (the CLI's options, the API's body): the version's
reference, the start as text, pairs of owners, endpoints and channels; one campaign, or one per version
when versions run side by side. The CLI and the API both call :func:`launch`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from sopflow.campaign.start import (
    DEFAULT_MAX_LATE,
    campaign_zone,
    frozen_playbook,
    start_campaign,
    start_side_by_side,
)
from sopflow.campaign.timing import parse_start
from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.playbook.versions import resolve_version
from sopflow.store.runs import Campaign


@dataclass(frozen=True)
class LaunchRequest:
    playbook: str  # ID (newest approved) or ID@VERSION
    start: str  # 'YYYY-MM-DD HH:MM' in tz, an ISO time with offset, or 'now'
    tz: str | None = None  # default: the playbook's
    name: str | None = None
    assign: dict[str, str] = field(default_factory=dict)
    notify: dict[str, str] = field(default_factory=dict)
    send: dict[str, str] = field(default_factory=dict)
    versus: list[str] = field(default_factory=list)  # other versions side by side
    split: list[float] | None = None  # weights of playbook and versus (default: equal)
    max_late: int = DEFAULT_MAX_LATE
    start_field: str = "--start"  # how errors name the start: the CLI's option, the API's field


def launch(
    *, session: Session, request: LaunchRequest, by: str, now: datetime | None = None
) -> list[Campaign]:
    """The campaign (or the side-by-side campaigns) with all their tasks, in ``session``'s transaction."""
    now = now or datetime.now(UTC)
    version = resolve_version(session=session, ref=request.playbook)
    zone = campaign_zone(request.tz or frozen_playbook(version).meta.timezone)
    try:
        starts_at = parse_start(request.start, zone, now=now)
    except ValueError:
        raise InvalidInput(
            _(
                "{field} {value!r}: write 'YYYY-MM-DD HH:MM' or 'now'",
                field=request.start_field,
                value=request.start,
            ),
            code="invalid_start",
        ) from None
    options: dict[str, Any] = dict(
        starts_at=starts_at,
        timezone=zone.key,
        name=request.name,
        assign=request.assign,
        notify=request.notify,
        send=request.send,
        max_late=request.max_late,
        by=by,
        now=now,
    )
    if not request.versus:
        return [start_campaign(session=session, version=version, **options)]
    others = [resolve_version(session=session, ref=ref) for ref in request.versus]
    split = request.split or [1.0] * (1 + len(others))
    return start_side_by_side(session=session, versions=[version, *others], split=split, **options)
