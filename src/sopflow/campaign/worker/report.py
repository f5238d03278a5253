"""What a worker did, for the CLI's summary and its ``--json`` shape.

Missed and failed tasks are listed one by one (never only counted), so an operator sees each task that
will not be delivered and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Notice:
    """A task that ended without delivery: missed, failed, skipped by policy, or uncertain."""

    task_id: int
    campaign_id: int
    step: str
    state: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "campaign_id": self.campaign_id,
            "step": self.step,
            "state": self.state,
            "reason": self.reason,
        }


COUNTS = (
    "passes",
    "promoted",
    "sent",
    "retried",
    "queued",
    "failed",
    "missed",
    "skipped",
    "uncertain",
    "resent",
    "capped",
    "overdue",
    "escalated",
    "touched",
)


@dataclass
class WorkerReport:
    worker: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    notices: list[Notice] = field(default_factory=list)
    listener: Callable[[Notice], None] | None = None  # told of each notice as it happens (the CLI prints)

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] += n

    def notice(self, notice: Notice) -> None:
        self.notices.append(notice)
        if self.listener is not None:
            self.listener(notice)
        if notice.state in ("missed", "failed", "skipped", "uncertain"):
            self.counts[notice.state] += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "counts": dict(self.counts),
            "notices": [n.as_json() for n in self.notices],
        }
