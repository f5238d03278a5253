"""Compare two published versions of a playbook: a unified diff of the YAML and the plan's key numbers.

The numbers are the estimate's (:mod:`sopflow.playbook.estimate`) for each version's frozen content:
participants (``new_users``), referred users, conversions (users at the revenue stage), revenue, cost,
profit, ROI, CAC and K-factor. ``change`` is ``to − from``; ``relative_change`` is that ÷ ``from`` (None
when either value is missing or ``from`` is 0).

JSON shape of ``sopflow playbook diff --json``::

    {"playbook_id", "from": version, "to": version, "same_content": bool,
     "yaml_diff": str (unified diff, "" when the texts are equal),
     "numbers": [{"metric", "from", "to", "change", "relative_change"}]}
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from sopflow.i18n import N_
from sopflow.playbook.estimate import Plan, clean_numbers, estimate, revenue_stage
from sopflow.playbook.loader import parse_playbook
from sopflow.playbook.model import Playbook
from sopflow.playbook.problems import PlaybookInvalid
from sopflow.playbook.versions import VersionPublic, public, version_row
from sopflow.store.runs import PlaybookVersion

_REL_EPSILON = 1e-9
# metric → its label (translated where shown). The order is the table's.
KEY_NUMBERS: dict[str, str] = {
    "new_users": N_("Participants (new users)"),
    "referred_users": N_("Referred users"),
    "conversions": N_("Conversions (users at the revenue stage)"),
    "revenue": N_("Revenue"),
    "cost": N_("Cost"),
    "profit": N_("Profit"),
    "roi": N_("ROI (revenue ÷ cost)"),
    "cac": N_("CAC (cost ÷ paying users)"),
    "k_factor": N_("K-factor"),
}


@dataclass(frozen=True)
class NumberChange:
    metric: str
    before: float | None
    after: float | None

    @property
    def change(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        change = self.after - self.before
        # The same number computed along two paths differs in its last bits: that is no change.
        if abs(change) <= _REL_EPSILON * max(abs(self.before), abs(self.after), 1.0):
            return 0.0
        return change

    @property
    def relative_change(self) -> float | None:
        change = self.change
        if change is None or not self.before:
            return None
        return change / self.before

    def as_json(self) -> dict[str, Any]:
        data = {
            "metric": self.metric,
            "from": self.before,
            "to": self.after,
            "change": self.change,
            "relative_change": self.relative_change,
        }
        cleaned: dict[str, Any] = clean_numbers(data)
        return cleaned


@dataclass(frozen=True)
class VersionDiff:
    playbook_id: str
    before: VersionPublic
    after: VersionPublic
    yaml_diff: list[str]  # lines of a unified diff, without line ends
    numbers: list[NumberChange]

    @property
    def same_content(self) -> bool:
        return self.before.content_hash == self.after.content_hash

    def as_json(self) -> dict[str, Any]:
        return {
            "playbook_id": self.playbook_id,
            "from": self.before.as_json(),
            "to": self.after.as_json(),
            "same_content": self.same_content,
            "yaml_diff": "".join(f"{line}\n" for line in self.yaml_diff),
            "numbers": [n.as_json() for n in self.numbers],
        }


def frozen(row: PlaybookVersion) -> Playbook:
    """The playbook a version holds (validated when it was published, so this only fails on tampering)."""
    playbook, problems = parse_playbook(row.content, filename=f"{row.playbook_id}@{row.version}")
    if playbook is None:
        raise PlaybookInvalid(problems)
    return playbook


def key_numbers(playbook: Playbook, plan: Plan | None = None) -> dict[str, float | None]:
    plan = plan or estimate(playbook)
    metrics = plan.metrics
    paying = revenue_stage(playbook)
    conversions = metrics.get(f"users.{playbook.funnel.stages[paying].id}") if paying is not None else None
    totals = plan.totals
    return {
        "new_users": totals.new_users,
        "referred_users": totals.referred_users,
        "conversions": conversions,
        "revenue": totals.revenue,
        "cost": totals.cost,
        "profit": totals.profit,
        "roi": totals.roi,
        "cac": totals.cac,
        "k_factor": metrics.get("k_factor"),
    }


def diff_versions(*, session: Session, playbook_id: str, before: int, after: int) -> VersionDiff:
    old = version_row(session=session, playbook_id=playbook_id, version=before)
    new = version_row(session=session, playbook_id=playbook_id, version=after)
    lines = list(
        difflib.unified_diff(
            old.content.splitlines(),
            new.content.splitlines(),
            fromfile=f"{playbook_id}@{before}",
            tofile=f"{playbook_id}@{after}",
            lineterm="",
        )
    )
    old_numbers, new_numbers = key_numbers(frozen(old)), key_numbers(frozen(new))
    numbers = [NumberChange(metric, old_numbers[metric], new_numbers[metric]) for metric in KEY_NUMBERS]
    return VersionDiff(
        playbook_id=playbook_id, before=public(old), after=public(new), yaml_diff=lines, numbers=numbers
    )
