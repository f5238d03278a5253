"""Actual values of the target metrics, under the plan's names (:mod:`sopflow.playbook.model.targets`).

==========================  =======================================================================
``users.STAGE``             persons reaching the stage, counted by the funnel (see ``stages``)
``rate.STAGE``              users.STAGE ÷ users of the previous stage (null on the first stage)
``rate_from_first.STAGE``   users.STAGE ÷ users of the first stage
``channel_users.CHANNEL``   persons whose first-stage event is in the range, by their channel (the
                            channel of their first event with one); ``channel_users.referral`` is
                            ``referred_users`` when no channel of the playbook is called ``referral``
``new_users``               users of the first stage
``referred_users``          invitees, as ``sopflow referral`` counts them (persons whose events in the
                            range carry an ``inviter_id``)
``revenue`` ``cost``        as ``sopflow roi`` computes them (exact sums, costs applied to actual counts)
``roi`` ``cac``             revenue ÷ cost; cost ÷ persons at the revenue stage
``k_factor``                as ``sopflow referral`` computes it: invitees ÷ persons who reached the
                            referral's inviters stage in the range (the first stage when none is named)
==========================  =======================================================================

Division by zero gives ``None`` (no data).
"""

from __future__ import annotations

from sopflow.analytics.referral import ReferralResult
from sopflow.analytics.roi.aggregate import RoiResult
from sopflow.analytics.targets.stages import StageCounts
from sopflow.playbook.estimate import REFERRAL_CHANNEL
from sopflow.playbook.model import Playbook


def actual_metrics(
    *, playbook: Playbook, stages: StageCounts, roi: RoiResult, referral: ReferralResult
) -> dict[str, float | None]:
    users, referred = stages.users, referral.invitees
    funnel = playbook.funnel.stages
    values: dict[str, float | None] = {f"users.{s.id}": float(users[i]) for i, s in enumerate(funnel)}
    values |= {f"rate.{s.id}": ratio(users[i], users[i - 1]) if i else None for i, s in enumerate(funnel)}
    values |= {f"rate_from_first.{s.id}": ratio(users[i], users[0]) for i, s in enumerate(funnel)}
    new_by_channel = {c.channel: c.numbers.new_users for c in roi.channels}
    values |= {f"channel_users.{c.id}": float(new_by_channel.get(c.id, 0)) for c in playbook.channels}
    if playbook.funnel.referral and REFERRAL_CHANNEL not in {c.id for c in playbook.channels}:
        values[f"channel_users.{REFERRAL_CHANNEL}"] = float(referred)
    totals = roi.totals
    values |= {
        "new_users": float(users[0]),
        "referred_users": float(referred),
        "revenue": float(totals.revenue),
        "cost": float(totals.cost),
        "roi": totals.roi,
        "cac": totals.cac,
        "k_factor": referral.k_factor,
    }
    return values


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
