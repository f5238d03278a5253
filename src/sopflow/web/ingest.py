"""The one path every HTTP way in ends on: check the whole batch, then append it to the store at once.

All events of a request are normalized (:func:`sopflow.events.normalize.normalize_event`, which also
enforces the field sizes: 200 characters for ids and names, 64 KiB of properties) before any is written,
and they are appended in one ``append_rows`` call, which returns only when they are on disk. So a request is
all-or-nothing: a bad event rejects the batch with the field at fault, and a 200 means every event of it
survives ``kill -9``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sopflow.events.normalize import EventInvalid, normalize_event
from sopflow.events.store import AppendResult, EventStore
from sopflow.i18n import _
from sopflow.settings import Settings
from sopflow.web.errors import ApiError


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


class Ingestor:
    def __init__(self, *, store: EventStore, settings: Settings) -> None:
        self.store = store
        self._tz = settings.tz
        self._max_batch = settings.max_batch_events

    def normalize(self, raws: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        if len(raws) > self._max_batch:
            raise too_many_events(len(raws), self._max_batch)
        rows = []
        for index, raw in enumerate(raws):
            try:
                rows.append(normalize_event(raw, tz=self._tz))
            except EventInvalid as exc:
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
                ) from None
        return rows

    def ingest(self, raws: Sequence[Mapping[str, Any]]) -> AppendResult:
        """Normalize every event, then append them all; raises :class:`ApiError` before writing anything."""
        return self.store.append_rows(self.normalize(raws))
