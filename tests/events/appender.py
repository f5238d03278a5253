"""A separate process that appends to a workspace's event store (run by the multi-process tests).

``python -m tests.events.appender WORKSPACE PREFIX BATCHES [--hold] [--shared N] [--compact]``: appends
BATCHES batches of 50 events for users PREFIX-0…, plus N events every appender shares, prints
``acked {json}`` after each durable append, then sleeps when ``--hold`` (to be killed) or exits.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tests.events.helpers import event

from sopflow.events.store import EventStore
from sopflow.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workspace", type=Path)
    parser.add_argument("prefix")
    parser.add_argument("batches", type=int)
    parser.add_argument("--hold", action="store_true")
    parser.add_argument("--shared", type=int, default=0)
    parser.add_argument("--compact", action="store_true")
    args = parser.parse_args()
    store = EventStore.open(Workspace(args.workspace), lock_timeout=60)
    accepted = duplicates = 0
    for batch in range(args.batches):
        rows = [event("visit", f"{args.prefix}-{batch}-{i}", "2024-03-01 10:00") for i in range(50)]
        rows += [event("visit", f"shared-{i}", "2024-03-01 10:00") for i in range(args.shared)]
        result = store.append_rows(rows)
        accepted += result.accepted
        duplicates += result.duplicates
        if args.compact and batch % 5 == 4:
            store.compact()
        print("acked", json.dumps({"accepted": accepted, "duplicates": duplicates}), flush=True)
    if args.hold:
        time.sleep(120)
    store.close()


if __name__ == "__main__":
    main()
