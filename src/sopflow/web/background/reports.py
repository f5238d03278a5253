"""The campaign report (one self-contained HTML page, as ``sopflow report --campaign``) as a background job.

At 10M events the report takes seconds to tens of seconds: the request or the page submits it and answers at
once; the job writes the page into the workspace's ``reports`` folder and its result names the file, which
its owner (or an admin) downloads from ``GET /api/v1/jobs/{id}/file``.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sopflow.analytics.report import write_report
from sopflow.analytics.targets.campaign_steps import load_campaign_run
from sopflow.analytics.timerange import TimeRange
from sopflow.errors import NotFound
from sopflow.i18n import _
from sopflow.web.analytics.engines import ENGINES
from sopflow.web.background.jobs import Job, JobRunner, Progress, job_runner
from sopflow.web.services import Services

REPORTS_FOLDER = "reports"
STEPS = 3


def reports_folder(services: Services) -> Path:
    return services.settings.workspace.root / REPORTS_FOLDER


def submit_campaign_report(
    *, services: Services, campaign_id: int, owner: str, runner: JobRunner | None = None
) -> Job:
    """Queue the report of ``campaign_id`` over all its events; :class:`NotFound` at once for no such campaign."""
    with services.database.session() as session:
        run = load_campaign_run(session=session, campaign_id=campaign_id)

    def work(progress: Progress) -> dict[str, Any]:
        progress(0, STEPS, _("opening the events"))
        zone = ZoneInfo(run.timezone)
        folder = reports_folder(services)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"campaign-{campaign_id}-{secrets.token_hex(4)}.html"
        # The server's kept engine: the events it has already read are not read again for the report.
        with ENGINES.engine(services.settings.workspace) as engine:
            progress(1, STEPS, _("computing the funnel, AARRR, retention, referral, ROI and targets"))
            write_report(
                engine=engine,
                playbook=run.playbook,
                time_range=TimeRange(None, None, zone),
                out=folder / name,
                campaign=run,
            )
        progress(STEPS, STEPS, _("the report is ready"))
        return {"campaign_id": campaign_id, "file": name, "download": f"report-campaign-{campaign_id}.html"}

    return (runner or job_runner()).submit(
        kind="report", owner=owner, title=_("report of campaign {name}", name=run.name), work=work
    )


def report_file(services: Services, job: Job) -> tuple[Path, str]:
    """The file a finished report job wrote and the name to download it as; :class:`NotFound` otherwise."""
    result = job.result or {}
    name = result.get("file")
    if job.kind != "report" or job.state != "done" or not isinstance(name, str):
        raise NotFound(_("job {id!r} has no report to download (yet)", id=job.id), code="no_file")
    path = reports_folder(services) / Path(name).name
    if not path.is_file():
        raise NotFound(_("the report file is gone; make the report again"), code="no_file")
    return path, str(result.get("download") or path.name)
