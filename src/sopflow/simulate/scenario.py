"""The playbook turned into the numbers the simulation draws from: channels, rates, anchors, touches, kinds.

Everything here is computed once per run; the per-chunk code only indexes these arrays.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np

from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.playbook.estimate import REFERRAL_CHANNEL, channel_rates, referral_stages, stage_rates
from sopflow.playbook.model import Playbook
from sopflow.playbook.model.base import Condition, Scalar
from sopflow.playbook.schedule import resolve_offsets
from sopflow.playbook.timenode import parse_duration, parse_time_node
from sopflow.simulate.delays import DAY, HOUR
from sopflow.simulate.rng import F64

# Phases whose steps are the team's own work, not messages to users: they produce no touches.
INTERNAL_PHASES = frozenset({"preparation", "review"})
# The delivery channel of a timeline step through which each kind of acquisition channel reaches people.
DELIVERY_OF_KIND = {
    "moments": "moments",
    "community_fission": "community_group",
    "community": "community_group",
    "official_account": "official_account",
    "mini_program": "mini_program",
    "private_chat": "private_chat",
    "offline": "offline",
    "email": "email",
}
# Negative binomial dispersion of invitees per inviter: most invite nobody, a few invite many.
REFERRAL_DISPERSION = 0.6
# The text sent when a script has variants but the base text was drawn.
BASE_VARIANT = "control"
DEFAULT_START = date(2024, 3, 4)
EXTRA_DAYS = 28
MAX_DAYS = 3650
TOUCH_EVENT = "sop_touch"  # the same name as the campaign runner's touches (issue 10), read by experiments
VISIT_EVENT = "visit"
RETURN_PAGES = (("home", 0.4), ("course", 0.3), ("community", 0.2), ("profile", 0.1))
ANON_PAGE = "landing"


@dataclass(frozen=True)
class Touch:
    """A timeline step that messages users, with its audience compiled to stage and channel indexes."""

    index: int
    id: str
    offset: float
    spread: float
    reached: int | None
    not_reached: int | None
    exits: tuple[int, ...]
    channels: tuple[int, ...] | None
    personas: tuple[int, ...] | None
    variants: tuple[str | None, ...]
    variant_cum: F64
    delivery: str


@dataclass(frozen=True)
class Referral:
    ks: tuple[float, ...]
    inviters_stage: int
    entry_stage: int
    cdfs: tuple[F64, ...]


@dataclass(frozen=True)
class Kinds:
    """Every distinct (event, properties, step, variant, revenue) of a run; a row only stores its kind."""

    names: list[str]
    properties: list[str]
    steps: list[str | None]
    variants: list[str | None]
    revenue: list[Decimal | None]
    currency: list[str | None]


@dataclass(frozen=True)
class Scenario:
    campaign: str
    run_tag: str
    d0_us: int
    start: float
    end: float
    channels: tuple[str, ...]
    channel_cum: F64
    rates: F64
    pulses: tuple[F64, ...]
    acquisition: tuple[float, float]
    window: float
    anchors: tuple[float | None, ...]
    persona_ids: tuple[str, ...]
    persona_cum: F64
    referral: Referral | None
    touches: tuple[Touch, ...]
    kinds: Kinds
    stage_kind: int
    anon_kind: int
    identify_kind: int
    return_kind: int
    return_cum: F64
    touch_kind: tuple[int, ...]

    @property
    def stage_count(self) -> int:
        return int(self.rates.shape[1])

    @property
    def referral_channel(self) -> int:
        return len(self.channels) - 1

    def stage_kind_of(self, stage: int, persona_slot: int) -> int:
        return self.stage_kind + stage * (len(self.persona_ids) + 1) + persona_slot


def default_days(playbook: Playbook) -> int:
    """The timeline's span in whole days, plus four weeks of returning users."""
    span = playbook.timeline.span
    length = parse_time_node(span.end) - parse_time_node(span.start)
    return max(1, math.ceil(length / DAY)) + EXTRA_DAYS


