"""``python -m sopflow.channels.receivers --port P [--secret S] [--log FILE]``: a receiver in its own process.

It prints ``listening on URL`` once ready and runs until SIGTERM or Ctrl-C. The secret may come from
``SOPFLOW_RECEIVER_SECRET`` instead of the command line (which other users of the machine can read).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from sopflow.channels.receivers.webhook_receiver import start_receiver


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sopflow.channels.receivers", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret", default=os.environ.get("SOPFLOW_RECEIVER_SECRET"))
    parser.add_argument("--log", type=Path, default=None, help="append each delivery as a JSON line here")
    parser.add_argument("--fail-next", type=int, default=0, help="answer the first N requests with 503")
    parser.add_argument(
        "--delay", type=float, default=0.0, help="answer every request after this many seconds"
    )
    args = parser.parse_args(argv)
    receiver = start_receiver(secret=args.secret or None, host=args.host, port=args.port, log=args.log)
    receiver.behave(fail_next=args.fail_next, delay=args.delay)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"listening on {receiver.url}", flush=True)
    stop.wait()
    receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
