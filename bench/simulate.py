"""``sopflow simulate`` speed: events generated per second, and events written to Parquet per second.

Runs the built-in ``community_fission`` template for about 10M events (``SOPFLOW_BENCH_SIM_USERS`` changes the
number of channel users): generating only, generating and writing a Parquet file, and generating into a
fresh workspace's event store (its bulk commit and compaction included).
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

from sopflow.playbook.catalog import template_path
from sopflow.playbook.loader import load_playbook
from sopflow.simulate.generator import Options, Simulation
from sopflow.simulate.output import simulate_to_parquet, simulate_to_workspace
from sopflow.workspace import Workspace

TEMPLATE = "community_fission"
# About 13.5 events per channel user for this template: 740k users give ~10M events.
USERS = int(os.environ.get("SOPFLOW_BENCH_SIM_USERS", "740000"))
SEED = 1


def _simulation() -> Simulation:
    return Simulation(
        playbook=load_playbook(template_path(TEMPLATE)), options=Options(users=USERS, seed=SEED)
    )


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> str:
    simulation = _simulation()
    started = time.perf_counter()
    events = sum(chunk.table.num_rows for chunk in simulation.chunks())
    generate_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.parquet"
        summary = simulate_to_parquet(simulation=_simulation(), path=path)
        size = path.stat().st_size
    peak_mib = _peak_mib()
    with tempfile.TemporaryDirectory() as folder:
        stored = simulate_to_workspace(simulation=_simulation(), workspace=Workspace.resolve(folder))
    store_peak_mib = _peak_mib()
    command = f"sopflow simulate --template {TEMPLATE} --users {USERS} --seed {SEED} -o events.parquet"
    return "\n".join(
        [
            "## Simulated campaigns (`sopflow simulate`)",
            "",
            f"Template `{TEMPLATE}`, {USERS:,} channel users + {summary.referred:,} referred = "
            f"{summary.people:,} people, {events:,} events (seed {SEED}, noise on, chunks of "
            f"{simulation.options.chunk_users:,} users).",
            "",
            "| step | seconds | events/s |",
            "|---|---:|---:|",
            f"| generate (Arrow tables, nothing written) | {generate_s:.1f} | {events / generate_s:,.0f} |",
            f"| generate and write Parquet (zstd) | {summary.seconds:.1f} | {summary.events / summary.seconds:,.0f} |",
            f"| generate into a workspace (one bulk commit, then compaction) | {stored.seconds:.1f} | "
            f"{stored.events / stored.seconds:,.0f} |",
            "",
            f"Parquet file: {size / 2**20:,.0f} MiB ({size / summary.events:.1f} bytes/event). "
            f"Peak memory of the process up to the Parquet run: {peak_mib:,.0f} MiB (constant in the number of "
            "users: one chunk is generated while the previous one is written); after the workspace run, which "
            f"includes the store's compaction: {store_peak_mib:,.0f} MiB.",
            "",
            f"Reproduce: `.venv/bin/python -m bench.run simulate`, or `{command}` for the same file.",
        ]
    )


if __name__ == "__main__":
    print(main())