def build_scenario(*, playbook: Playbook, days: int, seed: int, start: date) -> Scenario:
    funnel = playbook.funnel
    offsets = {k: float(v) for k, v in resolve_offsets(playbook).items()}
    span_start = float(parse_time_node(playbook.timeline.span.start))
    horizon = (span_start, span_start + days * DAY)
    acquisition = _acquisition(playbook, offsets, span_start)
    weights = np.array([c.reach() * c.entry_rate for c in playbook.channels], dtype=np.float64)
    if not weights.sum() > 0:
        raise InvalidInput(
            _("the playbook's channels bring no users: reach × entry_rate is 0 for every channel")
        )
    personas = playbook.personas
    shares = np.array([p.share or 0.0 for p in personas], dtype=np.float64)
    if shares.sum() > 1:
        shares = shares / shares.sum()
    referral = _referral(playbook)
    rates = np.array([*channel_rates(playbook), _referral_rates(playbook)], dtype=np.float64)
    channels = (*[c.id for c in playbook.channels], REFERRAL_CHANNEL)
    touches = _touches(playbook, offsets, channels)
    kinds, marks = _kinds(playbook, touches)
    tz = ZoneInfo(playbook.meta.timezone)
    d0 = datetime.combine(start, time(0, 0), tzinfo=tz)
    return Scenario(
        campaign=playbook.meta.id,
        run_tag=_run_tag(playbook, seed, start),
        d0_us=int(d0.timestamp()) * 1_000_000,
        start=horizon[0],
        end=horizon[1],
        channels=channels,
        channel_cum=np.cumsum(weights),
        rates=rates,
        pulses=tuple(_pulses(playbook, offsets, i, acquisition) for i in range(len(playbook.channels))),
        acquisition=acquisition,
        window=float(parse_duration(funnel.window)),
        anchors=tuple(_anchor(playbook, offsets, s.id) for s in funnel.stages),
        persona_ids=tuple(p.id for p in personas),
        persona_cum=np.cumsum([*shares, max(0.0, 1.0 - shares.sum())]),
        referral=referral,
        touches=touches,
        kinds=kinds,
        stage_kind=marks["stage"],
        anon_kind=marks["anon"],
        identify_kind=marks["identify"],
        return_kind=marks["return"],
        return_cum=np.cumsum([w for _p, w in RETURN_PAGES]),
        touch_kind=tuple(marks[f"touch:{t.index}"] for t in touches),
    )


def _run_tag(playbook: Playbook, seed: int, start: date) -> str:
    """8 hex digits naming (playbook content, seed, start): event ids of different runs never collide."""
    text = f"{playbook.model_dump_json()}|{seed}|{start.isoformat()}"
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def _acquisition(playbook: Playbook, offsets: dict[str, float], span_start: float) -> tuple[float, float]:
    """From the first warm-up or launch step to the launch (the camp starts): when channel users sign up."""
    by_kind: dict[str, list[float]] = {}
    for phase in playbook.timeline.phases:
        by_kind.setdefault(phase.kind, []).extend(offsets[s.id] for s in phase.steps if s.id in offsets)
    early = by_kind.get("warm_up", []) + by_kind.get("launch", [])
    first = max(span_start, min(early)) if early else span_start
    launch = min(by_kind.get("launch", []), default=None)
    if launch is not None and launch > first:
        return first, launch
    span_end = float(parse_time_node(playbook.timeline.span.end))
    return first, first + max(DAY, (span_end - first) / 3)


