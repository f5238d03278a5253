"""The campaign report as a background job: started by any role, its progress polled, the page downloaded by
its owner (or an admin) once done; nobody else sees it."""

from __future__ import annotations

import time
from typing import Any

from sopflow.web.background.jobs import job_runner

from .console_api import Console, assert_error, console
from .test_campaigns_console_api import _ready

__all__ = ["console"]


def _finished(c: Console, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = c.ok(c.get(f"/api/v1/jobs/{job_id}"))
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_a_viewer_makes_the_report_and_downloads_it(console: Console) -> None:
    c = console
    campaign_id = _ready(c)
    c.login("guest")
    started = c.ok(c.post(f"/api/v1/campaigns/{campaign_id}/report"), 202)
    assert started["kind"] == "report" and started["owner"] == "guest"
    job = _finished(c, started["id"])
    assert job["state"] == "done", job
    assert job["done"] == job["total"] == 3
    page = c.get(f"/api/v1/jobs/{job['id']}/file")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f'filename="report-campaign-{campaign_id}.html"' in page.headers["content-disposition"]
    assert "<html" in page.text and "course" in page.text
    # Another operator does not see the job; an admin does.
    c.login("op")
    assert_error(c.get(f"/api/v1/jobs/{job['id']}/file"), 404, "not_found")
    c.login("boss")
    assert c.get(f"/api/v1/jobs/{job['id']}/file").status_code == 200


def test_no_report_for_an_unknown_campaign_and_no_file_before_the_end(console: Console) -> None:
    c = console
    c.login("op")
    assert_error(c.post("/api/v1/campaigns/999/report"), 404, "unknown_campaign")
    # A job of another kind has no file to download.
    job = job_runner().submit(
        kind="events.import", owner="op", title="t", work=lambda progress: {"file": "x"}
    )
    job_runner().wait(job.id)
    assert_error(c.get(f"/api/v1/jobs/{job.id}/file"), 404, "no_file")
