"""Group commit: concurrent callers share one write and one ``fdatasync``.

The first caller to find no commit in progress becomes the leader: it takes every batch queued so
far, commits them together, and hands each caller its own result. Callers arriving meanwhile queue up
and are committed by the next leader. Nobody waits for a timer, so a lone caller pays one fsync and
eight concurrent callers pay about one fsync between them.

Callers that must not block (the HTTP server's event loop) use :meth:`GroupCommitter.submit_nowait`: their
batch joins the same queue and a callback receives the outcome. A flusher thread, started on first use,
leads the groups nobody else is leading, so such a batch never waits for a blocking caller to come by.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class Ticket(Generic[Item, Result]):
    item: Item
    result: Result | None = None
    error: BaseException | None = None
    done: bool = False
    on_done: Callable[[Ticket[Item, Result]], None] | None = None


@dataclass
class GroupCommitter(Generic[Item, Result]):
    """``commit(tickets)`` must set ``result`` or ``error`` on every ticket and must not raise."""

    commit: Callable[[list[Ticket[Item, Result]]], None]
    _cv: threading.Condition = field(default_factory=threading.Condition)
    _queue: list[Ticket[Item, Result]] = field(default_factory=list)
    _busy: bool = False
    _flusher: threading.Thread | None = None
    _flusher_idle: bool = False
    _closing: bool = False

    def submit(self, item: Item) -> Result:
        ticket: Ticket[Item, Result] = Ticket(item)
        with self._cv:
            self._queue.append(ticket)
            while not ticket.done:
                if self._busy:
                    self._cv.wait()
                    continue
                self._lead()
        if ticket.error is not None:
            raise ticket.error
        assert ticket.result is not None
        return ticket.result

    def submit_nowait(self, item: Item, on_done: Callable[[Ticket[Item, Result]], None]) -> None:
        """Queue ``item``; ``on_done(ticket)`` is called, from whichever thread commits it, once it is settled."""
        with self._cv:
            if self._closing:
                raise RuntimeError("the group committer is closed")
            self._queue.append(Ticket(item, on_done=on_done))
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush, name="sopflow-commit", daemon=True)
                self._flusher.start()
            elif self._flusher_idle:  # a busy flusher looks at the queue again when its commit is done
                self._cv.notify_all()

    def close(self) -> None:
        """Commit what is queued, then stop the flusher thread."""
        with self._cv:
            self._closing = True
            flusher = self._flusher
            self._cv.notify_all()
        if flusher is not None and flusher is not threading.current_thread():
            flusher.join()

    def _lead(self) -> None:
        """Commit the queue as one group (call with ``_cv`` held and no commit in progress)."""
        self._busy = True
        group, self._queue = self._queue, []
        self._cv.release()
        try:
            self._run(group)
        finally:
            self._cv.acquire()
            self._busy = False
            self._cv.notify_all()

    def _flush(self) -> None:
        with self._cv:
            while True:
                if self._queue and not self._busy:
                    self._lead()
                elif self._closing and not self._queue:
                    return
                else:
                    self._flusher_idle = True
                    self._cv.wait()
                    self._flusher_idle = False

    def _run(self, group: list[Ticket[Item, Result]]) -> None:
        try:
            self.commit(group)
        except BaseException as exc:  # every waiter must learn the outcome, whatever it is
            for ticket in group:
                if ticket.result is None and ticket.error is None:
                    ticket.error = exc
        for ticket in group:
            ticket.done = True
        for ticket in group:
            if ticket.on_done is not None:
                # One caller gone (its event loop closed) must not keep the others from their outcome.
                with contextlib.suppress(Exception):
                    ticket.on_done(ticket)
