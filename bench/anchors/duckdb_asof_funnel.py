"""Plain DuckDB SQL for ``--entry any`` funnels: an ASOF-join chain, then the best attempt per person.

Usage: ``python bench/anchors/duckdb_asof_funnel.py DATASET --steps a,b,c,d [--window 604800]``.

Every step-1 event starts an attempt. ``ASOF LEFT JOIN ... ON t >= previous`` finds, per attempt, the
earliest step-(i+1) event at or after its step-i time (ties allowed); one past ``entry + window`` (inclusive)
ends the attempt. A person's level is the best attempt's. Earliest-next is the optimal choice for an ordered
funnel, so this counts what ``windowFunnel`` counts, provided the step names are distinct.
"""

from __future__ import annotations

import time

from common import emit, ident, parse, quote, users_from_levels


def query(*, files: str, steps: list[str], window: int, person: str) -> str:
    wanted = ", ".join(quote(s) for s in dict.fromkeys(steps))
    window_us = window * 1_000_000
    ctes = [
        f"ev AS MATERIALIZED (SELECT {ident(person)} AS p, epoch_us(ts) AS t, event AS e"
        f" FROM read_parquet({quote(files)}, hive_partitioning = false) WHERE event IN ({wanted}))",
        f"a1 AS (SELECT p, t AS t1 FROM ev WHERE e = {quote(steps[0])})",
    ]
    carried = ["t1"]
    for i, step in enumerate(steps[1:], start=2):
        keep = ", ".join(f"a.{c}" for c in carried)
        ctes.append(
            f"a{i} AS (SELECT a.p, {keep}, CASE WHEN s.t <= a.t1 + {window_us} THEN s.t END AS t{i}"
            f" FROM a{i - 1} AS a ASOF LEFT JOIN (SELECT p, t FROM ev WHERE e = {quote(step)}) AS s"
            f" ON a.p = s.p AND s.t >= a.t{i - 1})"
        )
        carried.append(f"t{i}")
    # Past a missing step every later time is NULL too (an ASOF join on a NULL key finds nothing).
    level = " + ".join(["1"] + [f"(t{i} IS NOT NULL)::INT" for i in range(2, len(steps) + 1)])
    return (
        "WITH "
        + ", ".join(ctes)
        + f", best AS (SELECT p, max({level}) AS level FROM a{len(steps)} GROUP BY p)"
        " SELECT level, count(*) FROM best GROUP BY level ORDER BY level"
    )


def main() -> None:
    args = parse(__doc__ or "")
    import duckdb

    sql = query(files=args.files, steps=args.steps, window=args.window, person=args.person)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # it would print into the JSON on stdout
    started = time.perf_counter()
    rows = con.execute(sql).fetchall()
    seconds = time.perf_counter() - started
    emit("duckdb asof", users_from_levels({int(a): int(b) for a, b in rows}, len(args.steps)), seconds)


if __name__ == "__main__":
    main()
