"""``sopflow worker``: deliver due tasks to their endpoints until stopped (or once, with ``--once``).

The coordinator registers :func:`worker_command` as ``sopflow worker``. ``--json`` prints, at the end, the
stable shape ``{"worker", "counts": {"passes", "promoted", "sent", "retried", "queued", "failed", "missed",
"skipped", "uncertain", "resent", "capped", "overdue", "escalated", "touched"}, "notices": [{"task_id",
"campaign_id", "step", "state", "reason"}]}``; without it each missed, failed, skipped or uncertain task is
printed as it happens, and a summary at the end. SIGTERM and Ctrl-C stop it after the current batch.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import typer

from sopflow.campaign.worker import Notice, WorkerOptions, run_worker
from sopflow.errors import SopflowError
from sopflow.i18n import _
from sopflow.settings import load_settings
from sopflow.store.database import open_app_database

WORKSPACE_HELP = _("Workspace folder (default: $SOPFLOW_HOME, else ./sopflow-data)")


def worker_help() -> str:
    """The command's help, in the current language (for ``app.command("worker", help=worker_help())``)."""
    return _("Deliver due tasks: reminders with the rendered script and materials to each owner's endpoint.")


def _print_notice(notice: Notice) -> None:
    typer.echo(
        _(
            "task {id} ({step}, campaign {campaign}) {state}: {reason}",
            id=notice.task_id,
            step=notice.step,
            campaign=notice.campaign_id,
            state=notice.state,
            reason=notice.reason,
        ),
        err=True,
    )


def worker_command(
    once: bool = typer.Option(False, "--once", help=_("Deliver what is due now, then exit")),
    concurrency: int = typer.Option(
        4, "--concurrency", min=1, max=64, help=_("Requests sent at the same time by this worker")
    ),
    lease: float = typer.Option(
        60.0,
        "--lease",
        min=1.0,
        help=_("Seconds a claimed task stays this worker's; after that another worker recovers it"),
    ),
    workspace: Path | None = typer.Option(None, "--workspace", help=WORKSPACE_HELP),
    as_json: bool = typer.Option(False, "--json", help=_("Print a machine-readable result")),
) -> None:
    """Deliver due tasks: reminders with the rendered script and materials to each owner's endpoint."""
    settings = load_settings(home=workspace)
    database = open_app_database(settings)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_args: stop.set())
    options = WorkerOptions(
        once=once, concurrency=concurrency, lease_seconds=lease, request_timeout=min(10.0, lease / 3)
    )
    try:
        report = run_worker(
            database=database,
            workspace=settings.workspace,
            options=options,
            stop=stop,
            listener=None if as_json else _print_notice,
        )
    finally:
        database.close()
    if as_json:
        typer.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
        return
    c = report.counts
    typer.echo(
        _(
            "Worker {worker}: {sent} sent, {retried} to retry, {queued} queued for a rate limit, {failed} failed, "
            "{missed} missed, {skipped} skipped, {uncertain} uncertain, {escalated} escalation(s), "
            "{touched} touch(es) recorded.",
            worker=report.worker,
            sent=c["sent"],
            retried=c["retried"],
            queued=c["queued"],
            failed=c["failed"],
            missed=c["missed"],
            skipped=c["skipped"],
            uncertain=c["uncertain"],
            escalated=c["escalated"],
            touched=c["touched"],
        )
    )


def main() -> None:
    """``python -m sopflow.campaign.worker_command``: the command on its own (tests, benchmarks)."""
    try:
        typer.run(worker_command)
    except SopflowError as exc:  # typer.run lets it through: show it as the CLI does, without a traceback
        typer.echo(exc.message, err=True)
        raise SystemExit(exc.exit_code) from None


if __name__ == "__main__":
    main()
