"""``/api/v1/analytics``: funnel, the funnel's drop-off list, retention, referral, ROI, targets and AARRR.

Each answer is the ``--json`` shape of the matching CLI command on the same data (docs/console-analytics.md).
The questions are POST bodies (steps, conditions and exclusions are lists), so like every unsafe method they
carry the session's CSRF token; any role may ask them. The engine is kept between requests until the event
store changes (:mod:`sopflow.web.analytics.engines`), and the endpoints are plain functions, which FastAPI
runs in its thread pool: a long query never holds up the event loop.

Viewers see person ids masked (``138****5678``) in the drop-off list and the referral's top sharers, and every
drop-off download is recorded in the audit log (``export``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from sopflow.accounts.audit import record_audit
from sopflow.web.analytics import answers
from sopflow.web.analytics.queries import (
    AarrrQuery,
    DroppedQuery,
    FunnelQuery,
    PlaybookChoice,
    ReferralQuery,
    RetentionQuery,
    RoiQuery,
    TargetsQuery,
)
from sopflow.web.api.console import ERRORS, Reader, app_session
from sopflow.web.auth import client_address, services_of
from sopflow.web.table_files import to_csv, to_xlsx
from sopflow.workspace import Workspace

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])
DROPPED_LIST = "funnel-dropped"
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _workspace(request: Request) -> Workspace:
    return services_of(request).settings.workspace


def _chosen(request: Request, choice: PlaybookChoice) -> answers.Chosen:
    with app_session(request) as session:
        chosen = answers.choose_playbook(session=session, choice=choice)
    assert chosen is not None
    return chosen


@router.get("/events", responses=ERRORS)
def events_endpoint(request: Request, auth: Reader) -> dict[str, Any]:
    """The event names and channels in the store (for choosing funnel steps)."""
    return answers.event_names(workspace=_workspace(request))


@router.post("/funnel", responses=ERRORS)
def funnel_endpoint(body: FunnelQuery, request: Request, auth: Reader) -> dict[str, Any]:
    """Persons reaching each step (``sopflow funnel --json``)."""
    return answers.funnel(workspace=_workspace(request), query=body)


@router.post(
    "/funnel/dropped",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {MEDIA["csv"]: {}, MEDIA["xlsx"]: {}}}},
)
def dropped_endpoint(body: DroppedQuery, request: Request, auth: Reader) -> Response:
    """The persons who reached step N-1 but not step N, as CSV or Excel (recorded in the audit log)."""
    masked = auth.user.role == "viewer"
    rows = answers.dropped(workspace=_workspace(request), query=body, masked=masked)
    columns = answers.DROPPED_COLUMNS
    name = f"{DROPPED_LIST}-step{body.dropped_at}"
    data = to_xlsx(rows, columns, name) if body.format == "xlsx" else to_csv(rows, columns)
    with app_session(request) as session:
        record_audit(
            session=session,
            actor=auth.user.name,
            action="export",
            target_kind="list",
            target_id=DROPPED_LIST,
            details={
                "rows": len(rows),
                "format": body.format,
                "steps": ",".join(body.steps),
                "dropped_at": body.dropped_at,
                "masked": masked,
            },
            client=client_address(request),
        )
    return Response(
        data,
        media_type=MEDIA[body.format],
        headers={"Content-Disposition": f'attachment; filename="{name}.{body.format}"'},
    )


@router.post("/retention", responses=ERRORS)
def retention_endpoint(body: RetentionQuery, request: Request, auth: Reader) -> dict[str, Any]:
    """Cohorts and who returns in each later period (``sopflow retention --json``)."""
    return answers.retention(workspace=_workspace(request), query=body)


@router.post("/referral", responses=ERRORS)
def referral_endpoint(body: ReferralQuery, request: Request, auth: Reader) -> dict[str, Any]:
    """Inviters, invitees, K-factor per generation, top sharers (``sopflow referral --json``); ``tree``
    adds the top of the invitation tree."""
    chosen = None
    if body.playbook is not None:
        chosen = _chosen(request, PlaybookChoice(playbook=body.playbook))
    return answers.referral(
        workspace=_workspace(request), query=body, chosen=chosen, masked=auth.user.role == "viewer"
    )


@router.post("/roi", responses=ERRORS)
def roi_endpoint(body: RoiQuery, request: Request, auth: Reader) -> dict[str, Any]:
    """Revenue, cost, ROI, CAC and payback per channel against the plan (``sopflow roi --json``)."""
    return answers.roi(workspace=_workspace(request), query=body, chosen=_chosen(request, body))


@router.post("/targets", responses=ERRORS)
def targets_endpoint(body: TargetsQuery, request: Request, auth: Reader) -> dict[str, Any]:
    """Each target against the data, with the findings (``sopflow targets --json``)."""
    return answers.targets(workspace=_workspace(request), query=body, chosen=_chosen(request, body))


@router.post("/aarrr", responses=ERRORS)
def aarrr_endpoint(body: AarrrQuery, request: Request, auth: Reader) -> dict[str, Any]:
    """The five AARRR stages from the playbook funnel's tags (``sopflow aarrr --json``)."""
    return answers.aarrr(workspace=_workspace(request), query=body, chosen=_chosen(request, body))
