"""ClickHouse ``windowFunnel`` through chdb (in-process ClickHouse): persons per funnel level, no breakdown.

Usage: ``python bench/anchors/chdb_window_funnel.py DATASET --steps a,b,c,d [--window 604800]``.

Same semantics as ``sopflow funnel --entry any`` (default mode of ``windowFunnel``: the best chain over all
step-1 events, each later step at or after the previous one and at most ``window`` after the entry,
inclusive). Timestamps are passed as integer microseconds and the window scaled to match, because the
events carry sub-second times and ``windowFunnel`` refuses DateTime64; ``toDateTime(ts)`` would truncate to
seconds and count a few more persons (steps a fraction of a second apart become ties).
"""

from __future__ import annotations

import time

from common import emit, ident, parse, quote, users_from_levels


def query(*, files: str, steps: list[str], window: int, person: str) -> str:
    conditions = ", ".join(f"event = {quote(s)}" for s in steps)
    wanted = ", ".join(quote(s) for s in dict.fromkeys(steps))
    return (
        "SELECT level, count() AS persons FROM ("
        f" SELECT {ident(person)}, windowFunnel({window * 1_000_000})"
        f"(toUInt64(toUnixTimestamp64Micro(ts)), {conditions}) AS level"
        f" FROM file({quote(files)}, Parquet) WHERE event IN ({wanted}) GROUP BY {ident(person)}"
        ") GROUP BY level ORDER BY level"
    )


def main() -> None:
    args = parse(__doc__ or "")
    import chdb  # benchmark-only dependency (the `bench` extra)

    sql = query(files=args.files, steps=args.steps, window=args.window, person=args.person)
    chdb.query("SELECT 1", "CSV")  # engine start-up belongs to the process time, not the query time
    started = time.perf_counter()
    text = str(chdb.query(sql, "CSV"))
    seconds = time.perf_counter() - started
    levels = {int(a): int(b) for a, b in (line.split(",") for line in text.split())}
    emit("chdb windowFunnel", users_from_levels(levels, len(args.steps)), seconds)


if __name__ == "__main__":
    main()
