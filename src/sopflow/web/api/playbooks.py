"""``/api/v1/playbooks``: published playbook versions, publishing YAML text, approving a version.

Answers are the ``--json`` shapes of ``sopflow playbook list|versions|publish|approve``. A playbook that does
not validate answers 422 with every problem (``line``, ``col``, ``code``, ``message``, ``path``) under
``error.problems``, so the console can point at the lines of its editor.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sopflow.playbook.problems import PlaybookInvalid
from sopflow.playbook.versions import (
    MAX_NOTE_CHARS,
    approve_version,
    list_playbooks,
    list_versions,
    parse_version_number,
    publish_text,
)
from sopflow.web.api.console import ERRORS, PlaybookApprover, PlaybookWriter, Reader, app_session
from sopflow.web.errors import native_body

router = APIRouter(prefix="/api/v1/playbooks", tags=["playbooks"])

# Problems name this as their file, so a message reads ``body.yaml:3:5: …`` like the body field at fault.
SOURCE = "body.yaml"
MAX_YAML_CHARS = 1_000_000


class Publish(BaseModel):
    yaml: str = Field(min_length=1, max_length=MAX_YAML_CHARS, description="The playbook, as YAML text")
    note: str = Field("", max_length=MAX_NOTE_CHARS, description="What changed in this version")


@router.get("", responses=ERRORS)
def list_endpoint(request: Request, auth: Reader) -> dict[str, Any]:
    with app_session(request) as session:
        return {"playbooks": [p.as_json() for p in list_playbooks(session=session)]}


@router.get("/{playbook_id}/versions", responses=ERRORS)
def versions_endpoint(playbook_id: str, request: Request, auth: Reader) -> dict[str, Any]:
    with app_session(request) as session:
        versions = list_versions(session=session, playbook_id=playbook_id)
    return {"versions": [v.as_json() for v in versions]}


@router.post("", status_code=201, response_model=None, responses=ERRORS)
def publish_endpoint(
    body: Publish, request: Request, response: Response, auth: PlaybookWriter
) -> dict[str, Any] | JSONResponse:
    try:
        with app_session(request) as session:
            result = publish_text(
                session=session, text=body.yaml, source=SOURCE, note=body.note, by=auth.user.name
            )
    except PlaybookInvalid as exc:
        error = native_body(exc.code, exc.message, "body.yaml")
        error["error"]["problems"] = [
            {key: p.as_json()[key] for key in ("line", "col", "code", "message", "path")}
            for p in exc.problems
        ]
        return JSONResponse(error, status_code=exc.http_status)
    if not result.created:
        response.status_code = 200  # the same text was already published: nothing new was stored
    return result.as_json()


@router.post("/{playbook_id}/versions/{version}/approve", responses=ERRORS)
def approve_endpoint(
    playbook_id: str, version: str, request: Request, auth: PlaybookApprover
) -> dict[str, Any]:
    number = parse_version_number(version, what="version")
    with app_session(request) as session:
        result = approve_version(session=session, playbook_id=playbook_id, version=number, by=auth.user.name)
    return result.as_json()