def _pulses(playbook: Playbook, offsets: dict[str, float], channel: int, window: tuple[float, float]) -> F64:
    """Times of the steps that bring this channel's users: same delivery channel, acquisition, not internal."""
    kind = playbook.channels[channel].kind
    delivery = DELIVERY_OF_KIND.get(kind)
    first_stage = playbook.funnel.stages[0].id
    found = [
        offsets[s.id]
        for phase in playbook.timeline.phases
        if phase.kind not in INTERNAL_PHASES
        for s in phase.steps
        if s.id in offsets
        and s.channel == delivery
        and s.stage in (None, first_stage)
        and window[0] <= offsets[s.id] < window[1]
    ]
    return np.array(sorted(found), dtype=np.float64)


def _anchor(playbook: Playbook, offsets: dict[str, float], stage_id: str) -> float | None:
    times = [offsets[s.id] for s in playbook.timeline.steps() if s.stage == stage_id and s.id in offsets]
    return min(times) if times else None


def _referral(playbook: Playbook) -> Referral | None:
    referral = playbook.funnel.referral
    if referral is None:
        return None
    inviters, entry = referral_stages(playbook)
    ks = tuple(referral.k_for(g) for g in range(referral.max_generations))
    return Referral(ks=ks, inviters_stage=inviters, entry_stage=entry, cdfs=tuple(invite_cdf(k) for k in ks))


def _referral_rates(playbook: Playbook) -> list[float]:
    """Invitees follow the funnel's own rates and count at every stage up to the entry stage (as the plan)."""
    rates = stage_rates(playbook)
    _inviters, entry = referral_stages(playbook)
    return [1.0 if i <= entry else r for i, r in enumerate(rates)]


def invite_cdf(k: float, *, dispersion: float = REFERRAL_DISPERSION) -> F64:
    """Cumulative probabilities of 0, 1, 2… invitees: negative binomial with mean ``k``."""
    if k <= 0:
        return np.array([1.0])
    p = dispersion / (dispersion + k)
    pmf = [p**dispersion]
    total = pmf[0]
    while total < 1 - 1e-12 and len(pmf) < 100_000:
        x = len(pmf) - 1
        pmf.append(pmf[-1] * (x + dispersion) / (x + 1) * (1 - p))
        total += pmf[-1]
    return np.cumsum(pmf)


def _touches(playbook: Playbook, offsets: dict[str, float], channels: Sequence[str]) -> tuple[Touch, ...]:
    stages = {s.id: i for i, s in enumerate(playbook.funnel.stages)}
    personas = {p.id: i for i, p in enumerate(playbook.personas)}
    scripts = {s.id: s for s in playbook.scripts}
    out: list[Touch] = []
    for phase in playbook.timeline.phases:
        if phase.kind in INTERNAL_PHASES:
            continue
        for step in phase.steps:
            if step.id not in offsets:
                continue
            audience, exit_when = step.audience, step.exit_when
            exits = []
            if exit_when is not None and exit_when.stage in stages:
                exits.append(stages[exit_when.stage])
            if exit_when is not None and exit_when.event is not None:
                exits += [i for i, s in enumerate(playbook.funnel.stages) if s.event == exit_when.event]
            script = scripts.get(step.script or "")
            variants: list[str | None] = [None]
            weights = [1.0]
            if script is not None and script.variants:
                variants = [BASE_VARIANT, *[v.id for v in script.variants]]
                weights = [1.0, *[v.weight for v in script.variants]]
            spread = float(parse_duration(step.deadline)) if step.deadline else HOUR
            out.append(
                Touch(
                    index=len(out),
                    id=step.id,
                    offset=offsets[step.id],
                    spread=min(spread, DAY),
                    reached=stages.get(audience.reached or "") if audience else None,
                    not_reached=stages.get(audience.not_reached or "") if audience else None,
                    exits=tuple(exits),
                    channels=tuple(channels.index(c) for c in audience.channels if c in channels)
                    if audience and audience.channels
                    else None,
                    personas=tuple(personas[p] for p in audience.personas if p in personas)
                    if audience and audience.personas
                    else None,
                    variants=tuple(variants),
                    variant_cum=np.cumsum(weights),
                    delivery=step.channel,
                )
            )
    return tuple(out)


