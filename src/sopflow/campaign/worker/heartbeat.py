"""Keeping the leases of a batch alive while its requests are in flight.

A lease is short so that a dead worker's tasks are recovered quickly, but a batch to a slow receiver can
take longer than one lease (each request may run to its timeout). While the requests run, a thread extends
the leases of the batch's ``sending`` tasks every third of a lease; if the worker dies, the extensions
stop with it and the tasks are recovered one lease later.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from types import TracebackType

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from sopflow.campaign.worker.context import Context, lease_until
from sopflow.store.runs import Task


class Heartbeat:
    def __init__(self, ctx: Context, task_ids: list[int]) -> None:
        self.ctx = ctx
        self.task_ids = task_ids
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sopflow-worker-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        every = max(0.2, self.ctx.options.lease_seconds / 3)
        while not self._stop.wait(every):
            try:
                with self.ctx.database.sessions.begin() as session:
                    session.execute(
                        update(Task)
                        .where(
                            Task.id.in_(self.task_ids),
                            Task.lease_owner == self.ctx.name,
                            Task.state == "sending",
                        )
                        .values(lease_expires_at=lease_until(datetime.now(UTC), self.ctx.options))
                        .execution_options(synchronize_session=False)
                    )
            except SQLAlchemyError:
                continue  # a busy database: the next beat tries again, well within the lease
