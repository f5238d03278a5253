"""AARRR (海盗模型): which of the five life-cycle stages each person reached, from the funnel's stage tags.

- A person is in an AARRR stage when they did, within the range, an event of a funnel stage tagged with
  it (``aarrr:``), meeting that stage's ``where``. Stages are counted independently (someone who paid in
  the range but signed up before it counts in revenue, not in acquisition), so a rate may exceed 100%.
- Referral: the persons who invited someone — an invitee whose first event carrying an ``inviter_id``
  (naming any raw id of the inviter) falls in the range; a person naming themself is ignored — together
  with the persons who did an event of a stage tagged ``referral``. Invitations are a relation between two
  persons, so the per-person function emits each person's inviter and ids and the aggregation joins them.
- A person's channel is the channel of their first event that has one (``"(none)"`` otherwise); a
  referral counts in the inviter's channel.
- A stage that no funnel stage is tagged with has no count (``null``), except referral, which invitations
  fill anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sopflow.analytics.aarrr.invitations import NOT_FOUND, invited_within
from sopflow.analytics.aarrr.profile import NONE, PersonProfile, ProfileSpec, stage_rules
from sopflow.analytics.frame import PersonTable
from sopflow.analytics.timerange import TimeRange
from sopflow.playbook.model import AARRR_STAGES, Playbook


@dataclass(frozen=True)
class AarrrSpec:
    profile: ProfileSpec
    tagged: tuple[tuple[int, ...], ...]  # per AARRR stage, the 0-based funnel stages tagged with it

    @property
    def person_function(self) -> PersonProfile:
        return PersonProfile(self.profile)

    def counted(self, index: int) -> bool:
        """Whether AARRR stage ``index`` has a count: a tagged stage, or referral (from invitations)."""
        return bool(self.tagged[index]) or AARRR_STAGES[index] == "referral"


def aarrr_spec(playbook: Playbook, *, time_range: TimeRange | None = None) -> AarrrSpec:
    stages = playbook.funnel.stages
    tagged = tuple(tuple(i for i, s in enumerate(stages) if s.aarrr == tag) for tag in AARRR_STAGES)
    profile = ProfileSpec(
        stages=stage_rules(playbook),
        start=time_range.start if time_range else None,
        end=time_range.end if time_range else None,
        invitations=True,
        aliases=True,
    )
    return AarrrSpec(profile=profile, tagged=tagged)


def stage_membership(table: PersonTable, spec: AarrrSpec, inviters: np.ndarray) -> np.ndarray:
    """A bool matrix, persons × the five AARRR stages: who reached which (``inviters``: the invitation join,
    from :func:`resolve_inviters`)."""
    n = len(np.asarray(table["channel_ts"]))
    member = np.zeros((n, len(AARRR_STAGES)), dtype=bool)
    for j, indexes in enumerate(spec.tagged):
        for i in indexes:
            member[:, j] |= np.asarray(table[f"stage_ts_{i + 1}"]) != NONE
    invited = inviters[(inviters >= 0) & invited_within(table, spec.profile.start, spec.profile.end)]
    member[invited, AARRR_STAGES.index("referral")] = True
    return member


def invitation_counts(table: PersonTable, spec: AarrrSpec, inviters: np.ndarray) -> tuple[int, int]:
    """Persons invited within the range: with their inviter found among the persons, and without (self-invites
    are neither)."""
    within = invited_within(table, spec.profile.start, spec.profile.end)
    found = np.count_nonzero(within & (inviters >= 0))
    return int(found), int(np.count_nonzero(within & (inviters == NOT_FOUND)))
