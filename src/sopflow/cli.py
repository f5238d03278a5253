"""The ``sopflow`` command: a thin layer that parses, calls the library and prints.

``--lang`` is read before the commands are built, so help texts and messages share one language.
Library errors (:class:`SopflowError`) become a clean message and their exit code here, at the edge.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

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


def build_app() -> typer.Typer:
    from sopflow.demo import demo_command
    from sopflow.playbook.commands import app as playbook_app

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

    app.add_typer(playbook_app, name="playbook", help=_("Write, check, estimate and render SOP playbooks."))
    app.command(
        "demo", help=_("Build a demo workspace from a built-in playbook and show what sopflow does.")
    )(demo_command)
    from sopflow.store.commands import app as keys_app
    from sopflow.web.commands import serve_command

    app.command("serve", help=_("Run the HTTP server: event ingest API (native and PostHog-compatible)."))(
        serve_command
    )
    app.add_typer(keys_app, name="keys", help=_("Create, list and revoke API keys for sending events."))
    from sopflow.simulate.commands import simulate_command, simulate_help

    app.command("simulate", help=simulate_help())(simulate_command)
    from sopflow.events.commands import app as events_app

    app.add_typer(events_app, name="events", help=_("Import, inspect, export and compact the event store."))
    return app


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
    app = build_app()
    try:
        app(args=args, prog_name="sopflow", standalone_mode=True)
    except SopflowError as exc:
        typer.echo(exc.message, err=True)
        raise SystemExit(exc.exit_code) from None
