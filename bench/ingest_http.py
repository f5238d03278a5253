"""HTTP ingest throughput: 8 concurrent clients send batches of 100 events to a real ``sopflow serve``.

Every request is acknowledged only once its events are fsync'd (durable), so the figure is durable
events/s. Clients are threads of this process with keep-alive connections and bodies encoded beforehand,
so they cost little CPU (it is measured); they share the machine's cores with the server, as on one host.
Afterwards the store is read back and must hold exactly the events sent. Each configuration runs
``RUNS`` times on a fresh server and workspace (best and median reported: other work on the machine
only ever slows a run down).

To explain the figure, the server's CPU time per event is read from ``/proc`` (all its processes), and
each step of the server's work is timed on its own in this process, CPU time per event: JSON parsing
(:func:`sopflow.web.body.parse_json`), normalising and checking a request's events
(:func:`sopflow.events.normalize_batch.normalize_batch`), appending with 8 threads (dedupe keys, group
commit, write-ahead log, ``fdatasync``).

Run: ``.venv/bin/python -m bench.run ingest_http`` (``BENCH_INGEST_RUNS`` changes the number of runs).
"""

from __future__ import annotations

import gc
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CLIENTS = 8
BATCH = 100
BATCHES_PER_CLIENT = 150
WARMUP_BATCHES = 5
GOAL = 50_000
POSTHOG_GOAL = 60_000  # issue 13: PostHog's /batch/ as fast as the native endpoint, near enough
RUNS = int(os.environ.get("BENCH_INGEST_RUNS", "3"))


def _events(client: int, batch: int) -> list[dict[str, Any]]:
    base = 1741136733 + batch * BATCH
    return [
        {
            "event_id": f"c{client}-b{batch}-{i}",
            "event": ("view", "signup", "pay")[i % 3],
            "user_id": f"u{client}-{(batch * BATCH + i) % 5000}",
            "ts": base + i,
            "channel": "moments",
            "campaign": "spring",
            "properties": {"page": "/course/42", "i": i},
        }
        for i in range(BATCH)
    ]


def _posthog_batch(client: int, batch: int, key: str) -> dict[str, Any]:
    """What posthog-python sends to ``/batch/``."""
    events = [
        {
            "event": e["event"],
            "distinct_id": e["user_id"],
            "uuid": f"{client:08x}-{batch:04x}-4000-8000-{i:012x}",
            "timestamp": "2025-03-05T01:05:33.000Z",
            "properties": {"channel": "moments", "$lib": "posthog-python", "page": "/course/42"},
        }
        for i, e in enumerate(_events(client, batch))
    ]
    return {"api_key": key, "batch": events, "sent_at": "2025-03-05T01:05:34.000Z"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read() if process.stderr else b''!r}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("server did not start")


def _group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) of every live process in process group ``pgid``."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _create_key(workspace: Path) -> str:
    from sopflow.settings import load_settings
    from sopflow.store.api_keys import create_api_key
    from sopflow.store.database import open_app_database

    database = open_app_database(load_settings(environ={}, home=workspace))
    try:
        with database.session() as session:
            return create_api_key(session=session, name="bench").key
    finally:
        database.close()


