"""Part 1 of the SOP (第一部分 项目框架和方案草案): meta, brief, research, personas, persona kit, team,
channels with their estimate inputs, funnel, referral, targets, costs and policies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sopflow.i18n import _
from sopflow.playbook.labels import label
from sopflow.playbook.model import Channel, Persona, Playbook, Target, parse_metric
from sopflow.playbook.render import words
from sopflow.playbook.render.blocks import (
    Block,
    Bullets,
    CheckItem,
    Checklist,
    Fields,
    Paragraph,
    Part,
    Section,
    Table,
)
from sopflow.playbook.timenode import parse_time_node

EMPTY = words.EMPTY


def framework_part(playbook: Playbook, start: datetime | None) -> Part:
    builders: list[tuple[str, str, Callable[[Playbook], tuple[Block, ...]]]] = [
        ("basics", _("Basic information"), lambda pb: (_meta_fields(pb, start),)),
        ("brief", _("Background, purpose and goals"), _brief),
        ("research", _("Pre-planning research"), _research),
        ("personas", _("Personas"), _personas),
        ("persona-kit", _("Persona kit (six items)"), _persona_kit),
        ("team", _("Team and roles"), _team),
        ("channels", _("Channels and estimate inputs"), _channels),
        ("funnel", _("Funnel stages"), _funnel),
        ("referral", _("Referral (fission)"), _referral),
        ("targets", _("Targets"), _targets),
        ("costs", _("Other costs"), _costs),
        ("policies", _("Policies"), _policies),
    ]
    sections = tuple(
        Section(title=title, anchor=anchor, blocks=build(playbook)) for anchor, title, build in builders
    )
    return Part(title=_("Part 1 · Framework and plan"), anchor="part-1", sections=sections)


def _span(playbook: Playbook, start: datetime | None) -> str:
    span = playbook.timeline.span
    text = f"{span.start} – {span.end}"
    if start is None:
        return text
    first = start + timedelta(seconds=parse_time_node(span.start))
    last = start + timedelta(seconds=parse_time_node(span.end))
    return words.node_and_time(text, f"{words.moment(first)} – {words.moment(last)}")


def _meta_fields(playbook: Playbook, start: datetime | None) -> Fields:
    meta = playbook.meta
    return Fields(
        (
            (_("Name"), meta.name),
            (_("Playbook id"), meta.id),
            (_("Version"), meta.version),
            (_("Owner"), meta.owner),
            (_("Summary"), words.or_empty(meta.summary)),
            (_("Tags"), words.join(meta.tags) or EMPTY),
            (_("Timezone"), meta.timezone),
            (_("Currency"), meta.currency),
            (_("Campaign span"), _span(playbook, start)),
        )
    )


def _brief(playbook: Playbook) -> tuple[Block, ...]:
    brief = playbook.brief
    return (
        Fields(((_("Background"), brief.background), (_("Purpose"), brief.purpose))),
        Paragraph(_("Goals")),
        Bullets(tuple(brief.goals)),
    )


def _research(playbook: Playbook) -> tuple[Block, ...]:
    items = tuple(
        CheckItem(text=label("research", key), done=item.done, detail=item.notes)
        for key, item in playbook.brief.research.items()
    )
    return (Checklist(items),)


def _persona_row(persona: Persona) -> tuple[str, ...]:
    age = f"{persona.age[0]}–{persona.age[1]}" if persona.age else EMPTY
    identify = [words.condition(c) for c in persona.properties] + [
        words.criterion(c) for c in persona.criteria
    ]
    return (
        persona.name,
        words.or_empty(persona.description),
        age,
        label("gender", persona.gender),
        words.join(persona.preferences) or EMPTY,
        words.join(persona.occupation) or EMPTY,
        words.join(persona.region) or EMPTY,
        persona.income or EMPTY,
        words.percent(persona.share) if persona.share is not None else EMPTY,
        words.join_clauses(identify) or EMPTY,
    )


def _personas(playbook: Playbook) -> tuple[Block, ...]:
    if not playbook.personas:
        return (Paragraph(_("No personas in this playbook.")),)
    headers = (
        _("Persona"),
        _("Description"),
        _("Age"),
        _("Gender"),
        _("Preferences"),
        _("Occupation"),
        _("Region"),
        _("Income"),
        _("Share"),
        _("Identified by"),
    )
    return (Table(headers, tuple(_persona_row(p) for p in playbook.personas)),)


def _persona_kit(playbook: Playbook) -> tuple[Block, ...]:
    kit = playbook.persona_kit
    if kit is None:
        return (Paragraph(_("No persona kit in this playbook.")),)
    items = []
    for key, item in kit.items():
        text = f"{label('persona_kit', key)}: {item.value}" if item.value else label("persona_kit", key)
        items.append(CheckItem(text=text, done=item.done, detail=item.notes))
    return (Checklist(tuple(items)),)


def _team(playbook: Playbook) -> tuple[Block, ...]:
    names = {r.id: r.name for r in playbook.team.roles}
    rows = tuple(
        (
            role.name,
            words.join(role.people) or EMPTY,
            names.get(role.escalate_to, EMPTY) if role.escalate_to else EMPTY,
        )
        for role in playbook.team.roles
    )
    return (Table((_("Role"), _("People"), _("Escalate to")), rows),)


def _optional_number(value: float | None) -> str:
    return words.number(value) if value is not None else EMPTY


def _channel_row(channel: Channel, playbook: Playbook) -> tuple[str, ...]:
    currency = playbook.meta.currency
    overrides = words.join(
        f"{words.stage_name(playbook, s)} {words.percent(r)}" for s, r in channel.rates.items()
    )
    manpower = _(
        "{people} people, {hours} h",
        people=channel.manpower.people,
        hours=words.number(channel.manpower.hours),
    )
    return (
        channel.name,
        label("channel_kind", channel.kind),
        words.number(channel.base_users),
        _optional_number(channel.posters),
        _optional_number(channel.reach_per_poster),
        words.number(channel.reach()),
        words.percent(channel.entry_rate),
        words.number(channel.reach() * channel.entry_rate),
        overrides or EMPTY,
        words.money(channel.cost, currency),
        manpower,
        words.or_empty(channel.notes),
    )


def _channels(playbook: Playbook) -> tuple[Block, ...]:
    headers = (
        _("Channel"),
        _("Kind"),
        _("Base users"),
        _("Posters"),
        _("Reach per poster"),
        _("Reach"),
        _("Entry rate"),
        _("Expected entrants"),
        _("Stage rates for this channel"),
        _("Cost"),
        _("Manpower"),
        _("Notes"),
    )
    rows = tuple(_channel_row(c, playbook) for c in playbook.channels)
    note = Paragraph(
        _(
            "Reach is the expected reach when given, else posters × reach per poster, else base users; "
            "expected entrants = reach × entry rate."
        )
    )
    return (Table(headers, rows), note)


def _funnel(playbook: Playbook) -> tuple[Block, ...]:
    currency = playbook.meta.currency
    rows = tuple(
        (
            str(i + 1),
            stage.name,
            words.event_with_filter(stage.event, stage.where),
            label("aarrr", stage.aarrr),
            words.percent(stage.expected_rate) if stage.expected_rate is not None else EMPTY,
            words.money(stage.value, currency) if stage.value else EMPTY,
        )
        for i, stage in enumerate(playbook.funnel.stages)
    )
    headers = (
        "#",
        _("Stage"),
        _("Event"),
        _("AARRR stage"),
        _("Expected rate from previous stage"),
        _("Value per person"),
    )
    window = Fields(((_("Conversion window"), playbook.funnel.window),))
    return (window, Table(headers, rows))


def _referral(playbook: Playbook) -> tuple[Block, ...]:
    referral = playbook.funnel.referral
    if referral is None:
        return (Paragraph(_("No referral (fission) in this playbook.")),)
    k = (
        " → ".join(words.number(v) for v in referral.k)
        if isinstance(referral.k, list)
        else words.number(referral.k)
    )
    return (
        Fields(
            (
                (_("K per generation"), k),
                (_("Generations at most"), str(referral.max_generations)),
                (
                    _("Inviters are users at stage"),
                    words.stage_name(playbook, referral.inviters_stage) or EMPTY,
                ),
                (_("Invitees enter at stage"), words.stage_name(playbook, referral.entry_stage) or EMPTY),
                (_("Reward per invitee"), words.money(referral.reward_per_invitee, playbook.meta.currency)),
            )
        ),
    )


def target_value(target: Target, currency: str) -> str:
    metric = parse_metric(target.metric)
    if metric is None:
        return words.number(target.expected)
    if metric.is_rate:
        return words.percent(target.expected)
    if metric.kind in ("revenue", "cost", "cac"):
        return words.money(target.expected, currency)
    return words.number(target.expected)


def _targets(playbook: Playbook) -> tuple[Block, ...]:
    if not playbook.targets:
        return (Paragraph(_("No targets in this playbook.")),)
    directions = {"at_least": _("at least"), "at_most": _("at most")}
    rows = tuple(
        (
            t.name,
            t.metric,
            directions[t.effective_direction()],
            target_value(t, playbook.meta.currency),
            words.percent(t.tolerance),
        )
        for t in playbook.targets
    )
    return (Table((_("Target"), _("Metric"), _("Direction"), _("Expected"), _("Tolerance")), rows),)


def _costs(playbook: Playbook) -> tuple[Block, ...]:
    if not playbook.costs:
        return (Paragraph(_("No costs besides the channels'.")),)
    rows = []
    for cost in playbook.costs:
        per = (
            _("per person reaching {stage}", stage=words.stage_name(playbook, cost.stage))
            if cost.per == "user"
            else _("once per campaign")
        )
        rows.append((cost.name, words.money(cost.amount, playbook.meta.currency), per))
    return (Table((_("Cost"), _("Amount"), _("Charged")), tuple(rows)),)


def _policies(playbook: Playbook) -> tuple[Block, ...]:
    quiet, cap = playbook.policies.quiet_hours, playbook.policies.frequency_cap
    quiet_text = f"{quiet.start} – {quiet.end}" if quiet else _("none")
    cap_text = (
        _("at most {count} touch(es) per user every {period}", count=cap.max_touches, period=cap.per)
        if cap
        else _("none")
    )
    return (Fields(((_("Quiet hours"), quiet_text), (_("Frequency cap"), cap_text))),)
