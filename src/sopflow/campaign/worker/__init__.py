"""The campaign worker: due tasks delivered to their endpoints, exactly once across crashes and workers.

Entry point :func:`run_worker` (``sopflow worker``). The files follow a task through a pass:
:mod:`.schedule` (pending → due / missed, cancelled → skipped), :mod:`.claim` (leases),
:mod:`.policies` (audience, frequency cap), :mod:`.deliver` (sending → sent / retry / failed / uncertain),
:mod:`.ratelimit` (queueing inside a receiver's limit), :mod:`.escalate` (overdue), :mod:`.touch`
(``sop_touch`` events). ``docs/worker.md`` states the guarantees.
"""

from __future__ import annotations

from sopflow.campaign.worker.context import WorkerOptions
from sopflow.campaign.worker.loop import run_worker
from sopflow.campaign.worker.report import Notice, WorkerReport

__all__ = ["Notice", "WorkerOptions", "WorkerReport", "run_worker"]
