"""``sopflow events import|stats|export|compact``: the file ways in and out of the event store.

JSON shapes (``--json``) are documented on :meth:`ImportReport.as_json` (import),
:meth:`StoreStats.as_json` (stats) and in the export/compact commands below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from sopflow.analytics.options import echo_json, parse_tz, workspace_option
from sopflow.errors import InvalidInput
from sopflow.events.headers import parse_map_options
from sopflow.events.importer import ImportReport, import_files
from sopflow.events.readers import FORMATS
from sopflow.events.store import EventStore
from sopflow.i18n import _
from sopflow.workspace import Workspace

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

DEFAULT_TZ = "Asia/Shanghai"
PROGRESS_FROM_BYTES = 16 << 20
SHOWN_REJECTS = 10


def _tz_option() -> Any:
    return typer.Option(DEFAULT_TZ, "--tz", help=_("Time zone of timestamps without an offset (IANA name)"))


@app.command("import", help=_("Import events from CSV, Excel (.xlsx), JSON lines or Parquet files."))
def import_command(
    files: list[Path] = typer.Argument(..., help=_("Event files (or Parquet dataset folders)")),
    fmt: str = typer.Option("auto", "--format", help=_("File format: {choices}", choices="|".join(FORMATS))),
    maps: list[str] = typer.Option(
        [], "--map", help=_("Map a source column: 源列=target (target - drops it)")
    ),
    tz: str = _tz_option(),
    rejects: Path | None = typer.Option(
        None, "--rejects", help=_("Write rejected rows (row, reason) to this CSV")
    ),
    strict: bool = typer.Option(False, "--strict", help=_("Import nothing if any row is invalid")),
    encoding: str | None = typer.Option(
        None, "--encoding", help=_("CSV text encoding (default: UTF-8, else GBK)")
    ),
    no_compact: bool = typer.Option(
        False, "--no-compact", help=_("Leave the rows in the log; compact later")
    ),
    as_json: bool = typer.Option(False, "--json", help=_("Print a machine-readable report")),
    workspace: Path | None = workspace_option(),
) -> None:
    zone = parse_tz(tz)
    user_map = parse_map_options(maps)
    err = Console(stderr=True, highlight=False, markup=False)
    with EventStore.open(Workspace.resolve(workspace)) as store, _progress(err, files) as bar:
        task = bar.add_task(_("importing"), total=None) if bar else None

        def on_progress(done: int, total: int) -> None:
            if bar is not None and task is not None:
                bar.update(task, completed=done, total=total)

        report = import_files(
            store=store,
            paths=files,
            tz=zone,
            fmt=fmt,
            user_map=user_map,
            encoding=encoding,
            strict=strict,
            rejects_path=rejects,
            compact=not no_compact,
            progress=on_progress,
        )
    if as_json:
        echo_json(report.as_json())
    else:
        _print_import(report, err)
    raise typer.Exit(report.exit_code)


def _progress(console: Console, files: list[Path]) -> Any:
    size = sum(f.stat().st_size for f in files if f.is_file())
    if size < PROGRESS_FROM_BYTES or not console.is_terminal:
        import contextlib

        return contextlib.nullcontext(None)
    return Progress(
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _print_import(report: ImportReport, err: Console) -> None:
    for item in report.rejects[:SHOWN_REJECTS]:
        r = item.reject
        err.print(
            _(
                "{file}: row {row}, column {column}: {reason} (value: {value!r})",
                file=item.file.name,
                row=r.row,
                column=item.column,
                reason=r.reason,
                value=r.value,
            )
        )
    if len(report.rejects) > SHOWN_REJECTS:
        err.print(_("… and {n} more rejected rows", n=len(report.rejects) - SHOWN_REJECTS))
    if report.rejects_path is not None and report.rejects:
        err.print(_("rejected rows written to {path}", path=report.rejects_path))
    if not report.committed:
        typer.echo(
            _(
                "nothing imported: {n} of {rows} rows are invalid and --strict is set",
                n=len(report.rejects),
                rows=report.rows,
            )
        )
        return
    typer.echo(
        _(
            "{imported} new events imported from {rows} rows in {files} file(s); {duplicates} already present, "
            "{rejected} rejected ({seconds:.1f} s)",
            imported=report.imported,
            rows=report.rows,
            files=len(report.files),
            duplicates=report.duplicates,
            rejected=len(report.rejects),
            seconds=report.seconds,
        )
    )


@app.command("stats", help=_("Show what is in the event store: events by name and day, persons, date range."))
def stats_command(
    tz: str = _tz_option(),
    as_json: bool = typer.Option(False, "--json", help=_("Print machine-readable statistics")),
    workspace: Path | None = workspace_option(),
) -> None:
    zone = parse_tz(tz)
    with EventStore.open(Workspace.resolve(workspace)) as store:
        stats = store.stats(tz=zone)
    if as_json:
        echo_json(stats.as_json())
        return
    console = Console(highlight=False, markup=False)
    if not stats.events:
        console.print(_("The event store is empty. Add events with: sopflow events import FILE"))
        return
    console.print(
        _(
            "{events} events, {persons} persons ({raw_ids} raw ids), from {first} to {last} ({tz})",
            events=stats.events,
            persons=stats.persons,
            raw_ids=stats.raw_ids,
            first=f"{stats.first:%Y-%m-%d %H:%M}",
            last=f"{stats.last:%Y-%m-%d %H:%M}",
            tz=stats.timezone,
        )
    )
    by_event = Table(_("event"), _("count"), title=_("Events by name"))
    for name, count in stats.by_event:
        by_event.add_row(name, f"{count:,}")
    console.print(by_event)
    by_day = Table(_("date"), _("count"), title=_("Events by day ({tz})", tz=stats.timezone))
    for day, count in stats.by_day:
        by_day.add_row(day, f"{count:,}")
    console.print(by_day)


@app.command(
    "export", help=_("Export all events as a Hive-partitioned Parquet dataset (date=YYYY-MM-DD, UTC).")
)
def export_command(
    output: Path = typer.Option(..., "-o", "--output", help=_("Folder to write the dataset into")),
    fmt: str = typer.Option("parquet", "--format", help=_("Output format (only parquet)")),
    overwrite: bool = typer.Option(False, "--overwrite", help=_("Replace a non-empty output folder")),
    as_json: bool = typer.Option(False, "--json", help=_("Print a machine-readable report")),
    workspace: Path | None = workspace_option(),
) -> None:
    if fmt != "parquet":
        raise InvalidInput(_("--format {fmt!r} is not supported; use parquet", fmt=fmt))
    with EventStore.open(Workspace.resolve(workspace)) as store:
        result = store.export_parquet(output, overwrite=overwrite)
    if as_json:
        echo_json(
            {
                "directory": str(result.directory),
                "rows": result.rows,
                "files": result.files,
                "partitions": result.partitions,
                "partitioning": "date (UTC)",
            }
        )
        return
    typer.echo(
        _(
            "{rows} events written to {path} ({partitions} days, partitioned by date in UTC)",
            rows=result.rows,
            path=result.directory,
            partitions=result.partitions,
        )
    )


@app.command(
    "compact", help=_("Seal the event log into Parquet segments and refresh the sorted analytics cache.")
)
def compact_command(
    full: bool = typer.Option(False, "--full", help=_("Rewrite all segments into one")),
    as_json: bool = typer.Option(False, "--json", help=_("Print a machine-readable report")),
    workspace: Path | None = workspace_option(),
) -> None:
    with EventStore.open(Workspace.resolve(workspace)) as store:
        result = store.compact(full=full)
    assert result is not None  # waiting for the lock either succeeds or raises StoreBusy
    if as_json:
        echo_json(
            {
                "sealed": result.sealed,
                "duplicates": result.duplicates,
                "generation": result.generation,
                "segments": result.segments,
                "seconds": round(result.seconds, 3),
            }
        )
        return
    typer.echo(
        _(
            "{sealed} events sealed; generation {generation}, {segments} segment(s) ({seconds:.1f} s)",
            sealed=result.sealed,
            generation=result.generation,
            segments=result.segments,
            seconds=result.seconds,
        )
    )
