"""A small generic-webhook receiver: a real threaded HTTP server on 127.0.0.1 that does what a team's
system should do with sopflow's webhook (see :mod:`sopflow.channels.webhook`):

- verifies ``X-Sopflow-Signature`` (when it has a secret) and the timestamp's freshness: 401 otherwise;
- deduplicates by ``X-Sopflow-Delivery``: a repeated id is answered 200 ``{"duplicate": true}`` and counted
  in :meth:`Receiver.duplicates`, never recorded twice;
- records every delivery in memory and, when given a log, as one JSON line (``read_log`` reads it back; a
  receiver started on an existing log remembers the ids in it, so dedupe survives a restart);
- can be told to misbehave for tests: answer the next N requests with an error status, lose the reply of the
  next N after recording them (the case where a sender cannot know), or answer slowly. In-process through
  :meth:`Receiver.behave`, from another process with ``POST /_control`` (same JSON fields); ``GET /_stats``
  answers the counts.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from sopflow.channels.webhook import DELIVERY_HEADER, TOLERANCE_SECONDS, verify_webhook

MAX_BODY_BYTES = 1 << 20


@dataclass(frozen=True)
class ReceivedDelivery:
    delivery_id: str
    received_at: datetime
    body: Mapping[str, Any]
    path: str = "/"
    duplicate: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "received_at": self.received_at.isoformat(),
            "path": self.path,
            "duplicate": self.duplicate,
            "body": dict(self.body),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReceivedDelivery:
        return cls(
            delivery_id=str(data["delivery_id"]),
            received_at=datetime.fromisoformat(str(data["received_at"])),
            body=dict(data.get("body") or {}),
            path=str(data.get("path", "/")),
            duplicate=bool(data.get("duplicate", False)),
        )


def read_log(path: Path) -> list[ReceivedDelivery]:
    """Every line of a receiver's log (first deliveries and duplicates, in arrival order)."""
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                found.append(ReceivedDelivery.from_json(json.loads(line)))
            except (ValueError, KeyError):
                continue  # a line cut short by a kill of the receiver process
    return found


@dataclass
class _Behaviour:
    fail_next: int = 0
    fail_status: int = 503
    lose_replies_next: int = 0
    delay: float = 0.0


