"""``sopflow serve``: run the HTTP server (ingest API, REST API and the console) with uvicorn.

With ``--workers N`` uvicorn runs N processes, each building the app from the environment
(:func:`sopflow.web.app.app_from_environment`), so the options given here are handed down as
``SOPFLOW_*`` variables. The event store takes writers from several processes, so they share it safely.
The console's pages keep their state in the process that served them (its websocket must come back to
it), so they are served by a single-process server only; ``--workers N`` serves the APIs.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from sopflow.i18n import _, current_language
from sopflow.settings import ENV_PREFIX, Settings, load_settings
from sopflow.web.services import Services


def _announce(settings: Settings) -> None:
    typer.echo(
        _(
            "sopflow serving on http://{host}:{port} (workspace {path}); press Ctrl+C to stop.",
            host=settings.host,
            port=settings.port,
            path=settings.workspace.root,
        )
    )
    typer.echo(_("Send events to /api/v1/events or point a PostHog SDK at this address; API docs: /docs"))
    if settings.workers == 1:
        typer.echo(_("Console: http://{host}:{port}/", host=settings.host, port=settings.port))


def announce_bootstrap_admin(services: Services) -> None:
    """On a workspace without users, create the first admin and print its generated password, once."""
    from sopflow.accounts.bootstrap import bootstrap_admin

    with services.database.session() as session:
        created = bootstrap_admin(session=session)
    if created is not None:
        typer.echo(
            _(
                "First login: user {name}, password {password} (generated now and shown only once; change it "
                "with sopflow users reset-password {name})",
                name=created.user.name,
                password=created.password,
            )
        )


def serve(settings: Settings, services: Services) -> None:
    """Serve the APIs and the console in this process until Ctrl+C; closes ``services`` at the end."""
    import uvicorn

    from sopflow.web.app import create_app

    try:
        app = create_app(settings, services=services, console=True)
        _announce(settings)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
    finally:
        services.close()


def serve_command(
    host: str | None = typer.Option(None, "--host", help=_("Address to listen on (default 127.0.0.1)")),
    port: int | None = typer.Option(None, "--port", help=_("Port to listen on (default 8765)")),
    workers: int | None = typer.Option(None, "--workers", help=_("Server processes (default 1)")),
    workspace: Path | None = typer.Option(
        None, "--workspace", help=_("Workspace folder (default: $SOPFLOW_HOME, else ./sopflow-data)")
    ),
    config: Path | None = typer.Option(
        None, "--config", help=_("TOML config file (default: $SOPFLOW_CONFIG)")
    ),
) -> None:
    import uvicorn

    settings = load_settings(config_file=config, home=workspace, host=host, port=port, workers=workers)
    # Opened here even when workers open their own: a broken database or store fails now, with a message.
    services = Services.open(settings)
    announce_bootstrap_admin(services)
    if settings.workers > 1:
        services.close()
        os.environ[ENV_PREFIX + "HOME"] = str(settings.workspace.root)
        os.environ[ENV_PREFIX + "LANG"] = current_language()
        if config is not None:
            os.environ[ENV_PREFIX + "CONFIG"] = str(config.resolve())
        _announce(settings)
        typer.echo(_("The console needs a single-process server: run without --workers to use it."))
        uvicorn.run(
            "sopflow.web.app:app_from_environment",
            factory=True,
            workers=settings.workers,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
        )
        return
    serve(settings, services)
