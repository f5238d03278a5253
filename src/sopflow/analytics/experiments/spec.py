"""What an experiment analysis asks, checked at the boundary: step, metrics, window, arms, test.

Command-line forms, each error naming the option and the text:

- ``--metric conversion:EVENT`` (1 when the person did EVENT within the window after exposure, else 0),
  ``revenue`` (the person's revenue within the window), ``retention:N`` (1 when the person did anything,
  touches and bookkeeping aside, in the 24 hours that start N days after exposure);
- ``--where 'product=system_course'``: conditions on the conversion event's properties (as the funnel's);
- ``--weights control=0.5,b=0.5``: each arm's planned share, summing to 1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sopflow.analytics.conditions import Condition
from sopflow.analytics.experiments.corrections import CORRECTIONS, Correction
from sopflow.errors import InvalidInput, NotFound
from sopflow.i18n import _

if TYPE_CHECKING:
    from sopflow.playbook.model import Playbook
    from sopflow.playbook.model.timeline import Step

MetricKind = Literal["conversion", "revenue", "retention"]
TestKind = Literal["frequentist", "bayesian"]
TESTS: tuple[TestKind, ...] = ("frequentist", "bayesian")
# The event a touch writes (campaign runs and the simulator): its ``step`` and ``variant`` name the arm.
EXPOSURE_EVENT = "sop_touch"
# The arm of a script's base text, as the simulator and the campaign runner name it.
CONTROL = "control"
WEIGHT_TOLERANCE = 1e-6
MAX_RETENTION_DAY = 365

_WHERE = re.compile(r"^\s*(?P<prop>[^<>=!]+?)\s*(?P<op>>=|<=|!=|=|>|<)\s*(?P<value>.*?)\s*$")


@dataclass(frozen=True)
class MetricSpec:
    kind: MetricKind
    event: str | None = None
    day: int | None = None
    conditions: tuple[Condition, ...] = ()

    @property
    def label(self) -> str:
        if self.kind == "conversion":
            where = "".join(f"[{c}]" for c in self.conditions)
            return f"conversion:{self.event}{where}"
        if self.kind == "retention":
            return f"retention:{self.day}"
        return "revenue"


@dataclass(frozen=True)
class ExperimentSpec:
    step: str
    metric: MetricSpec
    guardrails: tuple[MetricSpec, ...] = ()
    window_us: int = 7 * 86_400_000_000
    pre_window_us: int | None = None  # CUPED's period before exposure; None: the window
    control: str | None = None
    weights: tuple[tuple[str, float], ...] | None = None
    test: TestKind = "frequentist"
    sequential: bool = False
    cuped: bool = False
    correction: Correction | None = None
    alpha: float = 0.05
    campaign: str | None = None

    @property
    def metrics(self) -> tuple[MetricSpec, ...]:
        return (self.metric, *self.guardrails)

    @property
    def pre_us(self) -> int:
        return self.window_us if self.pre_window_us is None else self.pre_window_us


def parse_metric(text: str, *, option: str = "--metric", where: Sequence[str] = ()) -> MetricSpec:
    kind, _sep, rest = text.strip().partition(":")
    rest = rest.strip()
    if kind == "conversion" and rest:
        return MetricSpec("conversion", event=rest, conditions=parse_conditions(where))
    if kind == "revenue" and not rest:
        return MetricSpec("revenue")
    if kind == "retention" and rest.isdigit() and 1 <= int(rest) <= MAX_RETENTION_DAY:
        return MetricSpec("retention", day=int(rest))
    raise InvalidInput(
        _(
            "{option} {value!r}: write conversion:EVENT, revenue or retention:N (N a day from 1 to {most})",
            option=option,
            value=text,
            most=MAX_RETENTION_DAY,
        )
    )


def parse_conditions(items: Sequence[str]) -> tuple[Condition, ...]:
    found = []
    for item in items:
        match = _WHERE.match(item)
        if not match or not match["prop"].strip():
            raise InvalidInput(
                _("--where {item!r}: write property OP value, e.g. product=system_course", item=item)
            )
        value = match["value"]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found.append(Condition(match["prop"], match["op"], value))
    return tuple(found)


def parse_weights(text: str) -> tuple[tuple[str, float], ...]:
    pairs = []
    for part in text.split(","):
        name, sep, number = part.partition("=")
        try:
            weight = float(number)
        except ValueError:
            weight = math.nan
        if not sep or not name.strip() or not math.isfinite(weight) or weight <= 0:
            raise InvalidInput(
                _(
                    "--weights {value!r}: write ARM=SHARE,… with positive shares, e.g. control=0.5,b=0.5",
                    value=text,
                )
            )
        pairs.append((name.strip(), weight))
    names = [n for n, _w in pairs]
    if len(set(names)) != len(names):
        raise InvalidInput(_("--weights {value!r}: an arm is named twice", value=text))
    total = sum(w for _n, w in pairs)
    if abs(total - 1) > WEIGHT_TOLERANCE:
        raise InvalidInput(
            _("--weights {value!r}: the shares add up to {total:.6g}, not 1", value=text, total=total)
        )
    return tuple(pairs)


def check_spec(spec: ExperimentSpec) -> None:
    from sopflow.analytics.experiments.power import check_alpha

    if not spec.step.strip():
        raise InvalidInput(_("--step must name a step of the timeline"))
    if spec.test not in TESTS:
        raise InvalidInput(_("--test: choose one of {choices}", choices=", ".join(TESTS)))
    if spec.correction is not None and spec.correction not in CORRECTIONS:
        raise InvalidInput(_("--correction: choose one of {choices}", choices=", ".join(CORRECTIONS)))
    if spec.sequential and spec.test != "frequentist":
        raise InvalidInput(_("--sequential applies to the frequentist test only"))
    check_alpha(spec.alpha)


def find_step(playbook: Playbook, step: str) -> Step:
    steps = [s for phase in playbook.timeline.phases for s in phase.steps]
    for candidate in steps:
        if candidate.id == step:
            return candidate
    raise NotFound(
        _(
            "step {step!r} is not in the playbook's timeline; steps: {steps}",
            step=step,
            steps=", ".join(s.id for s in steps),
        )
    )


def playbook_arms(playbook: Playbook, step: str) -> tuple[tuple[str, float], ...]:
    """The arms of a step's script and their shares: ``control`` (the base text, weight 1) and the variants."""
    found = find_step(playbook, step)
    scripts = {s.id: s for s in playbook.scripts}
    script = scripts.get(found.script or "")
    if script is None or not script.variants:
        raise InvalidInput(
            _(
                "step {step!r} has no script variants to test (its script: {script})",
                step=step,
                script=found.script or "—",
            )
        )
    weights = [(CONTROL, 1.0), *[(v.id, v.weight) for v in script.variants]]
    total = sum(w for _n, w in weights)
    return tuple((n, w / total) for n, w in weights)


def steps_with_variants(playbook: Playbook) -> list[str]:
    scripts = {s.id: s for s in playbook.scripts if s.variants}
    return [s.id for phase in playbook.timeline.phases for s in phase.steps if (s.script or "") in scripts]
