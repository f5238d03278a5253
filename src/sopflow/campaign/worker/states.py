"""Conditional state changes of many tasks at once, each recorded in ``task_events``.

Every change the worker makes is an ``UPDATE … WHERE state = <expected> [AND lease …]``: the row changes
only if nobody changed it first (another worker, a person running ``sopflow tasks done``), and RETURNING
tells which rows this worker actually moved, so only those get an event. On SQLite this is the whole
claim protocol (one UPDATE is atomic under the database's write lock); PostgreSQL adds row locks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, insert, update
from sqlalchemy.orm import Session

from sopflow.store.runs import Task, TaskEvent

CHUNK = 500  # ids per statement: well under SQLite's bound-parameter limit
T = TypeVar("T")


def chunks(ids: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def move(
    session: Session,
    *,
    task_ids: Sequence[int],
    from_state: str,
    to: str,
    actor: str,
    now: datetime,
    reason: str | Callable[[int], str] = "",
    values: dict[str, Any] | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[int]:
    """Move the tasks still in ``from_state`` (and matching ``where``) to ``to``; returns the ids moved."""
    moved: list[int] = []
    for part in chunks(list(task_ids)):
        statement = (
            update(Task)
            .where(Task.id.in_(part), Task.state == from_state, *where)
            .values(state=to, updated_at=now, **(values or {}))
            .returning(Task.id)
            .execution_options(synchronize_session=False)
        )
        moved += [row[0] for row in session.execute(statement)]
    record(session, task_ids=moved, from_state=from_state, to=to, actor=actor, now=now, reason=reason)
    return moved


def record(
    session: Session,
    *,
    task_ids: Sequence[int],
    from_state: str | None,
    to: str,
    actor: str,
    now: datetime,
    reason: str | Callable[[int], str] = "",
) -> None:
    if not task_ids:
        return
    rows = [
        {
            "task_id": task_id,
            "at": now,
            "from_state": from_state,
            "to_state": to,
            "actor": actor,
            "reason": reason(task_id) if callable(reason) else reason,
        }
        for task_id in task_ids
    ]
    session.execute(insert(TaskEvent), rows)
