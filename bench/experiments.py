"""``sopflow experiment analyze`` on a simulated campaign, against ``sopflow funnel`` on the same workspace.

The workspace: ``sopflow simulate --template community_fission`` into ``.bench-data/experiments/ws-u{N}``
(``SOPFLOW_BENCH_EXPERIMENT_USERS``, default 150 000 users ≈ 2M events; built once, then reused). The anchor
is the funnel of four stages on the same workspace in the same run: it reads only the cache's
person/time/event arrays, while an experiment also reads the touches' ``step`` and ``variant`` columns
from the segments. Whole processes, best of 3 after a warm-up; peak memory is the process's own.

Run: ``.venv/bin/python -m bench.run experiments``.
"""

from __future__ import annotations

import json
import os

from bench.funnel import ROOT, SOPFLOW, load, run
from bench.models import timed

DATA = ROOT / ".bench-data" / "experiments"
STEP = "homework_remind"
COMMANDS = {
    "anchor: funnel": ["funnel", "--steps", "signup,join_group,attend_class,submit_homework", "--json"],
    "conversion": ["experiment", "analyze", "--step", STEP, "--metric", "conversion:submit_homework", "--json"],
    "revenue, CUPED, guardrail": [
        "experiment", "analyze", "--step", STEP, "--metric", "revenue", "--cuped",
        "--guardrail", "retention:3", "--json",
    ],
}  # fmt: skip


def users() -> int:
    return int(os.environ.get("SOPFLOW_BENCH_EXPERIMENT_USERS", "150000"))


def workspace() -> tuple[str, int]:
    folder = DATA / f"ws-u{users()}"
    done = folder / ".bench-ready.json"
    if not done.exists():
        options = ["--template", "community_fission", "--users", str(users()), "--seed", "1", "--json"]
        _wall, out = run([SOPFLOW, "simulate", *options, "--workspace", str(folder)])
        done.write_text(out)
    events = int(json.loads(done.read_text())["events"])
    return str(folder), events


def main() -> str:
    folder, events = workspace()
    rows, anchor = [], None
    for label, args in COMMANDS.items():
        argv = [SOPFLOW, *args, "--workspace", folder]
        timed(argv)  # warm-up: the page cache
        results = [timed(argv) for _ in range(3)]
        best = min(r[0] for r in results)
        anchor = best if anchor is None else anchor
        rows.append(
            f"| {label} | `sopflow {' '.join(args)}` | **{best:.2f}** | {best / anchor:.1f}× | {results[0][1]:,} |"
        )
    return "\n".join(
        [
            "## Experiments",
            "",
            f"A simulated `community_fission` campaign of {users():,} users ({events:,} events) in a workspace; "
            "whole processes, best of 3 after a warm-up, files warm in the page cache; ratio to the funnel "
            "anchor measured in the same run.",
            "",
            "| question | command | whole process s | ÷ anchor | peak MiB |",
            "|---|---|---:|---:|---:|",
            *rows,
            "",
            f"Load average when done: {load()}. Reproduce: `.venv/bin/python -m bench.run experiments`.",
        ]
    )
