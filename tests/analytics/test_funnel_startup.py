"""`sopflow funnel` start-up: the command and its fast path import none of the heavy libraries.

Process start is most of what a user waits for on a workspace funnel (issue 4, "Fast"): pydantic (which
Typer 0.29 pulls in for every option), Rich (only for tables), DuckDB and pyarrow (only off the cache
path) each cost tens of milliseconds or more. Checked in a fresh interpreter, by ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pydantic", "rich", "duckdb", "pyarrow", "pandas")

_SCRIPT = """
import contextlib, io, json, sys
from sopflow.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(["funnel", "--help"])
    except SystemExit:
        pass
import sopflow.analytics.funnel
import sopflow.analytics.engines.embedded
print(json.dumps(sorted(m for m in HEAVY if m in sys.modules)))
"""


def test_funnel_command_imports_no_heavy_library() -> None:
    script = f"HEAVY = {HEAVY!r}\n{_SCRIPT}"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
