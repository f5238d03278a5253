"""``/api/v1/event-uploads`` and ``/api/v1/events/recent``: event files uploaded from the console, and the
live tail of incoming events.

An upload is three steps (see :mod:`sopflow.web.background.uploads`):

1. ``POST /api/v1/event-uploads`` (multipart ``file``): the file is kept and previewed — its columns, a few
   rows, and the suggested event field for each column. A file that is not a CSV or Excel table: 422
   ``not_a_table``, nothing kept.
2. ``POST /api/v1/event-uploads/{id}/import`` with ``{"mapping": {column: field}}`` (``""`` keeps the column
   as a property, ``"-"`` drops it): the mapping is checked at once (422 ``invalid_mapping`` naming the
   column), then the import runs as a background job; poll ``GET /api/v1/jobs/{job}`` for its progress.
3. ``GET /api/v1/event-uploads/{id}/rejects.csv``: the rows that were refused, with row number and reason.

Uploads and imports need ``events.import`` (operators and admins); an upload is seen by its owner and admins.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from sopflow.accounts.roles import mask_contact
from sopflow.accounts.sessions import Authenticated
from sopflow.web.api.console import ERRORS, Reader, app_session
from sopflow.web.api.jobs import JobOut, job_out
from sopflow.web.auth import require, services_of
from sopflow.web.background.jobs import job_runner
from sopflow.web.background.live import MAX_CURSOR_CHARS, MAX_LIMIT, recent_events
from sopflow.web.background.uploads import get_upload, preview_upload, rejects_csv, stage_upload, start_import
from sopflow.workspace_timezone import workspace_timezone

router = APIRouter(tags=["events"])
Importer = Annotated[Authenticated, Depends(require("events.import"))]
UploadId = Annotated[str, Path(max_length=40)]
MASKED_FIELDS = ("user_id", "inviter_id")


class UploadPreview(BaseModel):
    upload: str
    filename: str
    format: str
    encoding: str | None
    size: int
    columns: list[str]
    rows: list[dict[str, str]] = Field(description="The first few rows, by column")
    mapping: dict[str, str] = Field(description='Suggested field per column ("" keeps it as a property)')
    fields: list[str] = Field(description="The event fields a column may feed")
    required: list[str]


class ImportRequest(BaseModel):
    mapping: dict[Annotated[str, Field(max_length=300)], Annotated[str, Field(max_length=40)]] = Field(
        default_factory=dict,
        max_length=500,
        description='column → field, "" (keep as a property) or "-" (drop); columns left out get the suggestion',
    )


class LiveEventsOut(BaseModel):
    events: list[dict[str, str | None]]
    cursor: str = Field(description="Pass it back as ?after= to get only what arrived since")
    more: bool = Field(description="More events arrived than the limit; the older ones were left out")


@router.post("/api/v1/event-uploads", response_model=UploadPreview, status_code=201, responses=ERRORS)
def upload(request: Request, auth: Importer, file: UploadFile = File(...)) -> UploadPreview:
    """Keep an uploaded CSV or Excel file and preview it: columns, first rows, the suggested event field
    of each column (operators and admins: ``events.import``); 422 ``not_a_table`` and nothing kept otherwise."""
    staged = stage_upload(
        workspace=services_of(request).settings.workspace,
        owner=auth.user.name,
        filename=file.filename or "upload",
        data=file.file,
    )
    return UploadPreview(**preview_upload(staged))


@router.get("/api/v1/event-uploads/{upload_id}", response_model=UploadPreview, responses=ERRORS)
def preview(upload_id: UploadId, request: Request, auth: Importer) -> UploadPreview:
    """The preview of an upload again (its owner or an admin, ``events.import``; 404 to anyone else)."""
    staged = get_upload(
        workspace=services_of(request).settings.workspace,
        upload_id=upload_id,
        user=auth.user.name,
        role=auth.user.role,
    )
    return UploadPreview(**preview_upload(staged))


@router.post(
    "/api/v1/event-uploads/{upload_id}/import", response_model=JobOut, status_code=202, responses=ERRORS
)
def start(upload_id: UploadId, body: ImportRequest, request: Request, auth: Importer) -> JobOut:
    """Check the column mapping and import the upload as a background job (its owner or an admin,
    ``events.import``); 202 with the job to poll at ``GET /api/v1/jobs/{id}``."""
    services = services_of(request)
    staged = get_upload(
        workspace=services.settings.workspace, upload_id=upload_id, user=auth.user.name, role=auth.user.role
    )
    with app_session(request) as session:
        timezone = workspace_timezone(session=session, default=services.settings.timezone)
    job = start_import(
        runner=job_runner(),
        store=services.store,
        upload=staged,
        owner=auth.user.name,
        mapping=body.mapping,
        timezone=timezone,
    )
    return job_out(job)


@router.get(
    "/api/v1/event-uploads/{upload_id}/rejects.csv",
    response_class=Response,
    responses={**ERRORS, 200: {"content": {"text/csv": {}}, "description": "The rejected rows"}},
)
def rejects(upload_id: UploadId, request: Request, auth: Importer) -> Response:
    """The rows the import refused, as CSV with row number and reason (its owner or an admin,
    ``events.import``); 404 ``no_rejects`` before an import."""
    staged = get_upload(
        workspace=services_of(request).settings.workspace,
        upload_id=upload_id,
        user=auth.user.name,
        role=auth.user.role,
    )
    return Response(
        rejects_csv(staged),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="rejects-{staged.id}.csv"'},
    )


@router.get("/api/v1/events/recent", response_model=LiveEventsOut, responses=ERRORS)
def recent(
    request: Request,
    auth: Reader,
    after: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> LiveEventsOut:
    """The newest incoming events (latest first); poll with ``after`` = the previous answer's ``cursor``.
    Viewers see user and inviter ids masked."""
    live = recent_events(services_of(request).store, after=after, limit=limit)
    events = live.events
    if auth.user.role == "viewer":
        events = [
            {k: mask_contact(v) if k in MASKED_FIELDS and v else v for k, v in row.items()} for row in events
        ]
    return LiveEventsOut(events=events, cursor=live.cursor, more=live.more)
