"""The ``sopflow`` command: a thin layer that parses, calls the library and prints.

``--lang`` is read before the commands are built, so help texts and messages share one language.
Library errors (:class:`SopflowError`) become a clean message and their exit code here, at the edge.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Callable, Sequence

import typer

from sopflow.errors import SopflowError
from sopflow.i18n import LANGUAGES, _, set_language


def _pop_lang(argv: list[str]) -> tuple[str | None, list[str]]:
    lang, rest, i = None, [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--lang" and i + 1 < len(argv):
            lang, i = argv[i + 1], i + 2
            continue
        if arg.startswith("--lang="):
            lang = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return lang, rest


def _playbook(app: typer.Typer) -> None:
    from sopflow.playbook.commands import app as playbook_app

    app.add_typer(playbook_app, name="playbook", help=_("Write, check, estimate and render SOP playbooks."))


def _demo(app: typer.Typer) -> None:
    from sopflow.demo import demo_command

    app.command(
        "demo", help=_("Build a demo workspace from a built-in playbook and show what sopflow does.")
    )(demo_command)


def _serve(app: typer.Typer) -> None:
    from sopflow.web.commands import serve_command

    app.command("serve", help=_("Run the HTTP server: event ingest API (native and PostHog-compatible)."))(
        serve_command
    )


def _keys(app: typer.Typer) -> None:
    from sopflow.store.commands import app as keys_app

    app.add_typer(keys_app, name="keys", help=_("Create, list and revoke API keys for sending events."))


def _simulate(app: typer.Typer) -> None:
    from sopflow.simulate.commands import simulate_command, simulate_help

    app.command("simulate", help=simulate_help())(simulate_command)


def _events(app: typer.Typer) -> None:
    from sopflow.events.commands import app as events_app

    app.add_typer(events_app, name="events", help=_("Import, inspect, export and compact the event store."))


def _funnel(app: typer.Typer) -> None:
    from sopflow.analytics.funnel.commands import funnel_command

    app.command(
        "funnel", help=_("Persons reaching each step of a funnel, by breakdown, trend and drop-off.")
    )(funnel_command)


def _aarrr(app: typer.Typer) -> None:
    from sopflow.analytics.aarrr.commands import aarrr_command

    app.command("aarrr", help=_("The five AARRR stages from the playbook funnel's tags, per channel."))(
        aarrr_command
    )


def _roi(app: typer.Typer) -> None:
    from sopflow.analytics.roi.commands import roi_command

    app.command("roi", help=_("Revenue, cost, ROI, CAC and payback per channel, against the plan."))(
        roi_command
    )


def _targets(app: typer.Typer) -> None:
    from sopflow.analytics.targets.commands import targets_command

    app.command("targets", help=_("Every target of the playbook: expected, actual, gap, status, findings."))(
        targets_command
    )


def _retention(app: typer.Typer) -> None:
    from sopflow.analytics.retention.commands import retention_command, retention_help

    app.command("retention", help=retention_help())(retention_command)


def _referral(app: typer.Typer) -> None:
    from sopflow.analytics.referral.commands import referral_command, referral_help

    app.command("referral", help=referral_help())(referral_command)


def _report(app: typer.Typer) -> None:
    from sopflow.analytics.report.commands import report_command, report_help

    app.command("report", help=report_help())(report_command)


def _experiment(app: typer.Typer) -> None:
    from sopflow.analytics.experiments.commands import app as experiment_app
    from sopflow.analytics.experiments.commands import experiment_help

    app.add_typer(experiment_app, name="experiment", help=experiment_help())


def _endpoints(app: typer.Typer) -> None:
    from sopflow.channels.commands import app as endpoints_app

    app.add_typer(
        endpoints_app,
        name="endpoints",
        help=_("Add, list, test and remove delivery endpoints (robots, email, webhooks)."),
    )


def _wecom(app: typer.Typer) -> None:
    from sopflow.wecom.commands import app as wecom_app

    app.add_typer(
        wecom_app, name="wecom", help=_("WeCom (企业微信): settings, QR-code states and channel QR codes.")
    )


def _campaign(app: typer.Typer) -> None:
    from sopflow.campaign.commands import app as campaign_app

    app.add_typer(
        campaign_app,
        name="campaign",
        help=_("Start, follow, pause and cancel campaigns (runs of a playbook)."),
    )


def _tasks(app: typer.Typer) -> None:
    from sopflow.campaign.task_commands import app as tasks_app

    app.add_typer(
        tasks_app, name="tasks", help=_("The team's tasks: list, show, done, skip, confirm, audience.")
    )


def _staff(app: typer.Typer) -> None:
    from sopflow.campaign.staff_commands import app as staff_app

    app.add_typer(staff_app, name="staff", help=_("The team: who owns which role, and their managers."))


def _worker(app: typer.Typer) -> None:
    from sopflow.campaign.worker_command import worker_command

    app.command("worker", help=_("Deliver due tasks: reminders and messages, exactly once, with retries."))(
        worker_command
    )


def _users(app: typer.Typer) -> None:
    from sopflow.accounts.commands import app as users_app
    from sopflow.accounts.commands import users_help

    app.add_typer(users_app, name="users", help=users_help())


def _audit(app: typer.Typer) -> None:
    from sopflow.accounts.commands import audit_command, audit_help

    app.command("audit", help=audit_help())(audit_command)


# Each top-level command registers itself; a run imports only the one it needs, since importing all
# of them (FastAPI, SQLAlchemy, DuckDB…) costs more than a second of start-up.
COMMANDS: dict[str, Callable[[typer.Typer], None]] = {
    "playbook": _playbook,
    "events": _events,
    "simulate": _simulate,
    "serve": _serve,
    "keys": _keys,
    "demo": _demo,
    "funnel": _funnel,
    "aarrr": _aarrr,
    "roi": _roi,
    "targets": _targets,
    "retention": _retention,
    "referral": _referral,
    "report": _report,
    "experiment": _experiment,
    "wecom": _wecom,
    "endpoints": _endpoints,
    "campaign": _campaign,
    "tasks": _tasks,
    "staff": _staff,
    "worker": _worker,
    "users": _users,
    "audit": _audit,
}


def build_app(only: str | None = None) -> typer.Typer:
    """The CLI with every command, or with just ``only`` (a top-level command name) registered."""
    app = typer.Typer(
        name="sopflow",
        help=_("Write a growth campaign as an SOP playbook, run it with the team, and measure every step."),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )

    @app.callback()
    def root(
        lang: str = typer.Option(
            "",
            "--lang",
            help=_(
                "Language of messages: {choices} (default: from the environment, else zh_CN)",
                choices=", ".join(LANGUAGES),
            ),
        ),
    ) -> None:
        """sopflow."""

    for name, register in COMMANDS.items():
        if only is None or name == only:
            register(app)
    return app


# Command groups that never use pandas. When pandas is installed (Spark needs it), pyarrow imports it on
# its first conversion of Python or NumPy values, which costs about 0.45 s: a fifth of importing a
# million CSV rows. In a process of its own (the console script), such a command tells pyarrow there is none.
WITHOUT_PANDAS = frozenset({"events"})


class _NoPandas(importlib.abc.MetaPathFinder):
    """Answers ``import pandas`` with ModuleNotFoundError, as if it were not installed."""

    def find_spec(self, name: str, path: Sequence[str] | None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def _without_pandas() -> None:
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _NoPandas())


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    lang, args = _pop_lang(args)
    try:
        set_language(lang)
    except ValueError:
        typer.echo(
            _(
                "unsupported language {lang!r}; choose one of {choices}",
                lang=lang,
                choices=", ".join(LANGUAGES),
            ),
            err=True,
        )
        raise SystemExit(2) from None
    first = next((arg for arg in args if not arg.startswith("-")), None)
    if argv is None and first in WITHOUT_PANDAS:
        _without_pandas()
    app = build_app(first if first in COMMANDS else None)
    try:
        app(args=args, prog_name="sopflow", standalone_mode=True)
    except SopflowError as exc:
        typer.echo(exc.message, err=True)
        raise SystemExit(exc.exit_code) from None
