"""``/api/v1/campaigns``: list, show, start, pause, resume, cancel campaigns and read their status,
calendar and per-step numbers.

Answers are the ``--json`` shapes of ``sopflow campaign``: ``{"campaigns": [campaign, ...]}``,
``{"campaign": campaign, "tasks": [task, ...]}`` (tasks for show and start), and the status report of
``sopflow campaign status --json``. Starting takes what ``sopflow campaign start`` takes, as JSON; with
``versus`` (other versions side by side) the answer also lists every arm under ``"campaigns"``.
``/calendar`` is :class:`~sopflow.campaign.agenda.CampaignAgenda` (days of tasks in the campaign's zone),
``/calendar.ics`` the team's iCalendar file, ``/steps`` the per-step touches and conversions of
``sopflow targets --campaign ID --json`` (its ``campaign`` key).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from sopflow.campaign.agenda import campaign_agenda
from sopflow.campaign.calendar import campaign_calendar
from sopflow.campaign.followup import campaign_steps_report
from sopflow.campaign.launch import LaunchRequest, launch
from sopflow.campaign.lifecycle import (
    TaskFilter,
    cancel_campaign,
    describe,
    get_campaign,
    list_campaigns,
    list_tasks,
    pause_campaign,
    resume_campaign,
)
from sopflow.campaign.start import DEFAULT_MAX_LATE
from sopflow.campaign.status import campaign_status
from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.playbook.timenode import TimeSyntaxError, parse_duration
from sopflow.web.api.console import (
    ERRORS,
    CampaignChanger,
    CampaignId,
    CampaignStarter,
    Reader,
    app_session,
)
from sopflow.web.auth import services_of
from sopflow.web.background.reports import submit_campaign_report

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])


class CampaignStart(BaseModel):
    playbook: str = Field(min_length=1, max_length=200, description="ID (latest approved) or ID@VERSION")
    start: str = Field(min_length=1, max_length=40, description="'YYYY-MM-DD HH:MM' in tz, or 'now'")
    tz: str | None = Field(None, max_length=64, description="Time zone (default: the playbook's)")
    name: str | None = Field(None, max_length=200)
    assign: dict[str, str] = Field(default_factory=dict, description="role → staff name")
    notify: dict[str, str] = Field(default_factory=dict, description="role (or *) → endpoint name")
    send: dict[str, str] = Field(default_factory=dict, description="channel → endpoint name")
    max_late: str = Field("1h", max_length=20, description="Later than this when due: missed, not sent")
    versus: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=5, description="Other versions run side by side (ID@VERSION)"
    )
    split: list[Annotated[float, Field(gt=0, le=1_000_000)]] | None = Field(
        None, max_length=6, description="Weights of playbook and versus, in order (default: equal)"
    )


class CampaignCancel(BaseModel):
    why: str = Field("", max_length=2000)


def _max_late(text: str) -> int:
    if not text.strip():
        return DEFAULT_MAX_LATE
    try:
        return parse_duration(text)
    except TimeSyntaxError as exc:
        raise InvalidInput(f"max_late: {exc}", code="invalid_option") from None


def _shown(request: Request, campaign_id: int, *, tasks: bool) -> dict[str, Any]:
    with app_session(request) as session:
        campaign = get_campaign(session=session, campaign_id=campaign_id)
        shape: dict[str, Any] = {"campaign": describe(session=session, campaign=campaign).as_json()}
        if tasks:
            found = list_tasks(session=session, where=TaskFilter(campaign_id=campaign_id))
            shape["tasks"] = [t.as_json() for t in found]
    return shape


@router.get("", responses=ERRORS)
def list_endpoint(request: Request, auth: Reader, status: str | None = None) -> dict[str, Any]:
    """Every campaign, or only those with ``status`` (running, paused, cancelled or finished; any logged-in
    role)."""
    with app_session(request) as session:
        return {"campaigns": [c.as_json() for c in list_campaigns(session=session, status=status)]}


@router.get("/{campaign_id}", responses=ERRORS)
def show_endpoint(campaign_id: CampaignId, request: Request, auth: Reader) -> dict[str, Any]:
    """One campaign with all its tasks (any logged-in role)."""
    return _shown(request, campaign_id, tasks=True)


@router.get("/{campaign_id}/status", responses=ERRORS)
def status_endpoint(campaign_id: CampaignId, request: Request, auth: Reader) -> dict[str, Any]:
    """The campaign's status report: progress, execution and on-time rates per step and per person, and
    the overdue, next-due and uncertain tasks (any logged-in role); as ``sopflow campaign status --json``."""
    with app_session(request) as session:
        return campaign_status(session=session, campaign_id=campaign_id, now=datetime.now(UTC)).as_json()


@router.get("/{campaign_id}/calendar", responses=ERRORS)
def calendar_endpoint(campaign_id: CampaignId, request: Request, auth: Reader) -> dict[str, Any]:
    """The campaign's tasks day by day in its time zone, as the console's calendar draws them (any
    logged-in role)."""
    with app_session(request) as session:
        return campaign_agenda(session=session, campaign_id=campaign_id, now=datetime.now(UTC)).as_json()


@router.get(
    "/{campaign_id}/calendar.ics",
    responses={**ERRORS, 200: {"content": {"text/calendar": {}}, "description": "iCalendar file"}},
    response_class=Response,
)
def calendar_file_endpoint(campaign_id: CampaignId, request: Request, auth: Reader) -> Response:
    """The campaign's tasks as an iCalendar (.ics) file for the team's calendars (any logged-in role)."""
    with app_session(request) as session:
        data = campaign_calendar(session=session, campaign_id=campaign_id)
    return Response(
        data,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.ics"'},
    )


def _steps(request: Request, campaign_id: int) -> dict[str, Any]:
    services = services_of(request)
    with app_session(request) as session:
        return campaign_steps_report(
            session=session, workspace=services.settings.workspace, campaign_id=campaign_id
        )


@router.get("/{campaign_id}/steps", responses=ERRORS)
async def steps_endpoint(campaign_id: CampaignId, request: Request, auth: Reader) -> dict[str, Any]:
    """Per step: touched → reacted → converted and revenue, per script variant (reads every event, in a
    worker thread so other requests go on)."""
    return await run_in_threadpool(_steps, request, campaign_id)


@router.post("/{campaign_id}/report", status_code=202, responses=ERRORS)
def report_endpoint(campaign_id: CampaignId, request: Request, auth: Reader) -> dict[str, Any]:
    """Start making the campaign's report (the HTML page of ``sopflow report --campaign``) in the background.

    Any role may: a report reads. Answers 202 with the job; poll ``GET /api/v1/jobs/{id}`` and download the page
    from ``GET /api/v1/jobs/{id}/file`` once it is done. 404 for no such campaign."""
    job = submit_campaign_report(services=services_of(request), campaign_id=campaign_id, owner=auth.user.name)
    return job.as_json()


@router.post("", status_code=201, responses=ERRORS)
def start_endpoint(body: CampaignStart, request: Request, auth: CampaignStarter) -> dict[str, Any]:
    """Start a campaign from a playbook version: its tasks are created and assigned to the team
    (operators and admins: ``campaign.start``). With ``versus`` the other versions run side by side and
    every arm is listed under ``campaigns``; answers the (first) campaign with its tasks."""
    if body.split is not None and not body.versus:
        raise InvalidInput(
            _("split: weights are for versions side by side; give versus too"), code="invalid_split"
        )
    launched = LaunchRequest(
        playbook=body.playbook,
        start=body.start,
        tz=body.tz,
        name=body.name,
        assign=body.assign,
        notify=body.notify,
        send=body.send,
        max_late=_max_late(body.max_late),
        versus=list(body.versus),
        split=list(body.split) if body.split is not None else None,
        start_field="start",
    )
    with app_session(request) as session:
        campaigns = launch(session=session, request=launched, by=auth.user.name)
        session.flush()
        ids = [c.id for c in campaigns]
    shown = _shown(request, ids[0], tasks=True)
    if body.versus:
        with app_session(request) as session:
            shown["campaigns"] = [
                describe(session=session, campaign=get_campaign(session=session, campaign_id=i)).as_json()
                for i in ids
            ]
    return shown


@router.post("/{campaign_id}/pause", responses=ERRORS)
def pause_endpoint(campaign_id: CampaignId, request: Request, auth: CampaignChanger) -> dict[str, Any]:
    """Pause a running campaign: it stops delivering and its tasks keep their times (operators and admins:
    ``campaign.pause``); answers the campaign."""
    with app_session(request) as session:
        campaign = pause_campaign(session=session, campaign_id=campaign_id, by=auth.user.name)
        return {"campaign": describe(session=session, campaign=campaign).as_json()}


@router.post("/{campaign_id}/resume", responses=ERRORS)
def resume_endpoint(campaign_id: CampaignId, request: Request, auth: CampaignChanger) -> dict[str, Any]:
    """Resume a paused campaign; tasks whose time passed while it was paused become due now (operators and
    admins: ``campaign.pause``); answers the campaign."""
    with app_session(request) as session:
        campaign = resume_campaign(session=session, campaign_id=campaign_id, by=auth.user.name)
        return {"campaign": describe(session=session, campaign=campaign).as_json()}


@router.post("/{campaign_id}/cancel", responses=ERRORS)
def cancel_endpoint(
    campaign_id: CampaignId, request: Request, auth: CampaignChanger, body: CampaignCancel | None = None
) -> dict[str, Any]:
    """End a campaign for good: every open task ends skipped, with the optional ``why`` in its history and
    the audit log (operators and admins: ``campaign.pause``); 422 while one of its tasks is being sent."""
    why = body.why if body is not None else ""
    with app_session(request) as session:
        campaign = cancel_campaign(session=session, campaign_id=campaign_id, by=auth.user.name, why=why)
        return {"campaign": describe(session=session, campaign=campaign).as_json()}
