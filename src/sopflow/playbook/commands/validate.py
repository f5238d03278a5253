"""``sopflow playbook validate FILE...``: exit 0 when every file is valid, else 2 with FILE:LINE:COL lines.

The ``--json`` shape (documented in the README)::

    {"valid": bool, "problem_count": int,
     "files": [{"file": str, "valid": bool,
                "problems": [{"file", "line", "col", "code", "message", "path"}]}]}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from sopflow.i18n import _
from sopflow.playbook.commands import app
from sopflow.playbook.loader import check_file
from sopflow.playbook.problems import Problem

EXIT_INVALID = 2


def validation_report(files: list[Path]) -> tuple[dict[str, Any], list[Problem]]:
    """The JSON-ready report for ``files`` and every problem found, in file order."""
    results: list[dict[str, Any]] = []
    all_problems: list[Problem] = []
    for file in files:
        problems = check_file(file)
        all_problems += problems
        results.append(
            {"file": str(file), "valid": not problems, "problems": [p.as_json() for p in problems]}
        )
    report = {"valid": not all_problems, "problem_count": len(all_problems), "files": results}
    return report, all_problems


@app.command("validate", help=_("Check playbooks; print FILE:LINE:COL: message for each problem."))
def validate(
    files: list[Path] = typer.Argument(..., help=_("Playbook YAML files")),
    as_json: bool = typer.Option(False, "--json", help=_("Print a machine-readable report")),
) -> None:
    report, problems = validation_report(files)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for problem in problems:
            typer.echo(problem.format())
        bad = sum(1 for result in report["files"] if not result["valid"])
        if problems:
            typer.echo(
                _(
                    "{problems} problem(s) in {bad} of {total} file(s)",
                    problems=len(problems),
                    bad=bad,
                    total=len(files),
                )
            )
        else:
            typer.echo(_("{total} file(s) valid", total=len(files)))
    if problems:
        raise typer.Exit(EXIT_INVALID)
