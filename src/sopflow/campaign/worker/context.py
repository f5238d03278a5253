"""What one worker process knows and keeps between passes: who it is, its options, and caches.

Campaign rows change (pause, cancel) and are read fresh every pass; what never changes once written is
cached for the life of the process: a frozen playbook version (parsing its YAML costs milliseconds, paid
once per version instead of once per task), staff names, and one adapter per endpoint (each holds a
connection pool, so requests to one receiver reuse their connections).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from sopflow.campaign.start import frozen_playbook
from sopflow.campaign.timing import Quiet
from sopflow.channels.base import Adapter, EndpointConfig
from sopflow.channels.registry import make_adapter
from sopflow.playbook.model import Playbook
from sopflow.store.database import Database
from sopflow.store.delivery import Endpoint
from sopflow.store.runs import Campaign, PlaybookVersion, Staff
from sopflow.workspace import Workspace

DEFAULT_LEASE = 60.0
DEFAULT_POLL = 1.0


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker runs; the defaults are the production ones, tests shorten the times."""

    once: bool = False
    concurrency: int = 4
    batch: int = 0  # tasks claimed per pass; 0: 16 per concurrent sender
    lease_seconds: float = DEFAULT_LEASE  # a claim older than this is another worker's to recover
    poll_seconds: float = DEFAULT_POLL  # longest sleep when nothing is due
    request_timeout: float = 10.0
    backoff_base: float = 2.0  # first retry after about this many seconds, doubling after each failure
    backoff_max: float = 900.0
    max_attempts: int = 8
    queue_horizon: float = 2.0  # a rate-limited send further away than this waits in the database
    audience_refresh: float = 5.0  # seconds between fresh snapshots of the events for audiences (0: never)
    max_passes: int | None = None  # stop after this many passes (tests)

    @property
    def claim_size(self) -> int:
        return self.batch or max(16, 16 * self.concurrency)


@dataclass(frozen=True)
class Policies:
    playbook: Playbook
    quiet: Quiet | None
    zone: ZoneInfo


@dataclass
class Context:
    database: Database
    workspace: Workspace
    options: WorkerOptions
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
    next_sweep: float = 0.0  # time.monotonic() of the next overdue/touch sweep
    _policies: dict[int, Policies] = field(default_factory=dict)
    _staff: dict[int, Staff] = field(default_factory=dict)
    _adapters: dict[int, tuple[Endpoint, Adapter]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def actor(self) -> str:
        return f"worker:{self.name}"

    @property
    def is_postgres(self) -> bool:
        return self.database.engine.dialect.name == "postgresql"

    def policies(self, session: Session, campaign: Campaign) -> Policies:
        known = self._policies.get(campaign.playbook_version_id)
        if known is None:
            version = session.get(PlaybookVersion, campaign.playbook_version_id)
            assert version is not None
            playbook = frozen_playbook(version)
            known = Policies(playbook, Quiet.of(playbook.policies.quiet_hours), ZoneInfo(campaign.timezone))
            self._policies[campaign.playbook_version_id] = known
        if known.zone.key != campaign.timezone:  # two campaigns of one version in different zones
            return Policies(known.playbook, known.quiet, ZoneInfo(campaign.timezone))
        return known

    def staff(self, session: Session, staff_id: int) -> Staff:
        known = self._staff.get(staff_id)
        if known is None:
            row = session.get(Staff, staff_id)
            assert row is not None
            session.expunge(row)
            known = self._staff[staff_id] = row
        return known

    def adapter(self, session: Session, endpoint_id: int) -> tuple[Endpoint, Adapter]:
        with self._lock:
            known = self._adapters.get(endpoint_id)
            if known is None:
                row = session.get(Endpoint, endpoint_id)
                assert row is not None
                session.expunge(row)
                config = EndpointConfig(
                    name=row.name,
                    kind=row.kind,
                    url=row.url,
                    secret=row.secret,
                    options=dict(row.options or {}),
                )
                known = (row, make_adapter(config, timeout=self.options.request_timeout))
                self._adapters[endpoint_id] = known
            return known

    def close(self) -> None:
        for _row, adapter in self._adapters.values():
            close = getattr(adapter, "close", None)
            if close is not None:
                close()
        self._adapters.clear()


def lease_until(now: datetime, options: WorkerOptions, extra: float = 0.0) -> datetime:
    from datetime import timedelta

    return now + timedelta(seconds=options.lease_seconds + extra)
