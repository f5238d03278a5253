"""``/api/v1/playbooks``: published playbook versions, publishing YAML text, approving a version, and what the
console's Playbooks section reads: validation without storing, the built-in templates, a version's YAML,
the diff of two versions, a version's schedule and estimate, and the workspace's approval setting.

Answers are the ``--json`` shapes of ``sopflow playbook list|versions|publish|approve|diff|plan``. A playbook
that does not validate answers 422 with every problem (``line``, ``col``, ``code``, ``message``, ``path``)
under ``error.problems``, so the console can point at the lines of its editor; ``POST /validate`` answers
200 with the same problems (and the CLI's ``file:line:col`` text of each) and stores nothing.

Routes with a literal second segment (``/templates/{name}``) are declared last, so a
playbook whose id is ``templates`` keeps its versions and diffs reachable.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sopflow.accounts.sessions import Authenticated
from sopflow.playbook.catalog import list_templates, template_path, template_text
from sopflow.playbook.problems import PlaybookInvalid
from sopflow.playbook.version_diff import diff_versions, frozen
from sopflow.playbook.versions import (
    MAX_NOTE_CHARS,
    approval_required,
    approve_version,
    list_playbooks,
    list_versions,
    parse_version_number,
    public,
    publish_text,
    set_approval_required,
    version_row,
)
from sopflow.web.api.console import ERRORS, PlaybookApprover, PlaybookWriter, Reader, app_session
from sopflow.web.api.playbook_views import (
    EDITOR_SOURCE,
    MAX_SIMULATIONS,
    estimate_json,
    schedule_json,
    validation,
)
from sopflow.web.auth import require
from sopflow.web.errors import native_body

router = APIRouter(prefix="/api/v1/playbooks", tags=["playbooks"])

# Problems name this as their file, so a message reads ``body.yaml:3:5: …`` like the body field at fault.
SOURCE = "body.yaml"
MAX_YAML_CHARS = 1_000_000


# Turning the approval requirement off lets any version run: a workspace setting, so an admin's.
SettingsManager = Annotated[Authenticated, Depends(require("settings.manage"))]


class Publish(BaseModel):
    yaml: str = Field(min_length=1, max_length=MAX_YAML_CHARS, description="The playbook, as YAML text")
    note: str = Field("", max_length=MAX_NOTE_CHARS, description="What changed in this version")


class Draft(BaseModel):
    yaml: str = Field(max_length=MAX_YAML_CHARS, description="The playbook being edited, as YAML text")


class ApprovalSetting(BaseModel):
    required: bool = Field(description="Whether campaigns may only start from approved versions")


@router.get("", responses=ERRORS)
def list_endpoint(request: Request, auth: Reader) -> dict[str, Any]:
    """Every published playbook with its name, number of versions, newest version and newest approved
    version (any logged-in role); as ``sopflow playbook list --json``."""
    with app_session(request) as session:
        return {"playbooks": [p.as_json() for p in list_playbooks(session=session)]}


@router.get("/{playbook_id}/versions", responses=ERRORS)
def versions_endpoint(playbook_id: str, request: Request, auth: Reader) -> dict[str, Any]:
    """Every published version of a playbook, oldest first, with who published and approved it (any
    logged-in role); as ``sopflow playbook versions --json``."""
    with app_session(request) as session:
        versions = list_versions(session=session, playbook_id=playbook_id)
    return {"versions": [v.as_json() for v in versions]}


@router.post("", status_code=201, response_model=None, responses=ERRORS)
def publish_endpoint(
    body: Publish, request: Request, response: Response, auth: PlaybookWriter
) -> dict[str, Any] | JSONResponse:
    """Validate YAML text and publish it as the playbook's next version (operators and admins:
    ``playbook.write``). 201 with the new version; 200 with ``created: false`` when the same text is already
    published; 422 ``playbook_invalid`` listing every problem, and nothing stored."""
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
    """Approve a version so campaigns may start from it (admins: ``playbook.approve``); answers the version
    and ``changed: false`` when it was already approved."""
    number = parse_version_number(version, what="version")
    with app_session(request) as session:
        result = approve_version(session=session, playbook_id=playbook_id, version=number, by=auth.user.name)
    return result.as_json()


@router.post("/validate", responses=ERRORS)
def validate_endpoint(body: Draft, auth: Reader) -> dict[str, Any]:
    """Check YAML text as ``sopflow playbook validate`` does; stores nothing (problems name playbook.yaml)."""
    return validation(body.yaml, source=EDITOR_SOURCE)[1]


@router.get("/approval", responses=ERRORS)
def approval_endpoint(request: Request, auth: Reader) -> dict[str, Any]:
    """Whether campaigns may only start from approved versions (``campaign.require_approval``; any
    logged-in role)."""
    with app_session(request) as session:
        return {"required": approval_required(session=session)}


@router.put("/approval", responses=ERRORS)
def set_approval_endpoint(body: ApprovalSetting, request: Request, auth: SettingsManager) -> dict[str, Any]:
    """Turn ``campaign.require_approval`` on or off (recorded in the audit log with before and after)."""
    with app_session(request) as session:
        before = set_approval_required(session=session, required=body.required, by=auth.user.name)
    return {"required": body.required, "before": before}


@router.get("/{playbook_id}/versions/{version}", responses=ERRORS)
def version_endpoint(playbook_id: str, version: str, request: Request, auth: Reader) -> dict[str, Any]:
    """One version with its YAML exactly as published."""
    number = parse_version_number(version, what="version")
    with app_session(request) as session:
        row = version_row(session=session, playbook_id=playbook_id, version=number)
        return {**public(row).as_json(), "yaml": row.content}


@router.get("/{playbook_id}/diff", responses=ERRORS)
def diff_endpoint(
    playbook_id: str,
    request: Request,
    auth: Reader,
    before: Annotated[str, Query(alias="from", max_length=20, description="The older version")],
    after: Annotated[str, Query(alias="to", max_length=20, description="The newer version")],
) -> dict[str, Any]:
    """The unified diff of two versions' YAML and the change of the plan's key numbers."""
    old = parse_version_number(before, what="from")
    new = parse_version_number(after, what="to")
    with app_session(request) as session:
        return diff_versions(session=session, playbook_id=playbook_id, before=old, after=new).as_json()


@router.get("/{playbook_id}/versions/{version}/schedule", responses=ERRORS)
def schedule_endpoint(playbook_id: str, version: str, request: Request, auth: Reader) -> dict[str, Any]:
    """Every step's time in seconds from D0 00:00 (the timeline the console draws as a Gantt chart)."""
    number = parse_version_number(version, what="version")
    with app_session(request) as session:
        playbook = frozen(version_row(session=session, playbook_id=playbook_id, version=number))
    return schedule_json(playbook)