def _load(
    port: int, path: str, bodies: list[list[bytes]], headers: dict[str, str]
) -> tuple[float, list[float]]:
    """Send every client's bodies on its own connection, all clients at once; (seconds, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(len(bodies) + 1)
    errors: list[str] = []

    def client(mine: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        own: list[float] = []
        start.wait()
        for body in mine:
            began = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            own.append(time.perf_counter() - began)
            if response.status != 200:
                errors.append(f"{response.status} {payload[:200]!r}")
                break
        conn.close()
        with lock:
            latencies.extend(own)

    threads = [threading.Thread(target=client, args=(mine,)) for mine in bodies]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"requests failed: {errors[:3]}")
    return elapsed, latencies


def _run(path: str, *, posthog: bool, workers: int) -> dict[str, Any]:
    from sopflow.events.store import EventStore
    from sopflow.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="sopflow-bench-") as tmp:
        workspace = Path(tmp) / "ws"
        key = _create_key(workspace)
        port = _free_port()
        env = {**os.environ, "SOPFLOW_LANG": "en"}
        command = [
            sys.executable,
            "-m",
            "sopflow",
            "serve",
            "--port",
            str(port),
            "--workspace",
            str(workspace),
            "--workers",
            str(workers),
        ]
        server = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        headers = {"Content-Type": "application/json"}
        if not posthog:
            headers["Authorization"] = f"Bearer {key}"

        def body(client: int, batch: int) -> bytes:
            return json.dumps(
                _posthog_batch(client, batch, key) if posthog else _events(client, batch)
            ).encode()

        try:
            _wait_for(port, server)
            _load(
                port,
                path,
                [[body(c, 10_000 + b) for b in range(WARMUP_BATCHES)] for c in range(CLIENTS)],
                headers,
            )
            bodies = [[body(c, b) for b in range(BATCHES_PER_CLIENT)] for c in range(CLIENTS)]
            server_cpu, client_cpu = _group_cpu_seconds(server.pid), time.process_time()
            elapsed, latencies = _load(port, path, bodies, headers)
            server_cpu = _group_cpu_seconds(server.pid) - server_cpu
            client_cpu = time.process_time() - client_cpu
        finally:
            os.killpg(server.pid, signal.SIGTERM)  # the server and its worker processes
            server.wait(timeout=30)
        with EventStore.open(Workspace.resolve(workspace)) as store:
            stored = store.scan_arrow(columns=["event_id"]).num_rows
    sent = CLIENTS * (BATCHES_PER_CLIENT + WARMUP_BATCHES) * BATCH
    if stored != sent:
        raise RuntimeError(f"sent {sent} events but the store holds {stored}")
    events = CLIENTS * BATCHES_PER_CLIENT * BATCH
    latencies.sort()
    return {
        "path": path,
        "workers": workers,
        "events": events,
        "seconds": elapsed,
        "rate": events / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "server_us": server_cpu / events * 1e6,
        "client_us": client_cpu / events * 1e6,
    }


def _cpu_us_per_event(work: Callable[[], object], events: int, *, tries: int = 3) -> float:
    """CPU µs per event of ``work``, the least of ``tries`` (other work on the machine only adds)."""
    spent = []
    for _ in range(tries):
        gc.collect()  # each try starts without the previous one's garbage to collect
        began = time.process_time()
        work()
        spent.append(time.process_time() - began)
    return min(spent) / events * 1e6


def _step_costs() -> dict[str, float]:
    """CPU µs per event of each step of the server's work, timed alone in this process."""
    from sopflow.events.store import EventStore
    from sopflow.settings import load_settings
    from sopflow.web.body import parse_json
    from sopflow.web.ingest import Ingestor
    from sopflow.web.posthog import canonical_batch, canonical_rows, decode_capture

    bodies = [json.dumps(_events(c, b)).encode() for c in range(CLIENTS) for b in range(40)]
    posthog = [json.dumps(_posthog_batch(c, b, "key")).encode() for c in range(CLIENTS) for b in range(40)]
    events = len(bodies) * BATCH
    with tempfile.TemporaryDirectory(prefix="sopflow-bench-") as tmp:
        settings = load_settings(environ={}, home=Path(tmp))
        with EventStore.open(settings.workspace.ensure()) as store:
            ingestor = Ingestor(store=store, settings=settings)
            parsed = [parse_json(b) for b in bodies]
            parse = _cpu_us_per_event(lambda: [parse_json(b) for b in bodies], events)
            normalize = _cpu_us_per_event(lambda: [ingestor.normalize(p) for p in parsed], events)
            tables = [ingestor.normalize(p) for p in parsed]
            captured = [
                decode_capture(b, content_type="application/json", query={}, limit=1 << 24) for b in posthog
            ]
            now = datetime.now(UTC)

            def mapped() -> list[Any]:
                return [canonical_batch(list(c.events), now=now, sent_at=c.sent_at) for c in captured]

            mapping = _cpu_us_per_event(mapped, events)
            one_by_one = _cpu_us_per_event(
                lambda: [canonical_rows(c.events, now=now, sent_at=c.sent_at) for c in captured], events
            )
            columns = mapped()
            posthog_normalize = _cpu_us_per_event(lambda: [ingestor.normalize(m) for m in columns], events)

            def append() -> None:
                def one(mine: list[Any]) -> None:
                    for table in mine:
                        store.append_rows(table)

                threads = [threading.Thread(target=one, args=(tables[i::CLIENTS],)) for i in range(CLIENTS)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()

            appending = _cpu_us_per_event(append, events, tries=1)  # a second try would append duplicates
    return {
        "parse": parse,
        "normalize": normalize,
        "append": appending,
        "posthog_map": mapping,
        "posthog_normalize": posthog_normalize,
        "posthog_map_one_by_one": one_by_one,
    }


def _best_of(configs: list[tuple[str, bool, int]]) -> list[dict[str, Any]]:
    """``RUNS`` runs of each configuration ``(path, posthog, workers)``, interleaved so that other work on the
    machine weighs on all alike: the best run of each (by events/s) with the median rate beside it."""
    runs: list[list[dict[str, Any]]] = [[] for _ in configs]
    for _ in range(RUNS):
        for mine, (path, posthog, workers) in zip(runs, configs, strict=True):
            mine.append(_run(path, posthog=posthog, workers=workers))
    return [
        {**max(mine, key=lambda r: r["rate"]), "median": statistics.median(r["rate"] for r in mine)}
        for mine in runs
    ]


def main() -> str:
    load = os.getloadavg()[0]
    results = _best_of(
        [
            ("/api/v1/events", False, 1),
            ("/api/v1/events", False, 2),
            ("/batch/", True, 1),
            ("/batch/", True, 2),
        ]
    )
    load_after = os.getloadavg()[0]
    steps = _step_costs()
    best = max(r["rate"] for r in results)
    native = results[0]
    other = native["server_us"] - steps["parse"] - steps["normalize"] - steps["append"]
    lines = [
        "## HTTP ingest",
        "",
        f"{CLIENTS} concurrent clients, each sending {BATCHES_PER_CLIENT} batches of {BATCH} events (keep-alive "
        "connections, bodies encoded beforehand) to a real `sopflow serve` on 127.0.0.1. A 200 means the batch "
        "is fsync'd; afterwards the store is read back and holds exactly the events sent. Each row is the best "
        f"of {RUNS} runs, each on a fresh server and workspace, the endpoints taking turns (median events/s in "
        f"brackets). Load average (1 min) when the runs began: {load:.1f}; when they ended: {load_after:.1f}.",
        "",
        "| endpoint | `--workers` | events | seconds | durable events/s | request p50 | request p99 "
        "| server CPU/event | client CPU/event |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| `POST {r['path']}` | {r['workers']} | {r['events']:,} | {r['seconds']:.2f} "
            f"| **{r['rate']:,.0f}** ({r['median']:,.0f}) | {r['p50']:.1f} ms | {r['p99']:.1f} ms "
            f"| {r['server_us']:.0f} µs | {r['client_us']:.1f} µs |"
        )
    verdict = "meets" if best >= GOAL else "misses"
    batch = max((r for r in results if r["path"] == "/batch/"), key=lambda r: r["rate"])
    single = results[2]  # /batch/ with one worker, beside results[0]: the native endpoint with one
    posthog_verdict = "meets" if batch["rate"] >= POSTHOG_GOAL else "misses"
    lines += [
        "",
        f"The goal is ≥ {GOAL:,} durable events/s; the best run {verdict} it ({best:,.0f}/s, "
        f"{best / GOAL:.2f}× the goal). What limits it is CPU per event in one Python process (one GIL), not the "
        "disk: concurrent requests share one `fdatasync` (group commit). Native endpoint, one worker: the server "
        f"spends {native['server_us']:.0f} µs of CPU per event. Timed alone (CPU µs/event): JSON parsing "
        f"{steps['parse']:.1f}, normalising and checking a request's events column-wise {steps['normalize']:.1f}, "
        f"appending to the store with {CLIENTS} writers (dedupe keys, group commit, write-ahead log, fsync) "
        f"{steps['append']:.1f}; HTTP (uvicorn, the event loop, the kernel's TCP work) and the hand-offs to the "
        f"commit thread about {max(other, 0):.0f}. At that cost one core tops out near "
        f"{1e6 / native['server_us']:,.0f} events/s. `--workers 2` runs two processes, but the kernel hands the 8 "
        "connections to them unevenly and each must also learn the other's dedupe keys, so on this 2-core "
        "machine (shared with the clients) it gains little; with many clients it spreads the load.",
        "",
        "`POST /batch/` gets what posthog-python sends (`uuid`, ISO `timestamp`, `sent_at`, properties holding "
        f"`channel`). Its goal is ≥ {POSTHOG_GOAL:,} events/s; its best run {posthog_verdict} it "
        f"({batch['rate']:,.0f}/s with `--workers {batch['workers']}`). With one worker each, in the same run: "
        f"{single['rate']:,.0f}/s (median {single['median']:,.0f}) against the native endpoint's "
        f"{native['rate']:,.0f}/s (median {native['median']:,.0f}), at {single['server_us']:.0f} µs of server CPU "
        f"per event against {native['server_us']:.0f}. The extra is PostHog's mapping (distinct id, clock-skew "
        "correction, properties moved to columns), done a field at a time for the whole request: "
        f"{steps['posthog_map']:.1f} µs/event timed alone, then {steps['posthog_normalize']:.1f} to normalise its "
        f"columns; mapping one event at a time, as before, takes {steps['posthog_map_one_by_one']:.1f} µs/event "
        "(it is still the reference the column-wise mapping is tested against, and takes over for a batch that "
        "mapping declines).",
        "",
        "Reproduce: `.venv/bin/python -m bench.run ingest_http`.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())
