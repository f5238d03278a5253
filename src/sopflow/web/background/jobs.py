"""Long work (imports, reports, big queries) off the request and off the console's event loop, with progress.

A small in-process runner: a thread pool and a table of job records in memory. A request or a page submits
the work and answers at once with the job's id; the browser polls ``GET /api/v1/jobs/{id}`` (or the page
reads :meth:`JobRunner.get`) for ``state``, ``done``/``total`` and, at the end, ``result`` or ``message``.

Why in memory and not in the app database: a job's progress changes many times a second and is worth
nothing after a restart (the import it reports on is all-or-nothing and durable by itself). The cost: with
``sopflow serve --workers N`` a job is known only to the worker process that runs it.

Jobs run with the submitter's language, so their messages read as the page or request that started them.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from sopflow.errors import NotFound, SopflowError
from sopflow.i18n import _, current_language, set_language

LOG = logging.getLogger("sopflow.jobs")
JobState = Literal["queued", "running", "done", "failed"]
FINISHED: frozenset[str] = frozenset({"done", "failed"})
KEEP_FINISHED = 500  # finished jobs kept for polling and lists; older ones are forgotten first


@dataclass(frozen=True)
class Job:
    """One job as it stands (a snapshot: the runner never hands out the record it updates)."""

    id: str
    kind: str
    owner: str
    title: str
    state: JobState = "queued"
    done: int = 0
    total: int = 0
    message: str = ""
    error_code: str | None = None
    result: dict[str, Any] | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def fraction(self) -> float:
        """How far along, 0 to 1 (1 once done, whatever the counts say)."""
        if self.state == "done":
            return 1.0
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "owner": self.owner,
            "title": self.title,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "fraction": round(self.fraction, 4),
            "message": self.message,
            "error_code": self.error_code,
            "result": self.result,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


class Progress:
    """Handed to the work: ``progress(done, total, message)`` updates the job's record."""

    def __init__(self, runner: JobRunner, job_id: str) -> None:
        self._runner = runner
        self._job_id = job_id

    def __call__(self, done: int, total: int, message: str | None = None) -> None:
        changes: dict[str, Any] = {"done": max(0, int(done)), "total": max(0, int(total))}
        if message is not None:
            changes["message"] = message
        self._runner._update(self._job_id, **changes)


Work = Callable[[Progress], dict[str, Any]]


class JobRunner:
    """Thread-safe; ``workers`` jobs run at once, the rest wait in order."""

    def __init__(self, *, workers: int = 2, keep: int = KEEP_FINISHED) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sopflow-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._keep = keep

    def submit(self, *, kind: str, owner: str, title: str, work: Work) -> Job:
        """Queue ``work``; it returns the job's result (JSON-able) or raises (a SopflowError's message is kept)."""
        job = Job(id=secrets.token_urlsafe(12), kind=kind, owner=owner, title=title)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        lang = current_language()
        self._pool.submit(self._run, job.id, work, lang)
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(_("no job {id!r}; jobs are kept until the server restarts", id=job_id))
        return job

    def list(self, *, owner: str | None = None) -> list[Job]:
        """Jobs newest first, only ``owner``'s when given."""
        with self._lock:
            jobs = list(self._jobs.values())
        mine = [j for j in jobs if owner is None or j.owner == owner]
        return sorted(mine, key=lambda j: j.created_at, reverse=True)

    def wait(self, job_id: str, timeout: float = 30.0) -> Job:
        """The job once finished (for tests and the CLI); raises TimeoutError past ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job.finished:
                return job
            time.sleep(0.02)
        raise TimeoutError(f"job {job_id} still {self.get(job_id).state}")

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                self._jobs[job_id] = replace(job, **changes)

    def _run(self, job_id: str, work: Work, lang: str) -> None:
        set_language(lang)
        self._update(job_id, state="running", started_at=datetime.now(UTC))
        try:
            result = work(Progress(self, job_id))
        except SopflowError as exc:
            self._update(
                job_id,
                state="failed",
                message=exc.message,
                error_code=exc.code,
                finished_at=datetime.now(UTC),
            )
        except Exception:  # a bug: logged with its traceback, shown as a short apology
            LOG.exception("job %s failed", job_id)
            self._update(
                job_id,
                state="failed",
                message=_("something went wrong on the server; it is logged. Try again."),
                error_code="internal",
                finished_at=datetime.now(UTC),
            )
        else:
            self._update(job_id, state="done", result=result, finished_at=datetime.now(UTC))

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.finished]
        if len(finished) <= self._keep:
            return
        finished.sort(key=lambda j: j.created_at)
        for job in finished[: len(finished) - self._keep]:
            del self._jobs[job.id]


_RUNNER: JobRunner | None = None
_RUNNER_LOCK = threading.Lock()


def job_runner() -> JobRunner:
    """This process's runner (the API and the console pages share it), started on first use."""
    global _RUNNER
    with _RUNNER_LOCK:
        if _RUNNER is None:
            _RUNNER = JobRunner()
        return _RUNNER


def visible_to(job: Job, *, user: str, role: str) -> bool:
    """A job's owner sees it, and admins see every job."""
    return job.owner == user or role == "admin"