@router.get("/{playbook_id}/versions/{version}/estimate", responses=ERRORS)
def estimate_endpoint(
    playbook_id: str,
    version: str,
    request: Request,
    auth: Reader,
    simulations: Annotated[
        int | None, Query(ge=1, le=MAX_SIMULATIONS, description="Monte Carlo runs for P10/P50/P90 bands")
    ] = None,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1, description="Random seed of the runs")] = 0,
) -> dict[str, Any]:
    """The estimate (测算) of a version, as ``sopflow playbook plan --json``."""
    number = parse_version_number(version, what="version")
    with app_session(request) as session:
        playbook = frozen(version_row(session=session, playbook_id=playbook_id, version=number))
    return estimate_json(playbook, simulations=simulations, seed=seed)


@router.get("/templates", responses=ERRORS)
def templates_endpoint(auth: Reader) -> dict[str, Any]:
    """The built-in playbook templates: name, title, summary and tags (any logged-in role)."""
    shown = ("name", "title", "summary", "tags")
    return {"templates": [{k: t.as_json()[k] for k in shown} for t in list_templates()]}


@router.get("/templates/{name}", responses=ERRORS)
def template_endpoint(name: str, auth: Reader) -> dict[str, Any]:
    """One built-in template's YAML, to start a playbook from (any logged-in role); 404 for an
    unknown name."""
    path = template_path(name)
    return {"name": path.stem, "yaml": template_text(path.stem)}
