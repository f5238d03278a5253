"""What the Campaigns pages share: state names and colours, rates written with their denominator."""

from __future__ import annotations

from nicegui import ui

from sopflow.campaign.status import Rate
from sopflow.campaign.status_view import CAMPAIGN_LABELS, STATE_LABELS
from sopflow.i18n import _

STATE_COLORS = {
    "pending": "grey-6",
    "due": "orange-8",
    "sending": "blue-6",
    "sent": "green-7",
    "done": "green-7",
    "skipped": "grey-5",
    "failed": "red-7",
    "missed": "red-7",
    "uncertain": "amber-8",
}
CAMPAIGN_COLORS = {"running": "green-7", "paused": "orange-8", "cancelled": "grey-6", "finished": "blue-7"}


def state_label(state: str) -> str:
    return _(STATE_LABELS[state]) if state in STATE_LABELS else state


def campaign_label(status: str) -> str:
    return _(CAMPAIGN_LABELS[status]) if status in CAMPAIGN_LABELS else status


def state_badge(state: str, *, testid: str | None = None) -> None:
    badge = ui.badge(state_label(state), color=STATE_COLORS.get(state, "grey-6"))
    if testid:
        badge.props(f'data-testid="{testid}"')


def rate_value(rate: Rate) -> str:
    return "—" if rate.value is None else f"{rate.value * 100:.1f}%"


def rate_text(rate: Rate) -> str:
    """``50.0% (1/2)``: the value with what it divides, as the CLI writes it."""
    return f"{rate_value(rate)} ({rate.numerator}/{rate.denominator})"
