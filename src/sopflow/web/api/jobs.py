"""``/api/v1/jobs``: long work running in the background (imports, reports, big queries) and its progress.

A job is seen by the user who started it and by admins; to anyone else it does not exist (404, not 403, so
job ids cannot be probed). Poll ``GET /api/v1/jobs/{id}`` until ``state`` is ``done`` or ``failed``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from sopflow.accounts.sessions import Authenticated
from sopflow.errors import NotFound
from sopflow.i18n import _
from sopflow.web.api.console import ERRORS, Reader
from sopflow.web.auth import services_of
from sopflow.web.background.jobs import Job, job_runner, visible_to
from sopflow.web.background.reports import report_file

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


class JobOut(BaseModel):
    id: str
    kind: str
    owner: str
    title: str
    state: Literal["queued", "running", "done", "failed"]
    done: int
    total: int
    fraction: float
    message: str
    error_code: str | None
    result: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobList(BaseModel):
    jobs: list[JobOut]


def job_out(job: Job) -> JobOut:
    return JobOut(**job.as_json())


@router.get("", response_model=JobList, responses=ERRORS)
def list_jobs(auth: Reader) -> JobList:
    """My jobs, newest first (an admin's list is theirs too: ask for another's job by id)."""
    return JobList(jobs=[job_out(job) for job in job_runner().list(owner=auth.user.name)])


def _visible_job(auth: Authenticated, job_id: str) -> Job:
    job = job_runner().get(job_id)
    if not visible_to(job, user=auth.user.name, role=auth.user.role):
        raise NotFound(_("no job {id!r}; jobs are kept until the server restarts", id=job_id))
    return job


@router.get("/{job_id}", response_model=JobOut, responses=ERRORS)
def get_job(auth: Reader, job_id: str = Path(max_length=64)) -> JobOut:
    """One background job and its progress (its owner or an admin; 404 to anyone else)."""
    return job_out(_visible_job(auth, job_id))


@router.get(
    "/{job_id}/file",
    response_class=FileResponse,
    responses={**ERRORS, 200: {"content": {"text/html": {}}, "description": "The file the job wrote"}},
)
def get_job_file(request: Request, auth: Reader, job_id: str = Path(max_length=64)) -> FileResponse:
    """The file a finished report job wrote, as a download (its owner or an admin; 404 until it is done)."""
    path, name = report_file(services_of(request), _visible_job(auth, job_id))
    return FileResponse(path, media_type="text/html; charset=utf-8", filename=name)