def _json(values: dict[str, Scalar]) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def _kinds(playbook: Playbook, touches: Sequence[Touch]) -> tuple[Kinds, dict[str, int]]:
    kinds = Kinds([], [], [], [], [], [])
    marks: dict[str, int] = {}
    currency = playbook.meta.currency

    def add(
        name: str,
        props: dict[str, Scalar],
        *,
        step: str | None = None,
        variant: str | None = None,
        value: float = 0.0,
    ) -> None:
        kinds.names.append(name)
        kinds.properties.append(_json(props))
        kinds.steps.append(step)
        kinds.variants.append(variant)
        kinds.revenue.append(Decimal(f"{value:.4f}") if value > 0 else None)
        kinds.currency.append(currency if value > 0 else None)

    marks["stage"] = 0
    persona_props = _persona_properties(playbook)
    for i, stage in enumerate(playbook.funnel.stages):
        own = satisfying_properties(stage.where)
        for slot in range(len(playbook.personas) + 1):
            add(stage.event, {**persona_props.get((i, slot), {}), **own}, value=stage.value)
    marks["anon"] = len(kinds.names)
    add(VISIT_EVENT, {"page": ANON_PAGE})
    marks["identify"] = len(kinds.names)
    add("$identify", {})
    marks["return"] = len(kinds.names)
    for page, _weight in RETURN_PAGES:
        add(VISIT_EVENT, {"page": page})
    for touch in touches:
        marks[f"touch:{touch.index}"] = len(kinds.names)
        for variant in touch.variants:
            add(TOUCH_EVENT, {"delivery_channel": touch.delivery}, step=touch.id, variant=variant)
    return kinds, marks


def _persona_properties(playbook: Playbook) -> dict[tuple[int, int], dict[str, Scalar]]:
    """Properties that make a persona's criteria match, on the first stage event each criterion names."""
    first_stage_of: dict[str, int] = {}
    for i, stage in enumerate(playbook.funnel.stages):
        first_stage_of.setdefault(stage.event, i)
    out: dict[tuple[int, int], dict[str, Scalar]] = {}
    for p, persona in enumerate(playbook.personas):
        for criterion in persona.criteria:
            index = first_stage_of.get(criterion.event)
            if index is not None:
                out.setdefault((index, p + 1), {}).update(satisfying_properties(criterion.where))
    return out


def satisfying_properties(conditions: Sequence[Condition]) -> dict[str, Scalar]:
    """One value per property that passes every condition on it (best effort for contradictory ones)."""
    grouped: dict[str, list[Condition]] = {}
    for condition in conditions:
        grouped.setdefault(condition.property, []).append(condition)
    return {name: _satisfying_value(group) for name, group in grouped.items()}


def _satisfying_value(conditions: Sequence[Condition]) -> Scalar:
    for c in conditions:
        if c.op == "=" and not isinstance(c.value, list):
            return c.value
    for c in conditions:
        if c.op == "in" and isinstance(c.value, list) and c.value:
            return c.value[0]
    low, high = -math.inf, math.inf
    numeric = False
    for c in conditions:
        if (
            isinstance(c.value, (int, float))
            and not isinstance(c.value, bool)
            and c.op in (">", ">=", "<", "<=")
        ):
            numeric = True
            bound = float(c.value) + (1 if c.op == ">" else -1 if c.op == "<" else 0)
            low, high = (max(low, bound), high) if c.op.startswith(">") else (low, min(high, bound))
    if numeric:
        value = low if low > -math.inf else high
        if low > -math.inf and high < math.inf and low > high:
            value = (low + high) / 2
        return int(value) if float(value).is_integer() else value
    for c in conditions:
        if c.op == "contains" and not isinstance(c.value, list):
            return c.value
    first = conditions[0].value
    if isinstance(first, list):
        return "other"
    if isinstance(first, bool):
        return not first
    if isinstance(first, (int, float)):
        return first + 1
    return f"{first}_other"
