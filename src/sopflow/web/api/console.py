"""What the console routers share: the role dependencies, the documented error answers, the bounded ids of
path parameters, the app session.

Every write names the logged-in user as ``by``, so the task history and the audit log say who did it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from sopflow.accounts.sessions import Authenticated
from sopflow.web.auth import require, services_of

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": 'Error: {"error": {"code", "message", "field"?}}'}
    for status in (401, 403, 404, 409, 422)
}
# One alias per action (see sopflow.accounts.roles.ACTIONS): viewers read, operators and admins write.
Reader = Annotated[Authenticated, Depends(require("read"))]
PlaybookWriter = Annotated[Authenticated, Depends(require("playbook.write"))]
PlaybookApprover = Annotated[Authenticated, Depends(require("playbook.approve"))]
StaffManager = Annotated[Authenticated, Depends(require("staff.manage"))]
CampaignStarter = Annotated[Authenticated, Depends(require("campaign.start"))]
CampaignChanger = Annotated[Authenticated, Depends(require("campaign.pause"))]
TaskUpdater = Annotated[Authenticated, Depends(require("task.update"))]

# Ids are ``integer`` columns, 32-bit on PostgreSQL: past 2**31 - 1 the database itself refuses to compare
# (SQLite only at 2**63), and no id below 1 is ever given. Bounding the parameter states the range in the spec
# and answers 422 ``invalid_input`` naming the parameter before any query runs.
MAX_ID = 2**31 - 1
CampaignId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="The campaign's id, as listed by GET /api/v1/campaigns")
]
TaskId = Annotated[int, Path(ge=1, le=MAX_ID, description="The task's id, as listed by GET /api/v1/tasks")]


@contextmanager
def app_session(request: Request) -> Iterator[Session]:
    """One transaction on the app database: committed when the block ends, rolled back on an error."""
    with services_of(request).database.session() as session:
        yield session
