"""``sopflow funnel`` against ClickHouse ``windowFunnel`` (chdb) and plain DuckDB SQL, at 10M and 50M events.

Data: ``sopflow simulate --template community_fission`` with enough users for each size (cached in
``.bench-data/funnel/``), imported into a fresh workspace with ``sopflow events import`` (timed), then
``sopflow events export`` (the dataset with the identity-merged ``person_id``). The anchors count persons,
so they read the export; they get it rewritten as one Parquet file (the export's many small per-day files
would slow them down for no reason of their own) and, for chdb, also the export folder as written.

The funnel: signup → join_group → attend_class → pay, 7-day window, ``--entry any``. Contenders, each a
whole process (interpreter start, imports, query, printing), one warm-up round, then best of 3 rounds in
which every contender runs once (interleaved, so a burst of load hits all of them alike):
- ``sopflow funnel --workspace WS --steps … --window 7d --by channel --json`` (breakdown included);
- ``bench/anchors/chdb_window_funnel.py``: ``windowFunnel`` through chdb, no breakdown;
- ``bench/anchors/duckdb_asof_funnel.py``: the same semantics in plain DuckDB SQL (ASOF-join chain);
- ``bench/anchors/duckdb_first_entry_funnel.py``: ``--entry first`` semantics (join of first step times).
Spark (``--engine spark``) runs after them, its session start-up timed alone.

Knobs (environment): ``SOPFLOW_BENCH_FUNNEL_SIZES`` (default ``10M,50M``; e.g. ``1M`` for a quick run),
``SOPFLOW_BENCH_FUNNEL_RUNS`` (default 3), ``SOPFLOW_BENCH_FUNNEL_REUSE=1`` (keep a workspace and export
from an earlier run instead of importing again; the import time shown is then the cached one),
``SOPFLOW_BENCH_FUNNEL_SPARK=0`` (skip Spark), ``SOPFLOW_BENCH_FUNNEL_IMPORT=parts`` (import in parts of
10M rows without trying one command first: at 50M one import may need more memory than the machine
has), ``SOPFLOW_BENCH_FUNNEL_QUIET_WAIT`` (seconds to wait, per size, for the load average to drop below
the core count before the rounds; default 900).
``python -m bench.funnel --sizes 1M`` runs it alone and prints the section.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".bench-data" / "funnel"
ANCHORS = Path(__file__).resolve().parent / "anchors"
BIN = Path(sys.executable).parent
SOPFLOW = str(BIN / "sopflow")

TEMPLATE = "community_fission"
SEED = 1
STEPS = ("signup", "join_group", "attend_class", "pay")
WINDOW_S = 7 * 86_400
BY = "channel"
# community_fission writes 9,980,810 events for 740,000 channel users (referred users come on top).
EVENTS_PER_USER = 9_980_810 / 740_000
TIMEOUT_S = 3_600
PART_ROWS = 10_000_000  # import in parts of this many rows when one import of the whole file fails
DONE = ".bench-ready.json"


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not match:
        raise ValueError(f"not a size: {text!r} (write e.g. 1M, 500k, 10M)")
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def users_for(events: int) -> int:
    """Channel users giving about ``events`` events (round, so the cached file's name is stable)."""
    unit = 10_000 if events >= 1_000_000 else 1_000
    return max(unit, round(events / EVENTS_PER_USER / unit) * unit)


def sizes() -> list[str]:
    return [
        s.strip() for s in os.environ.get("SOPFLOW_BENCH_FUNNEL_SIZES", "10M,50M").split(",") if s.strip()
    ]


def runs() -> int:
    return max(1, int(os.environ.get("SOPFLOW_BENCH_FUNNEL_RUNS", "3")))


# ---------------------------------------------------------------- processes


def run(argv: list[str]) -> tuple[float, str]:
    """Wall seconds and stdout of one process; ``RuntimeError`` with its last stderr line if it fails."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False, timeout=TIMEOUT_S)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        status = "killed by SIGKILL (out of memory?)" if done.returncode == -9 else f"exit {done.returncode}"
        what = " ".join(Path(a).name for a in argv[:3])
        raise RuntimeError(f"`{what}`: {status}: {lines[-1] if lines else 'no output'}")
    return wall, done.stdout


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def wait_for_quiet(deadline: float) -> None:
    """Wait, until ``deadline`` at most, for the 1-minute load average to fall below the number of cores.

    Other work on a small machine skews the comparison (the engines do not all use the cores alike), so
    each round starts when the machine is quiet, or at the deadline regardless (the report shows the load).
    """
    limit = os.cpu_count() or 1
    while os.getloadavg()[0] >= limit and time.monotonic() < deadline:
        time.sleep(5)


# ---------------------------------------------------------------- data


@dataclass
class Dataset:
    label: str
    users: int
    parquet: Path
    workspace: Path
    export: Path
    anchor_file: Path
    info: dict[str, Any] = field(default_factory=dict)


def simulate(users: int) -> Path:
    path = DATA / f"{TEMPLATE}-u{users}-s{SEED}.parquet"
    if not path.exists():
        partial = path.with_suffix(".partial.parquet")
        options = f"--template {TEMPLATE} --users {users} --seed {SEED} --json -o".split()
        run([SOPFLOW, "simulate", *options, str(partial)])
        partial.rename(path)
    return path


def prepare(label: str) -> Dataset:
    DATA.mkdir(parents=True, exist_ok=True)
    users = users_for(parse_size(label))
    ds = Dataset(
        label=label,
        users=users,
        parquet=simulate(users),
        workspace=DATA / f"ws-u{users}",
        export=DATA / f"export-u{users}",
        anchor_file=DATA / f"export-u{users}.parquet",
    )
    marker = ds.workspace / DONE
    if os.environ.get("SOPFLOW_BENCH_FUNNEL_REUSE") == "1" and marker.exists():
        ds.info = json.loads(marker.read_text()) | {"cached": True}
        return ds
    import_s, report, note = import_events(ds)
    export = [SOPFLOW, "events", "export", "--overwrite", "--json", "--workspace", str(ds.workspace)]
    export_s, out = run([*export, "-o", str(ds.export)])
    exported = json.loads(out)
    ds.info = {
        "simulated": report["rows"],
        "imported": report["imported"],
        "import_s": import_s,
        "import_note": note,
        "export_s": export_s,
        "export_files": exported["files"],
        "parquet_mib": ds.parquet.stat().st_size / 2**20,
    }
    ds.info |= one_file(ds.export, ds.anchor_file)
    marker.write_text(json.dumps(ds.info))
    return ds


def import_events(ds: Dataset) -> tuple[float, dict[str, Any], str | None]:
    """``sopflow events import`` of the simulated file into a fresh workspace: seconds, report, note.

    When the one-file import fails (at 50M it can run out of memory), the file is imported again in parts
    of ``PART_ROWS`` rows, one command each, so that the funnel can still be measured; the note says so.
    """
    shutil.rmtree(ds.workspace, ignore_errors=True)
    command = [SOPFLOW, "events", "import", "--workspace", str(ds.workspace), "--json"]
    if os.environ.get("SOPFLOW_BENCH_FUNNEL_IMPORT", "whole") == "parts":
        failure = "not tried (SOPFLOW_BENCH_FUNNEL_IMPORT=parts)"
    else:
        try:
            seconds, out = run([*command, str(ds.parquet)])
            return seconds, json.loads(out), None
        except RuntimeError as exc:
            failure = str(exc)
    print(f"   one-file import: {failure}; importing in parts", flush=True)
    shutil.rmtree(ds.workspace, ignore_errors=True)
    parts = split(ds.parquet)
    total, reports = 0.0, []
    for part in parts:
        seconds, out = run([*command, str(part)])
        total += seconds
        reports.append(json.loads(out))
    report = {key: sum(r[key] for r in reports) for key in ("rows", "imported")}
    note = f"one command for the whole file: {failure}; shown: {len(parts)} imports of about {PART_ROWS:,} rows each, one after another"
    return total, report, note


def split(parquet: Path) -> list[Path]:
    """The simulated file cut into consecutive parts of about ``PART_ROWS`` rows (cached next to it).

    The source's row groups are copied as they are: the importer's memory grows with the row-group size.
    """
    import pyarrow.parquet as pq

    folder = parquet.with_name(parquet.stem + f"-parts{PART_ROWS}")
    if not (folder / DONE).exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        source = pq.ParquetFile(parquet)
        writer, index, rows = None, 0, 0
        for group in range(source.num_row_groups):
            if writer is None or rows >= PART_ROWS:
                if writer is not None:
                    writer.close()
                path = folder / f"part-{index:03d}.parquet"
                writer = pq.ParquetWriter(path, source.schema_arrow, compression="zstd")
                index, rows = index + 1, 0
            table = source.read_row_group(group)
            writer.write_table(table, row_group_size=table.num_rows)
            rows += table.num_rows
        if writer is not None:
            writer.close()
        (folder / DONE).write_text("{}")
    return sorted(folder.glob("part-*.parquet"))


def one_file(export: Path, target: Path) -> dict[str, Any]:
    """Rewrite the export as a single Parquet file for the anchors; also count its persons."""
    import duckdb

    partial = target.with_suffix(".partial.parquet")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    source = f"read_parquet('{export}/**/*.parquet', hive_partitioning = false)"
    con.execute(f"COPY (SELECT * FROM {source}) TO '{partial}' (FORMAT parquet, COMPRESSION zstd)")
    partial.rename(target)
    row = con.execute(f"SELECT count(*), count(DISTINCT person_id) FROM '{target}'").fetchone()
    assert row is not None
    return {"rows": int(row[0]), "persons": int(row[1]), "anchor_mib": target.stat().st_size / 2**20}


# ---------------------------------------------------------------- contenders


@dataclass
class Contender:
    key: str
    title: str
    semantics: str
    argv: list[str]
    parse: Callable[[str], tuple[list[int], float | None]]
    walls: list[float] = field(default_factory=list)
    queries: list[float] = field(default_factory=list)
    users: list[int] | None = None
    failure: str | None = None

    def once(self) -> None:
        if self.failure:
            return
        try:
            wall, out = run(self.argv)
            users, query = self.parse(out)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError) as exc:
            self.failure = str(exc)
            return
        self.walls.append(wall)
        if query is not None:
            self.queries.append(query)
        self.users = users

    @property
    def best(self) -> float | None:
        return min(self.walls[1:] or self.walls) if self.walls and not self.failure else None

    @property
    def best_query(self) -> float | None:
        return min(self.queries[1:] or self.queries) if self.queries and not self.failure else None


def parse_anchor(out: str) -> tuple[list[int], float | None]:
    data = json.loads(out)
    return [int(n) for n in data["users"]], float(data["query_seconds"])


def parse_sopflow(out: str) -> tuple[list[int], float | None]:
    data = json.loads(out)
    return [int(step["users"]) for step in data["steps"]], None


def anchor(script: str, dataset: Path) -> list[str]:
    options = ["--steps", ",".join(STEPS), "--window", str(WINDOW_S)]
    return [sys.executable, str(ANCHORS / script), str(dataset), *options]


def sopflow_funnel(ds: Dataset, *extra: str) -> list[str]:
    options = ["--steps", ",".join(STEPS), "--window", "7d", "--by", BY, "--json", *extra]
    return [SOPFLOW, "funnel", "--workspace", str(ds.workspace), *options]


def funnel_command_exists() -> bool:
    try:
        run([SOPFLOW, "funnel", "--help"])
    except RuntimeError:
        return False
    return True


def contenders(ds: Dataset) -> list[Contender]:
    return [
        Contender("sopflow", "`sopflow funnel --by channel`", "entry any", sopflow_funnel(ds), parse_sopflow),
        Contender(
            "chdb",
            "chdb `windowFunnel` (one Parquet file)",
            "entry any",
            anchor("chdb_window_funnel.py", ds.anchor_file),
            parse_anchor,
        ),
        Contender(
            "chdb_export",
            f"chdb `windowFunnel` (export folder as written, {ds.info['export_files']:,} files)",
            "entry any",
            anchor("chdb_window_funnel.py", ds.export),
            parse_anchor,
        ),
        Contender(
            "duckdb_any",
            "DuckDB SQL, ASOF-join chain",
            "entry any",
            anchor("duckdb_asof_funnel.py", ds.anchor_file),
            parse_anchor,
        ),
        Contender(
            "duckdb_first",
            "DuckDB SQL, join of first step times",
            "entry first",
            anchor("duckdb_first_entry_funnel.py", ds.anchor_file),
            parse_anchor,
        ),
    ]


def installed(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@dataclass
class Outcome:
    ds: Dataset
    contenders: dict[str, Contender]
    sopflow_help_s: float | None
    spark: Contender | None
    spark_startup_s: float | None
    spark_note: str | None
    rounds: list[str]  # 1-minute load average when each round started
    load_after: str


def measure(ds: Dataset, *, have_funnel: bool) -> Outcome:
    rounds: list[str] = []
    lineup = contenders(ds)
    if not have_funnel:
        lineup[0].failure = "pending: no `sopflow funnel` command yet"
    if not installed("chdb"):
        for c in lineup:
            if c.key.startswith("chdb"):
                c.failure = "pending: chdb not installed (`pip install -e '.[bench]'`)"
    deadline = time.monotonic() + float(os.environ.get("SOPFLOW_BENCH_FUNNEL_QUIET_WAIT", "900"))
    for _ in range(runs() + 1):  # the first round warms the page cache and is not counted
        wait_for_quiet(deadline)
        rounds.append(f"{os.getloadavg()[0]:.1f}")
        for c in lineup:
            print(f"   {ds.label} {c.key} …", flush=True)
            c.once()
    help_s = None
    if have_funnel:
        help_s = min(run([SOPFLOW, "funnel", "--help"])[0] for _ in range(runs()))
    spark, startup, note = measure_spark(ds, have_funnel=have_funnel)
    return Outcome(ds, {c.key: c for c in lineup}, help_s, spark, startup, note, rounds, load())


def measure_spark(ds: Dataset, *, have_funnel: bool) -> tuple[Contender | None, float | None, str | None]:
    """Spark ``local[2]``: one warm-up run (it also writes the export Spark reads), then one timed run."""
    if os.environ.get("SOPFLOW_BENCH_FUNNEL_SPARK", "1") == "0":
        return None, None, "skipped (SOPFLOW_BENCH_FUNNEL_SPARK=0)"
    if not have_funnel:
        return None, None, "pending: no `sopflow funnel` command yet"
    if not installed("pyspark"):
        return None, None, "pending: pyspark not installed"
    start_code = (
        "from pyspark.sql import SparkSession; "
        "s = SparkSession.builder.master('local[2]').getOrCreate(); s.range(1).count(); s.stop()"
    )
    try:
        startup = run([sys.executable, "-c", start_code])[0]
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return None, None, f"pending: Spark does not start ({exc})"
    spark = Contender(
        "spark", "`sopflow funnel --by channel --engine spark`", "entry any",
        sopflow_funnel(ds, "--engine", "spark"), parse_sopflow,
    )  # fmt: skip
    spark.once()
    spark.once()
    note = f"pending: {spark.failure}" if spark.failure else None
    return spark, startup, note


# ---------------------------------------------------------------- report


def secs(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "—"


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "pending"


def status(c: Contender) -> str:
    return c.failure if c.failure and c.failure.startswith("pending") else f"failed: {c.failure}"


def result_rows(o: Outcome) -> list[str]:
    rows = []
    listed = [*o.contenders.values(), *([o.spark] if o.spark else [])]
    for c in listed:
        if c.failure:
            rows.append(f"| {o.ds.label} | {c.title} | {c.semantics} | {status(c)} | — | — |")
            continue
        query = c.best_query
        if c.key == "sopflow" and c.best is not None and o.sopflow_help_s is not None:
            query_text = f"{c.best - o.sopflow_help_s:.2f}¹"
        else:
            query_text = secs(query)
        users = " / ".join(f"{n:,}" for n in c.users or [])
        rows.append(
            f"| {o.ds.label} | {c.title} | {c.semantics} | **{secs(c.best)}** | {query_text} | {users} |"
        )
    if o.spark is None and o.spark_note:
        rows.append(
            f"| {o.ds.label} | `sopflow funnel --engine spark` | entry any | {o.spark_note} | — | — |"
        )
    return rows


def agreement(o: Outcome) -> str:
    counts = {
        k: c.users for k, c in o.contenders.items() if c.users and not c.failure and k != "duckdb_first"
    }
    if o.spark and o.spark.users and not o.spark.failure:
        counts["spark"] = o.spark.users
    if not counts:
        return f"{o.ds.label}: no counts to compare."
    if len({tuple(v) for v in counts.values()}) == 1:
        users = " / ".join(f"{n:,}" for n in next(iter(counts.values())))
        return f"{o.ds.label}: persons per step agree across {', '.join(counts)}: {users}."
    detail = "; ".join(f"{k} {' / '.join(f'{n:,}' for n in v)}" for k, v in counts.items())
    return f"{o.ds.label}: **persons per step DIFFER**: {detail}."


def render(outcomes: list[Outcome], failed: list[str]) -> str:
    if not outcomes:
        return "\n".join(["## Funnel (`sopflow funnel`)", "", *failed])
    first = outcomes[0].ds
    lines = [
        "## Funnel (`sopflow funnel`) vs ClickHouse `windowFunnel` (chdb) and plain DuckDB SQL",
        "",
        f"Events simulated with `sopflow simulate --template {TEMPLATE} --users N --seed {SEED}` (noise on), "
        f"imported with `sopflow events import` into a fresh workspace, exported with `sopflow events export` "
        f"for the anchors (they count persons: `person_id`, identity-merged). Funnel "
        f"{' → '.join(STEPS)}, window 7 days (inclusive), order `ordered`. Each figure is a whole process — "
        f"interpreter start, imports, reading, query, printing — best of {runs()} after a warm-up round, the "
        "contenders interleaved within each round, files warm in the page cache; *query s* is the time inside "
        "the process from submitting the SQL to having the result (engine start-up excluded).",
        "",
        "| events | contender | semantics | whole process s | query s | persons reaching step 1 / 2 / 3 / 4 |",
        "|---|---|---|---:|---:|---|",
    ]
    for o in outcomes:
        lines += result_rows(o)
    lines += [
        "",
        "¹ whole process minus `sopflow funnel --help` (interpreter and CLI start-up).",
        "",
        "| events | sopflow ÷ chdb (goal ≤ 0.5) | DuckDB ASOF SQL ÷ sopflow (goal ≥ 5) | "
        "DuckDB first-entry SQL ÷ sopflow | chdb ÷ DuckDB ASOF SQL |",
        "|---|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        c = o.contenders
        sop, ch, dany, dfirst = (c[k].best for k in ("sopflow", "chdb", "duckdb_any", "duckdb_first"))
        lines.append(
            f"| {o.ds.label} | {ratio(sop, ch)} | {ratio(dany, sop)} | {ratio(dfirst, sop)} | {ratio(ch, dany)} |"
        )
    lines += [
        "",
        "Ratios are of whole-process times from the same run.",
        "",
        "| events | simulated | stored (duplicates dropped) | persons | simulated Parquet MiB | "
        "`sopflow events import` s | `sopflow events export` s | export files |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        i = o.ds.info
        cached = " (cached)" if i.get("cached") else ""
        lines.append(
            f"| {o.ds.label} | {i['simulated']:,} | {i['imported']:,} | {i['persons']:,} | {i['parquet_mib']:,.0f} | "
            f"{i['import_s']:.1f}{cached} | {i['export_s']:.1f}{cached} | {i['export_files']:,} |"
        )
    notes = [
        f"{o.ds.label}: import: {o.ds.info['import_note']}." for o in outcomes if o.ds.info.get("import_note")
    ]
    lines += ["", *[f"- {text}" for text in [*notes, *failed, *[agreement(o) for o in outcomes]]], ""]
    spark_lines = [
        f"{o.ds.label}: Spark `local[2]` session start-up alone {o.spark_startup_s:.1f} s (included in the row above)."
        for o in outcomes
        if o.spark_startup_s is not None
    ]
    lines += [*spark_lines, *([""] if spark_lines else [])]
    lines += [
        "Where ClickHouse's semantics differ from `sopflow funnel --entry any` (none of it touches this "
        "funnel, whose step names are distinct): `windowFunnel` refuses `DateTime64`, so the anchor passes "
        "microseconds as `UInt64` with the window scaled (with `toDateTime(ts)` sub-second gaps collapse to "
        "ties and the boundary moves to whole seconds); same-timestamp events are taken in step order, which "
        'matches sopflow\'s "the same timestamp is allowed"; but one event matching several conditions fills '
        "several steps (`windowFunnel` counts a single `visit` as level 2 of `visit,visit`; sopflow needs two "
        "visits). The ASOF-join SQL takes the earliest next step of every attempt, which is optimal for an "
        "ordered funnel, so it counts what `windowFunnel` counts.",
        "",
        "1-minute load average when each round began (warm-up first; the harness waits up to 15 minutes per "
        "size for it to drop below the core count): "
        + "; ".join(
            f"{o.ds.label} {', '.join(o.rounds)} (1/5/15 min after: {o.load_after})" for o in outcomes
        )
        + f". Versions: chdb {installed('chdb') or 'not installed'} (ClickHouse {installed('chdb-core') or '?'}), "
        f"DuckDB {installed('duckdb')}, pyspark {installed('pyspark') or 'not installed'}.",
        "",
        "Reproduce: `make bench` (installs the `bench` extra: chdb) or `.venv/bin/python -m bench.run funnel`; "
        "a quick run: `SOPFLOW_BENCH_FUNNEL_SIZES=1M .venv/bin/python -m bench.run funnel`. Data is cached in "
        f"`.bench-data/funnel/` (the {first.label} file: `{first.parquet.relative_to(ROOT)}`). One anchor alone: "
        f"`.venv/bin/python bench/anchors/chdb_window_funnel.py {first.anchor_file.relative_to(ROOT)} "
        f"--steps {','.join(STEPS)} --window {WINDOW_S}`.",
    ]
    return "\n".join(lines)


def main() -> str:
    have_funnel = funnel_command_exists()
    outcomes, failed = [], []
    for label in sizes():
        print(f"== funnel {label}: preparing data", flush=True)
        try:
            ds = prepare(label)
        except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
            print(f"   {label}: data preparation failed: {exc}", flush=True)
            failed.append(f"{label}: the data could not be prepared ({exc}); not measured.")
            continue
        print(f"== funnel {label}: timing", flush=True)
        outcomes.append(measure(ds, have_funnel=have_funnel))
    return render(outcomes, failed)


if __name__ == "__main__":
    if "--sizes" in sys.argv:
        os.environ["SOPFLOW_BENCH_FUNNEL_SIZES"] = sys.argv[sys.argv.index("--sizes") + 1]
    print(main())