@dataclass
class _State:
    secret: str | None
    tolerance: float
    log: IO[str] | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    seen: set[str] = field(default_factory=set)
    received: list[ReceivedDelivery] = field(default_factory=list)
    duplicates: list[ReceivedDelivery] = field(default_factory=list)
    rejected: int = 0
    behaviour: _Behaviour = field(default_factory=_Behaviour)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    state: _State
    behave: Callable[..., None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: senders reuse their connection
    # One write per answer (headers and body together; flushed after each request) and no Nagle: otherwise
    # the body waits for the sender's delayed ACK of the headers, 40 ms per request.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a benchmark sends thousands of requests."""

    def _answer(self, status: int, body: Mapping[str, Any]) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        state = self.server.state
        if self.path.startswith("/_stats"):
            with state.lock:
                stats = {
                    "received": len(state.received),
                    "duplicates": len(state.duplicates),
                    "rejected": state.rejected,
                }
            self._answer(200, stats)
            return
        self._answer(404, {"error": "not found"})

    def do_POST(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._answer(413, {"error": "body too large"})
            self.close_connection = True
            return
        raw = self.rfile.read(length)
        if self.path.startswith("/_control"):
            self._control(raw)
            return
        with state.lock:
            behaviour = state.behaviour
            delay = behaviour.delay
            failing = behaviour.fail_next > 0
            if failing:
                behaviour.fail_next -= 1
        if delay:
            time.sleep(delay)
        if failing:
            self._answer(behaviour.fail_status, {"error": "told to fail"})
            return
        if state.secret is not None:
            reason = verify_webhook(state.secret, dict(self.headers.items()), raw, tolerance=state.tolerance)
            if reason is not None:
                with state.lock:
                    state.rejected += 1
                self._answer(401, {"error": reason})
                return
        delivery_id = self.headers.get(DELIVERY_HEADER, "")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not delivery_id or not isinstance(body, dict):
            with state.lock:
                state.rejected += 1
            self._answer(400, {"error": "a JSON object and an X-Sopflow-Delivery header are needed"})
            return
        lose = self._record(delivery_id, body)
        if lose is None:
            self._answer(200, {"ok": True, "duplicate": True})
        elif lose:
            self._answer(500, {"error": "reply lost (told to)"})
        else:
            self._answer(200, {"ok": True, "duplicate": False})

    def _record(self, delivery_id: str, body: dict[str, Any]) -> bool | None:
        """Record a delivery: None for a duplicate, else whether to lose the reply."""
        state = self.server.state
        with state.lock:
            duplicate = delivery_id in state.seen
            item = ReceivedDelivery(delivery_id, datetime.now(UTC), body, self.path, duplicate)
            if state.log is not None:
                state.log.write(json.dumps(item.as_json(), ensure_ascii=False) + "\n")
                state.log.flush()
            if duplicate:
                state.duplicates.append(item)
                return None
            state.seen.add(delivery_id)
            state.received.append(item)
            state.arrived.notify_all()
            lose = state.behaviour.lose_replies_next > 0
            if lose:
                state.behaviour.lose_replies_next -= 1
            return lose

    def _control(self, raw: bytes) -> None:
        try:
            options = json.loads(raw or b"{}")
            self.server.behave(**options)
        except (ValueError, TypeError) as exc:
            self._answer(400, {"error": str(exc)})
            return
        self._answer(200, {"ok": True})


class Receiver:
    """A running receiver; see the module docstring. Stop it with :meth:`stop` (or use it as a context)."""

    def __init__(self, server: _Server, thread: threading.Thread, log: IO[str] | None) -> None:
        self._server = server
        self._thread = thread
        self._log = log
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        self.url = f"http://{self.host}:{self.port}/hook"

    @property
    def _state(self) -> _State:
        return self._server.state

    def received(self) -> list[ReceivedDelivery]:
        with self._state.lock:
            return list(self._state.received)

    def duplicates(self) -> list[ReceivedDelivery]:
        with self._state.lock:
            return list(self._state.duplicates)

    def rejected(self) -> int:
        with self._state.lock:
            return self._state.rejected

    def behave(
        self,
        *,
        fail_next: int | None = None,
        fail_status: int | None = None,
        lose_replies_next: int | None = None,
        delay: float | None = None,
    ) -> None:
        """Change how the next requests are answered (only the fields given)."""
        with self._state.lock:
            b = self._state.behaviour
            if fail_next is not None:
                b.fail_next = int(fail_next)
            if fail_status is not None:
                b.fail_status = int(fail_status)
            if lose_replies_next is not None:
                b.lose_replies_next = int(lose_replies_next)
            if delay is not None:
                b.delay = float(delay)

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Block until ``count`` distinct deliveries arrived; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._state.arrived:
            while len(self._state.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._state.arrived.wait(left)
            return True

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_receiver(
    *,
    secret: str | None,
    host: str = "127.0.0.1",
    port: int = 0,
    log: Path | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> Receiver:
    """Start a receiver in a background thread (``port=0``: any free port; see ``.url``)."""
    previous = read_log(log) if log is not None else []
    handle = log.open("a", encoding="utf-8") if log is not None else None
    state = _State(secret=secret, tolerance=tolerance, log=handle)
    for item in previous:
        if not item.duplicate:
            state.seen.add(item.delivery_id)
    server = _Server((host, port), _Handler)
    server.state = state
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="sopflow-receiver", daemon=True)
    receiver = Receiver(server, thread, handle)
    server.behave = receiver.behave
    thread.start()
    return receiver
