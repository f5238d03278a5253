"""``/api/v1/tasks``: the team's tasks (filtered like ``sopflow tasks``), one task with its history, the
changes people make: done, skip, confirm; and a task's audience, who to follow up.

Answers are the ``--json`` shapes of ``sopflow tasks``: ``{"tasks": [task, ...]}`` and ``{"task": task}``
(with its history). Each change is recorded in the task's history under the logged-in user's name.
``/audience`` answers ``{"task_id", "columns", "rows": [{column: value}]}`` (see
:data:`sopflow.campaign.followup.AUDIENCE_COLUMNS`); ``contact`` is masked for viewers, and every such
export is recorded in the audit log (who exported which list, how many rows).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from sopflow.accounts.audit import record_audit
from sopflow.accounts.roles import mask_contact
from sopflow.campaign.followup import AUDIENCE_COLUMNS, task_audience
from sopflow.campaign.lifecycle import TaskFilter, list_tasks
from sopflow.campaign.tasks import STATES, confirm_task, get_task, mark_done, skip_task
from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.web.api.console import ERRORS, MAX_ID, Reader, TaskId, TaskUpdater, app_session
from sopflow.web.auth import client_address

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])


class Done(BaseModel):
    note: str = Field("", max_length=2000, description="What was done, kept with the task")


class Skip(BaseModel):
    why: str = Field(min_length=1, max_length=2000, description="Why the task is skipped")


class Confirm(BaseModel):
    arrived: bool = Field(description="true: it arrived (sent); false: it did not (delivered again)")


def _one(session: Session, task_id: int) -> dict[str, Any]:
    task = get_task(session=session, task_id=task_id)
    found = list_tasks(session=session, where=TaskFilter(campaign_id=task.campaign_id), history=True)
    return {"task": next(t for t in found if t.id == task_id).as_json()}


@router.get("", responses=ERRORS)
def list_endpoint(
    request: Request,
    auth: Reader,
    mine: str | None = None,
    today: bool = False,
    campaign: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only this campaign's tasks")] = None,
    state: str | None = None,
    include_all: Annotated[bool, Query(alias="all")] = False,  # named as the CLI's --all
) -> dict[str, Any]:
    """``mine``: a staff member's name (their tasks only); ``all``: finished tasks too (default: open ones)."""
    if state is not None and state not in STATES:
        raise InvalidInput(
            _("state {value!r}: choose one of {choices}", value=state, choices=", ".join(STATES)),
            code="invalid_option",
        )
    where = TaskFilter(
        campaign_id=campaign,
        owner=mine or None,
        state=state,
        today=today,
        open_only=state is None and not include_all,
    )
    with app_session(request) as session:
        return {"tasks": [t.as_json() for t in list_tasks(session=session, where=where)]}


@router.get("/{task_id}", responses=ERRORS)
def show_endpoint(task_id: TaskId, request: Request, auth: Reader) -> dict[str, Any]:
    """One task with its history: every change, when, by whom and why (any logged-in role)."""
    with app_session(request) as session:
        return _one(session, task_id)


@router.get("/{task_id}/audience", responses=ERRORS)
def audience_endpoint(task_id: TaskId, request: Request, auth: Reader) -> dict[str, Any]:
    """Who the task reaches, one row per person, to follow up (any logged-in role; viewers see
    ``contact`` masked). Every export is recorded in the audit log."""
    viewer = auth.user.role == "viewer"
    with app_session(request) as session:
        rows = task_audience(session=session, task_id=task_id)
        record_audit(
            session=session,
            actor=auth.user.name,
            action="export",
            target_kind="list",
            target_id=f"task-{task_id}-audience",
            details={"rows": len(rows), "format": "json"},
            client=client_address(request),
        )
    if viewer:
        rows = [{**row, "contact": mask_contact(row["contact"])} for row in rows]
    return {"task_id": task_id, "columns": list(AUDIENCE_COLUMNS), "rows": rows}


@router.post("/{task_id}/done", responses=ERRORS)
def done_endpoint(
    task_id: TaskId, request: Request, auth: TaskUpdater, body: Done | None = None
) -> dict[str, Any]:
    """Mark the task done, with an optional note (operators and admins: ``task.update``); answers the task
    with its history."""
    with app_session(request) as session:
        note = body.note if body is not None else ""
        mark_done(session=session, task_id=task_id, by=auth.user.name, note=note, now=datetime.now(UTC))
        session.flush()
        return _one(session, task_id)


@router.post("/{task_id}/skip", responses=ERRORS)
def skip_endpoint(task_id: TaskId, body: Skip, request: Request, auth: TaskUpdater) -> dict[str, Any]:
    """Skip the task, saying why (operators and admins: ``task.update``); answers the task with its history."""
    with app_session(request) as session:
        skip_task(session=session, task_id=task_id, why=body.why, by=auth.user.name, now=datetime.now(UTC))
        session.flush()
        return _one(session, task_id)


@router.post("/{task_id}/confirm", responses=ERRORS)
def confirm_endpoint(task_id: TaskId, body: Confirm, request: Request, auth: TaskUpdater) -> dict[str, Any]:
    """Settle an ``uncertain`` task: ``arrived`` true marks it sent, false delivers it again (operators
    and admins: ``task.update``); answers the task with its history."""
    with app_session(request) as session:
        confirm_task(
            session=session, task_id=task_id, arrived=body.arrived, by=auth.user.name, now=datetime.now(UTC)
        )
        session.flush()
        return _one(session, task_id)
