"""Channels as the breakdowns show them: the playbook's first (in its order), then the others seen in the data,
then persons without a channel as ``"(none)"``; display names from the playbook."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from sopflow.analytics.frame import Coded
from sopflow.i18n import _
from sopflow.playbook.estimate import REFERRAL_CHANNEL
from sopflow.playbook.labels import label
from sopflow.playbook.model import Playbook

NO_CHANNEL = "(none)"


def channel_ids(column: Coded) -> np.ndarray:
    """Per row, the channel id text (``"(none)"`` for none), as an object array for grouping."""
    values = np.array([*column.values, NO_CHANNEL], dtype=object)
    codes = np.asarray(column.codes)
    ids: np.ndarray = values[np.where(codes >= 0, codes, len(column.values))]
    return ids


def ordered_channels(playbook: Playbook, seen: Iterable[str], weight: dict[str, int]) -> list[str]:
    """The playbook's channels (all of them, even without persons), then the others by ``weight`` descending
    (ties by id), ``"(none)"`` last."""
    seen = set(seen)
    own = [c.id for c in playbook.channels]
    others = sorted(
        {s for s in seen if s not in own and s != NO_CHANNEL}, key=lambda c: (-weight.get(c, 0), c)
    )
    tail = [NO_CHANNEL] if NO_CHANNEL in seen else []
    return [*own, *others, *tail]


def channel_name(playbook: Playbook, channel: str) -> str:
    for c in playbook.channels:
        if c.id == channel:
            return c.name
    if channel == REFERRAL_CHANNEL:
        return label("channel_kind", "referral")
    if channel == NO_CHANNEL:
        return _("(no channel)")
    return channel


def count_by_channel(ids: np.ndarray) -> dict[str, int]:
    """Rows per channel id, from :func:`channel_ids` (or a selection of them)."""
    if not len(ids):
        return {}
    values, counts = np.unique(ids.astype(str), return_counts=True)
    return {str(v): int(c) for v, c in zip(values.tolist(), counts.tolist(), strict=True)}
