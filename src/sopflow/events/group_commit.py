"""Group commit: concurrent callers share one write and one ``fdatasync``.

The first caller to find no commit in progress becomes the leader: it takes every batch queued so
far, commits them together, and hands each caller its own result. Callers arriving meanwhile queue up
and are committed by the next leader. Nobody waits for a timer, so a lone caller pays one fsync and
eight concurrent callers pay about one fsync between them.
"""

from __future__ import annotations

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


@dataclass
class GroupCommitter(Generic[Item, Result]):
    """``commit(tickets)`` must set ``result`` or ``error`` on every ticket and must not raise."""

    commit: Callable[[list[Ticket[Item, Result]]], None]
    _cv: threading.Condition = field(default_factory=threading.Condition)
    _queue: list[Ticket[Item, Result]] = field(default_factory=list)
    _busy: bool = False

    def submit(self, item: Item) -> Result:
        ticket: Ticket[Item, Result] = Ticket(item)
        with self._cv:
            self._queue.append(ticket)
            while not ticket.done:
                if self._busy:
                    self._cv.wait()
                    continue
                self._busy = True
                group, self._queue = self._queue, []
                self._cv.release()
                try:
                    self._run(group)
                finally:
                    self._cv.acquire()
                    self._busy = False
                    self._cv.notify_all()
        if ticket.error is not None:
            raise ticket.error
        assert ticket.result is not None
        return ticket.result

    def _run(self, group: list[Ticket[Item, Result]]) -> None:
        try:
            self.commit(group)
        except BaseException as exc:  # every waiter must learn the outcome, whatever it is
            for ticket in group:
                if ticket.result is None and ticket.error is None:
                    ticket.error = exc
        for ticket in group:
            ticket.done = True
