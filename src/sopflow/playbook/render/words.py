"""Numbers, times and playbook conditions as words in the user's language, for the rendered SOP."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sopflow.i18n import N_, _, current_language
from sopflow.playbook.model import Audience, Condition, Criterion, ExitCondition, Playbook
from sopflow.playbook.model.base import Scalar

EMPTY = "—"

_WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
_OPERATORS = {"=": "=", "!=": "≠", ">": ">", ">=": "≥", "<": "<", "<=": "≤"}
_CURRENCY_SIGNS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "JP¥", "HKD": "HK$"}


# Punctuation is not a message: it follows the language, so it lives here rather than in the catalogs.
_PUNCTUATION = {
    "zh_CN": {"list": "、", "clauses": "；", "colon": "：", "open": "（", "close": "）"},
    "en": {"list": ", ", "clauses": "; ", "colon": ": ", "open": " (", "close": ")"},
}


def _punctuation() -> dict[str, str]:
    return _PUNCTUATION.get(current_language(), _PUNCTUATION["en"])


def join(items: Iterable[str]) -> str:
    """A list in running text: 「a、b」 in Chinese, "a, b" in English."""
    return _punctuation()["list"].join(items)


def join_clauses(items: Iterable[str]) -> str:
    return _punctuation()["clauses"].join(items)


def or_empty(text: str) -> str:
    return text if text.strip() else EMPTY


def number(value: float) -> str:
    """Thousands separators; no decimals for whole numbers, else at most two."""
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def percent(rate: float) -> str:
    text = f"{rate * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def money(amount: float, currency: str) -> str:
    sign = _CURRENCY_SIGNS.get(currency)
    return f"{sign}{number(amount)}" if sign else f"{number(amount)} {currency}"


def yes_no(flag: bool) -> str:
    return _("Yes") if flag else _("No")


def moment(value: datetime) -> str:
    """``2026-11-28 Sat 10:00`` (weekday translated): the local time operators read."""
    return f"{value:%Y-%m-%d} {_(_WEEKDAYS[value.weekday()])} {value:%H:%M}"


def labelled(label: str, value: str) -> str:
    """``Owner: 小王`` / ``负责人：小王`` (full-width colon in Chinese); ``Materials:`` before a list."""
    return f"{label}{_punctuation()['colon']}{value}".rstrip()


def parenthetical(text: str, aside: str) -> str:
    """``text (aside)``, with full-width brackets in Chinese; just ``text`` without an aside."""
    if not aside:
        return text
    punct = _punctuation()
    return f"{text}{punct['open']}{aside}{punct['close']}"


def node_and_time(node: str, time: str) -> str:
    """A D-offset with its absolute time: ``D0 20:00 (2026-12-01 Tue 20:00)``; the node alone without one."""
    return parenthetical(node, time)


def _scalar(value: Scalar) -> str:
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, float):
        return number(value)
    return str(value)


def _value(value: Scalar | list[Scalar]) -> str:
    if isinstance(value, list):
        return "[" + join(_scalar(v) for v in value) + "]"
    return _scalar(value)


def condition(cond: Condition) -> str:
    if cond.op == "in":
        return _("{property} is one of {value}", property=cond.property, value=_value(cond.value))
    if cond.op == "contains":
        return _("{property} contains {value}", property=cond.property, value=_value(cond.value))
    return f"{cond.property} {_OPERATORS[cond.op]} {_value(cond.value)}"


def conditions(conds: Sequence[Condition]) -> str:
    return join(condition(c) for c in conds)


def event_with_filter(event: str, where: Sequence[Condition]) -> str:
    if not where:
        return event
    return _("{event} where {conditions}", event=event, conditions=conditions(where))


def criterion(crit: Criterion) -> str:
    event = event_with_filter(crit.event, crit.where)
    if crit.min_count == 1:
        text = _("did {event}", event=event)
    else:
        text = _("did {event} at least {count} times", event=event, count=crit.min_count)
    if crit.within:
        text = _("{criterion} within {duration}", criterion=text, duration=crit.within)
    return text


def _stage_name(playbook: Playbook, stage_id: str) -> str:
    return next((s.name for s in playbook.funnel.stages if s.id == stage_id), stage_id)


def stage_name(playbook: Playbook, stage_id: str | None) -> str:
    return _stage_name(playbook, stage_id) if stage_id else ""


def audience(aud: Audience | None, playbook: Playbook) -> str:
    """A step's audience filter in words; every clause must hold."""
    if aud is None:
        return _("all users of the campaign")
    clauses = []
    if aud.personas:
        names = {p.id: p.name for p in playbook.personas}
        clauses.append(_("personas: {names}", names=join(names.get(p, p) for p in aud.personas)))
    if aud.channels:
        names = {c.id: c.name for c in playbook.channels}
        clauses.append(_("came through: {names}", names=join(names.get(c, c) for c in aud.channels)))
    if aud.reached:
        clauses.append(_("have reached stage {stage}", stage=_stage_name(playbook, aud.reached)))
    if aud.not_reached:
        clauses.append(_("have not reached stage {stage}", stage=_stage_name(playbook, aud.not_reached)))
    if aud.where:
        clauses.append(_("where {conditions}", conditions=conditions(aud.where)))
    return join_clauses(clauses) if clauses else _("all users of the campaign")


def exit_condition(exit_when: ExitCondition | None, playbook: Playbook) -> str:
    if exit_when is None:
        return _("none")
    if exit_when.stage is not None:
        return _("skip users who have reached stage {stage}", stage=_stage_name(playbook, exit_when.stage))
    return _("skip users who have already done {event}", event=exit_when.event)
