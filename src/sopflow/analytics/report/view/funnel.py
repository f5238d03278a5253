"""The funnel and AARRR sections: persons per step or stage, each rate beside what it divides."""

from __future__ import annotations

from typing import Any

from sopflow.analytics.report.charts import BarItem, bar_chart
from sopflow.analytics.report.format import DASH, count, duration, percent, ratio_basis
from sopflow.analytics.report.view.blocks import Bars, Cell, Notes, SectionView, TableBlock, num, range_text
from sopflow.i18n import _

OTHER, NONE_VALUE = "(other)", "(none)"


def funnel_section(report: dict[str, Any], data: dict[str, Any]) -> SectionView:
    result, stages = data, report["stages"]
    steps = result["steps"]
    first = steps[0]["users"] if steps else 0
    items, rows = [], []
    for i, step in enumerate(steps):
        stage = stages[i] if i < len(stages) else {"name": step["name"], "event": step["name"]}
        previous = steps[i - 1]["users"] if i else None
        expected = stage.get("expected_rate") if i else None
        plan_users = previous * expected if previous is not None and expected is not None else None
        label = f"{step['index']}. {stage['name']}"
        items.append(
            BarItem(
                label=label,
                value=step["users"],
                text=_(
                    "{n} persons · {rate} of step 1",
                    n=count(step["users"]),
                    rate=percent(step["rate_from_first"]),
                ),
                note=_step_note(step, previous, expected, first),
                plan=plan_users,
                plan_text=_("plan: {rate} of the previous step", rate=percent(expected)) if expected else "",
            )
        )
        rows.append(
            (
                Cell(label, _("event {event}", event=stage["event"])),
                num(count(step["users"])),
                num(percent(step["rate_from_previous"]), ratio_basis(step["users"], previous) if i else ""),
                num(percent(step["rate_from_first"]), ratio_basis(step["users"], first)),
                num(percent(expected) if expected is not None else DASH),
                num(duration(step["median_seconds_from_previous"])),
                num(duration(step["p90_seconds_from_previous"])),
            )
        )
    window = duration(result["window_seconds"])
    blocks: list[Any] = [
        Bars(
            bar_chart(items),
            _("Persons reaching each stage; the line under a bar is its conversion from the previous stage."),
            legend=_("Tick: persons the plan expects from the previous stage's actual persons."),
        ),
        TableBlock(
            _("Stage by stage"),
            (
                _("Stage"),
                _("Persons"),
                _("Of previous stage"),
                _("Of stage 1"),
                _("Plan"),
                _("Median time"),
                _("P90 time"),
            ),
            tuple(rows),
        ),
    ]
    if result.get("breakdown"):
        blocks.append(_by_channel(report, result, stages))
    scope = _(
        "Persons, each counted once: an attempt starts at a stage-1 event in the range {range}; later stages "
        "count within {window} of it, in order; the best attempt counts. Rates: persons at a stage ÷ persons "
        "at the previous stage, and ÷ persons at stage 1 ({first}). Engine {engine}.",
        range=range_text(result.get("range"), report.get("data")),
        window=window,
        first=count(first),
        engine=result.get("engine", DASH),
    )
    return SectionView("funnel", _("Funnel"), scope, tuple(blocks))


def _step_note(step: dict[str, Any], previous: int | None, expected: float | None, first: int) -> str:
    if previous is None:
        return _("stage 1: the denominator of every rate ({n} persons)", n=count(first))
    text = _(
        "{rate} of the previous stage ({basis})",
        rate=percent(step["rate_from_previous"]),
        basis=ratio_basis(step["users"], previous),
    )
    if expected is not None:
        text += " · " + _("plan {rate}", rate=percent(expected))
    return text


def _by_channel(report: dict[str, Any], result: dict[str, Any], stages: list[dict[str, Any]]) -> TableBlock:
    names = report.get("channels", {})
    shown = {OTHER: _("(other)"), NONE_VALUE: _("(no channel)")}
    rows = []
    for group in result["breakdown"]:
        steps = group["steps"]
        entered, last = steps[0]["users"], steps[-1]["users"]
        value = group["value"]
        rows.append(
            (
                Cell(shown.get(value) or names.get(value, value)),
                *[num(count(s["users"])) for s in steps],
                num(percent(steps[-1]["rate_from_first"]), ratio_basis(last, entered)),
            )
        )
    headers = (_("Channel of entry"), *[s["name"] for s in stages], _("Stage 1 to last"))
    return TableBlock(_("By the channel of the entry event (persons)"), headers, tuple(rows))


def aarrr_section(report: dict[str, Any], data: dict[str, Any]) -> SectionView:
    stages = data["stages"]
    acquisition = stages[0]["users"] if stages else None
    stage_names = {s["id"]: s["name"] for s in report["stages"]}
    items, rows = [], []
    previous: int | None = None
    for stage in stages:
        users = stage["users"]
        tagged = ", ".join(stage_names.get(s, s) for s in stage["funnel_stages"])
        if stage["stage"] == "referral" and not tagged:
            tagged = _("persons who invited someone")
        items.append(
            BarItem(
                label=stage["name"],
                value=users,
                text=DASH if users is None else _("{n} persons", n=count(users)),
                note=_aarrr_note(stage, acquisition, previous)
                if users is not None
                else _("no funnel stage tagged"),
                tone="t1",
            )
        )
        rows.append(
            (
                Cell(stage["name"], tagged),
                num(count(users)),
                num(
                    percent(stage["rate_from_acquisition"]),
                    ratio_basis(users, acquisition) if users is not None else "",
                ),
                num(
                    percent(stage["rate_from_previous"]),
                    ratio_basis(users, previous) if users is not None and previous is not None else "",
                ),
            )
        )
        if users is not None:
            previous = users
    scope = _(
        "Persons who did the event of a funnel stage tagged with the AARRR stage, in the range {range}; "
        "Referral: persons who invited someone ({invitees} invitees). Rates ÷ Acquisition ({acquisition} "
        "persons) and ÷ the previous stage with a count.",
        range=range_text(data.get("range"), report.get("data")),
        invitees=count(data.get("invitees")),
        acquisition=count(acquisition),
    )
    blocks = (
        Bars(bar_chart(items), _("The five AARRR stages (pirate metrics)")),
        TableBlock(
            _("AARRR stages"),
            (_("Stage"), _("Persons"), _("Of acquisition"), _("Of previous stage")),
            tuple(rows),
        ),
    )
    notes: tuple[Notes, ...] = ()
    if data.get("unresolved_invitees"):
        notes = (
            Notes(
                _("Note"),
                (
                    _(
                        "{n} invitees name an inviter not found in the data.",
                        n=count(data["unresolved_invitees"]),
                    ),
                ),
            ),
        )
    return SectionView("aarrr", _("AARRR"), scope, blocks + notes)


def _aarrr_note(stage: dict[str, Any], acquisition: int | None, previous: int | None) -> str:
    if stage["stage"] == "acquisition":
        return _("the denominator of the rates ({n} persons)", n=count(acquisition))
    text = _(
        "{rate} of acquisition ({basis})",
        rate=percent(stage["rate_from_acquisition"]),
        basis=ratio_basis(stage["users"], acquisition),
    )
    if previous is not None:
        text += " · " + _(
            "{rate} of the previous stage ({basis})",
            rate=percent(stage["rate_from_previous"]),
            basis=ratio_basis(stage["users"], previous),
        )
    return text
