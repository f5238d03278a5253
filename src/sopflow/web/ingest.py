"""The one path every HTTP way in ends on: check the whole batch, then append it to the store at once.

All events of a request are normalized together (:func:`sopflow.events.normalize_batch.normalize_batch`,
which gives exactly the rows of :func:`sopflow.events.normalize.normalize_event` and enforces the field
sizes: 200 characters for ids and names, 64 KiB of properties) before any is written, and they are appended
in one commit, which completes only when they are on disk. So a request is all-or-nothing: a bad event
rejects the batch with the field at fault (the first bad event, as the per-event rules name it), and a 200
means every event of it survives ``kill -9``.

Where the work runs (why: one process shares one GIL, so thread hand-offs cost CPU and buy no parallelism):
a small request is decoded and checked on the event loop itself, a large one in a worker thread (so the loop
keeps serving others meanwhile); the commit is queued to the store's group committer without blocking the
loop (:meth:`EventStore.submit_rows`), and concurrent requests share one ``fdatasync``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar

import pyarrow as pa
from starlette.concurrency import run_in_threadpool

from sopflow.events.normalize_batch import normalize_batch
from sopflow.events.store import AppendResult, EventStore
from sopflow.i18n import _
from sopflow.settings import Settings
from sopflow.web.errors import ApiError

INLINE_MAX_BYTES = 256 * 1024  # bodies up to this size (as sent, uncompressed) are handled on the loop
P = ParamSpec("P")
T = TypeVar("T")


def too_many_events(count: int, limit: int) -> ApiError:
    return ApiError(
        _(
            "{count} events in one request; the limit is {limit} (setting max_batch_events)",
            count=count,
            limit=limit,
        ),
        code="too_many_events",
        status=413,
    )


async def cpu_work(inline: bool, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``work`` here when ``inline`` (small: cheaper than a thread hop), else in a worker thread."""
    if inline:
        return work(*args, **kwargs)
    return await run_in_threadpool(work, *args, **kwargs)


class Ingestor:
    def __init__(self, *, store: EventStore, settings: Settings) -> None:
        self.store = store
        self._tz = settings.tz
        self._max_batch = settings.max_batch_events

    def normalize(self, raws: Sequence[Mapping[str, Any]]) -> pa.Table:
        """The canonical table of ``raws``; raises :class:`ApiError` naming the first bad event."""
        if len(raws) > self._max_batch:
            raise too_many_events(len(raws), self._max_batch)
        result = normalize_batch(raws, tz=self._tz)
        if result.errors:
            index, exc = result.errors[0]
            raise ApiError(
                _(
                    "event {index}, field {field}: {reason}",
                    index=index,
                    field=exc.field,
                    reason=exc.reason,
                ),
                code="invalid_event",
                status=422,
                field=f"batch[{index}].{exc.field}",
            )
        return result.table

    def ingest(self, raws: Sequence[Mapping[str, Any]]) -> AppendResult:
        """Normalize every event, then append them all; raises :class:`ApiError` before writing anything."""
        return self.store.append_rows(self.normalize(raws))

    async def append(self, table: pa.Table) -> AppendResult:
        """Append a normalized table; returns once it is durable, without blocking the event loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[AppendResult] = loop.create_future()

        def settle(result: AppendResult | None, error: BaseException | None) -> None:
            if future.done():  # the request was cancelled (client gone); the events are stored anyway
                return
            if error is not None:
                future.set_exception(error)
            else:
                assert result is not None
                future.set_result(result)

        def on_done(result: AppendResult | None, error: BaseException | None) -> None:
            loop.call_soon_threadsafe(settle, result, error)  # called from the committing thread

        self.store.submit_rows(table, on_done)
        return await future
