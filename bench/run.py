"""Run every benchmark module and write BENCHMARKS.md.

Each module in ``MODULES`` has ``main() -> str`` returning a Markdown section. ``python -m bench.run NAME…``
runs only the named ones (and still rewrites their sections only in BENCHMARKS.md).
"""

from __future__ import annotations

import compileall
import importlib
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

MODULES = [
    "import_csv", "store", "ingest_http", "simulate", "funnel", "models", "experiments", "campaign", "console",
]  # fmt: skip
OUT = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
HEADER = """# Benchmarks

Reproduce with `make bench` (all) or `.venv/bin/python -m bench.run NAME` (one section).
Each section states its data, machine and the command that produced it.
"""


def machine() -> str:
    cpu = "unknown CPU"
    try:
        text = Path("/proc/cpuinfo").read_text()
        match = re.search(r"model name\s*:\s*(.+)", text)
        cpu = match.group(1).strip() if match else cpu
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}, "
        f"commit {commit or 'uncommitted'}"
    )


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"(?m)^<!-- bench:(\w+) -->\n", text)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def main(names: list[str]) -> None:
    chosen = names or MODULES
    # Byte-compile sopflow once, as a user's repeated runs find it (the timed commands are fresh processes;
    # with PYTHONDONTWRITEBYTECODE set, each would otherwise compile every module again: 20-30 ms).
    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "src" / "sopflow"), quiet=1)
    old = _sections(OUT.read_text()) if OUT.exists() else {}
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        section = module.main().rstrip() + "\n"
        section += f"\n_Machine: {machine()}; ran in {time.perf_counter() - started:.0f} s._\n\n"
        print(section, flush=True)
        old[name] = section
    body = HEADER + "\n" + "".join(f"<!-- bench:{n} -->\n{old[n]}" for n in MODULES if n in old)
    OUT.write_text(body)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
