"""Retention and referral on the funnel benchmark's workspaces: whole ``sopflow`` processes.

Uses the workspaces ``bench/funnel.py`` imports (``.bench-data/funnel/ws-u*``, same sizes knob
``SOPFLOW_BENCH_FUNNEL_SIZES``); a size whose workspace is not there yet is prepared by it first.
Each figure is the best of ``SOPFLOW_BENCH_FUNNEL_RUNS`` (default 3, at most 2 for referral) after a
warm-up run; peak memory is the process's maximum resident size.

Run: ``.venv/bin/python -m bench.run models``.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time

from bench.funnel import DONE, ROOT, SOPFLOW, prepare, runs, sizes

COMMANDS = {
    "retention": [
        "retention", "--start-event", "signup", "--return-event", "attend_class", "--period", "week",
        "--periods", "8", "--json",
    ],
    "referral": ["referral", "--json"],
}  # fmt: skip


def timed(argv: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MiB, this process alone: ``wait4``) and stdout of one process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if child.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv[1:3])}: exit {child.returncode}: {err.read().decode()[-300:]}"
            )
        return wall, usage.ru_maxrss // 1024, out.read().decode()


def summary(name: str, out: str) -> str:
    data = json.loads(out)
    if name == "referral":
        return f"K = {data['k_factor']:.3f}, {data['inviters']:,} inviters, {data['invitees']:,} invitees"
    first = data["cohorts"][0] if data.get("cohorts") else None
    return f"{len(data.get('cohorts', []))} cohorts" + (
        f", first: {first['size']:,} persons" if first else ""
    )


def main() -> str:
    rows = []
    for label in sizes():
        ds = prepare(label)
        if not (ds.workspace / DONE).exists():
            rows.append(f"| {label} | — | not prepared | | |")
            continue
        for name, args in COMMANDS.items():
            argv = [SOPFLOW, *args, "--workspace", str(ds.workspace)]
            count = min(runs(), 2) if name == "referral" else runs()
            print(f"   {label} {name} …", flush=True)
            timed(argv)  # warm-up: the page cache
            results = [timed(argv) for _ in range(count)]
            best = min(r[0] for r in results)
            rows.append(
                f"| {label} | `sopflow {' '.join(args)}` | **{best:.2f}** | {results[0][1]:,} | {summary(name, results[0][2])} |"
            )
    return "\n".join(
        [
            "## Retention and referral",
            "",
            "The funnel benchmark's workspaces (simulated `community_fission`, imported with `sopflow events import`); "
            "whole processes, best of the runs after a warm-up, files warm in the page cache.",
            "",
            "| events | command | whole process s | peak MiB | result |",
            "|---|---|---:|---:|---|",
            *rows,
            "",
            f"Load average when done: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}. "
            "Reproduce: `.venv/bin/python -m bench.run models`.",
        ]
    )
