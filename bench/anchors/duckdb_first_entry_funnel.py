"""Plain DuckDB SQL for ``--entry first`` funnels: a join chain of per-person first step times.

Usage: ``python bench/anchors/duckdb_first_entry_funnel.py DATASET --steps a,b,c,d [--window 604800]``.

Only the person's first step-1 event starts an attempt (as Mixpanel counts); step i+1 is the earliest
matching event at or after step i's time (ties allowed) and at most ``window`` after the entry (inclusive).
"""

from __future__ import annotations

import time

from common import emit, ident, parse, quote


def query(*, files: str, steps: list[str], window: int, person: str) -> str:
    wanted = ", ".join(quote(s) for s in dict.fromkeys(steps))
    window_us = window * 1_000_000
    ctes = [
        f"ev AS MATERIALIZED (SELECT {ident(person)} AS p, epoch_us(ts) AS t, event AS e"
        f" FROM read_parquet({quote(files)}, hive_partitioning = false) WHERE event IN ({wanted}))",
        f"f1 AS (SELECT p, min(t) AS t1 FROM ev WHERE e = {quote(steps[0])} GROUP BY p)",
    ]
    for i, step in enumerate(steps[1:], start=2):
        ctes.append(
            f"f{i} AS (SELECT f.p, any_value(f.t1) AS t1, min(s.t) AS t{i} FROM f{i - 1} AS f"
            f" JOIN ev AS s ON s.p = f.p AND s.e = {quote(step)}"
            f" AND s.t >= f.t{i - 1} AND s.t <= f.t1 + {window_us} GROUP BY f.p)"
        )
    counts = ", ".join(f"(SELECT count(*) FROM f{i})" for i in range(1, len(steps) + 1))
    return "WITH " + ", ".join(ctes) + f" SELECT {counts}"


def main() -> None:
    args = parse(__doc__ or "")
    import duckdb

    sql = query(files=args.files, steps=args.steps, window=args.window, person=args.person)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # it would print into the JSON on stdout
    started = time.perf_counter()
    row = con.execute(sql).fetchone()
    seconds = time.perf_counter() - started
    emit("duckdb first entry", [int(n) for n in row or ()], seconds)


if __name__ == "__main__":
    main()
