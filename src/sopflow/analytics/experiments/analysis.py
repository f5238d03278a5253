"""``analyze_experiment``: the per-person pass on an engine, then the statistics on each arm's sums.

The JSON shape (``sopflow experiment analyze --json``)::

    {"step", "metric", "test", "sequential", "cuped", "correction", "alpha", "control", "window_seconds",
     "campaign", "persons", "mixed_persons",
     "srm": {"p_value", "observed": {arm: persons}, "expected": {arm: persons}, "mismatch"},
     "variants": [ROW…], "guardrails": [{"metric", "variants": [ROW…]}…],
     "warnings": [{"code", "message"}…], "verdict": {"code", "message"}}

    ROW = {"variant", "persons", "conversions", "mean", "lift_abs", "ci_abs", "lift_rel", "ci_rel",
           "p_value", "p_value_adjusted", "chance_to_beat_control", "expected_loss"}

The control's row comes first, with null lifts; fields a test does not give are null (``p_value`` for
the Bayesian test, ``chance_to_beat_control`` and ``expected_loss`` for the frequentist one);
``conversions`` is the persons with a value above 0 (converted, paid, returned); intervals are
``[low, high]``. ``p_value_adjusted`` is set with ``--correction``, over every variant of every metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sopflow.analytics.experiments import verdict as verdicts
from sopflow.analytics.experiments.corrections import adjust
from sopflow.analytics.experiments.exposure import ExposureKernel, Exposures, arm_statistics
from sopflow.analytics.experiments.spec import (
    CONTROL,
    EXPOSURE_EVENT,
    ExperimentSpec,
    MetricSpec,
    check_spec,
    playbook_arms,
)
from sopflow.analytics.experiments.srm import SampleRatio, sample_ratio
from sopflow.analytics.experiments.stats.bayesian import flat_prior_test
from sopflow.analytics.experiments.stats.cuped import adjusted_difference
from sopflow.analytics.experiments.stats.frequentist import TestResult, welch_test
from sopflow.analytics.experiments.stats.moments import ArmStats, Difference, difference
from sopflow.analytics.experiments.stats.sequential import sequential_test
from sopflow.analytics.frame import Engine
from sopflow.errors import InvalidInput, NotFound
from sopflow.i18n import _

if TYPE_CHECKING:
    from sopflow.playbook.model import Playbook

# Fewer persons per arm, or fewer persons with a conversion in all arms, and a result is noise.
MIN_PERSONS = 100
MIN_CONVERSIONS = 20


@dataclass(frozen=True)
class VariantRow:
    variant: str
    stats: ArmStats
    conversions: int
    diff: Difference | None = None  # None for the control, or when it cannot be computed
    result: TestResult = field(default_factory=TestResult)
    p_adjusted: float | None = None

    def as_json(self) -> dict[str, Any]:
        r, d = self.result, self.diff
        return {
            "variant": self.variant,
            "persons": self.stats.n,
            "conversions": self.conversions,
            "mean": _number(self.stats.mean),
            "lift_abs": None if d is None else d.lift_abs,
            "ci_abs": _pair(r.ci_abs),
            "lift_rel": None if d is None else d.lift_rel,
            "ci_rel": _pair(r.ci_rel),
            "p_value": r.p_value,
            "p_value_adjusted": self.p_adjusted,
            "chance_to_beat_control": r.chance_to_beat_control,
            "expected_loss": r.expected_loss,
        }


@dataclass(frozen=True)
class MetricResult:
    metric: MetricSpec
    rows: list[VariantRow]  # the control first


@dataclass(frozen=True)
class Warning_:
    code: str
    message: str


@dataclass(frozen=True)
class ExperimentResult:
    spec: ExperimentSpec
    control: str
    arms: tuple[str, ...]
    srm: SampleRatio
    metrics: list[MetricResult]  # main first, then guardrails
    mixed: int
    warnings: list[Warning_]
    verdict: verdicts.Verdict

    @property
    def persons(self) -> int:
        return sum(self.srm.observed.values())

    def as_json(self) -> dict[str, Any]:
        spec = self.spec
        main, *guards = self.metrics
        return {
            "step": spec.step,
            "metric": spec.metric.label,
            "test": spec.test,
            "sequential": spec.sequential,
            "cuped": spec.cuped,
            "correction": spec.correction,
            "alpha": spec.alpha,
            "control": self.control,
            "window_seconds": spec.window_us // 1_000_000,
            "campaign": spec.campaign,
            "persons": self.persons,
            "mixed_persons": self.mixed,
            "srm": {
                "p_value": self.srm.p_value,
                "observed": self.srm.observed,
                "expected": self.srm.expected,
                "mismatch": self.srm.mismatch,
            },
            "variants": [r.as_json() for r in main.rows],
            "guardrails": [
                {"metric": g.metric.label, "variants": [r.as_json() for r in g.rows]} for g in guards
            ],
            "warnings": [{"code": w.code, "message": w.message} for w in self.warnings],
            "verdict": {"code": self.verdict.code, "message": self.verdict.message},
        }


def _number(value: float) -> float | None:
    return None if value != value else value  # NaN → null


def _pair(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else [interval[0], interval[1]]


def analyze_experiment(
    *, engine: Engine, spec: ExperimentSpec, playbook: Playbook | None = None
) -> ExperimentResult:
    check_spec(spec)
    planned = playbook_arms(playbook, spec.step) if playbook is not None else None
    kernel = ExposureKernel(spec)
    exposures = arm_statistics(engine.map_persons(kernel.request(), kernel), len(spec.metrics))
    _check_exposures(spec, exposures)
    weights = spec.weights or planned
    arms = _arm_order(exposures, weights)
    control = _control(spec, arms)
    shares = weights or tuple((a, 1 / len(arms)) for a in arms)
    empty = [ArmStats(0, 0.0, 0.0)] * len(spec.metrics)
    per_arm = {a: exposures.arms.get(a, empty) for a in arms}
    srm = sample_ratio([(a, per_arm[a][0].n) for a in arms], shares)
    metrics = [
        _metric_result(spec, metric, i, arms, control, per_arm) for i, metric in enumerate(spec.metrics)
    ]
    if spec.correction is not None:
        metrics = _corrected(metrics, spec)
    warnings = _warnings(spec, metrics, exposures, srm, engine)
    verdict = verdicts.decide(spec=spec, control=control, srm=srm, metrics=metrics)
    return ExperimentResult(spec, control, arms, srm, metrics, exposures.mixed, warnings, verdict)


def _check_exposures(spec: ExperimentSpec, exposures: Exposures) -> None:
    if exposures.touched == 0:
        known = [s for s in exposures.known_steps if s]
        raise NotFound(
            _(
                "no {event} event of step {step!r}{campaign} in the data; steps with touches: {steps}",
                event=EXPOSURE_EVENT,
                step=spec.step,
                campaign=_(" in campaign {id!r}", id=spec.campaign) if spec.campaign else "",
                steps=", ".join(known) or "—",
            )
        )
    if not exposures.arms:
        raise InvalidInput(
            _(
                "the touches of step {step!r} name no variant: the step has no variants to compare",
                step=spec.step,
            )
        )
    if len(exposures.arms) < 2:
        (only,) = exposures.arms
        raise InvalidInput(
            _(
                "step {step!r} has only one arm ({arm}) in the data: an experiment needs two or more",
                step=spec.step,
                arm=only,
            )
        )


def _arm_order(exposures: Exposures, weights: tuple[tuple[str, float], ...] | None) -> tuple[str, ...]:
    seen = sorted(exposures.arms, key=lambda a: (a != CONTROL, a))
    if weights is None:
        return tuple(seen)
    named = [a for a, _w in weights]
    unknown = [a for a in seen if a not in named]
    if unknown:
        raise InvalidInput(
            _(
                "arm {arm!r} is in the data but not in the weights ({arms})",
                arm=unknown[0],
                arms=", ".join(named),
            )
        )
    return tuple(named)


def _control(spec: ExperimentSpec, arms: tuple[str, ...]) -> str:
    if spec.control is not None:
        if spec.control not in arms:
            raise InvalidInput(
                _("--control {name!r} is not an arm; arms: {arms}", name=spec.control, arms=", ".join(arms))
            )
        return spec.control
    return CONTROL if CONTROL in arms else arms[0]


def _metric_result(
    spec: ExperimentSpec,
    metric: MetricSpec,
    index: int,
    arms: tuple[str, ...],
    control: str,
    per_arm: dict[str, list[ArmStats]],
) -> MetricResult:
    base = per_arm[control][index]
    rows = [VariantRow(control, base, base.positives)]
    for arm in arms:
        if arm == control:
            continue
        stats = per_arm[arm][index]
        diff = adjusted_difference(base, stats) if spec.cuped else difference(base, stats)
        result = TestResult() if diff is None else _test(spec, diff, base.n + stats.n)
        rows.append(VariantRow(arm, stats, stats.positives, diff, result))
    return MetricResult(metric, rows)


def _test(spec: ExperimentSpec, diff: Difference, persons: int) -> TestResult:
    if spec.test == "bayesian":
        return flat_prior_test(diff, alpha=spec.alpha)
    if spec.sequential:
        return sequential_test(diff, alpha=spec.alpha, persons=persons)
    return welch_test(diff, alpha=spec.alpha)


def _corrected(metrics: list[MetricResult], spec: ExperimentSpec) -> list[MetricResult]:
    assert spec.correction is not None
    flat = [row.result.p_value for m in metrics for row in m.rows[1:]]
    adjusted = iter(adjust(flat, spec.correction))
    out = []
    for m in metrics:
        rows = [m.rows[0]]
        for row in m.rows[1:]:
            rows.append(
                VariantRow(row.variant, row.stats, row.conversions, row.diff, row.result, next(adjusted))
            )
        out.append(MetricResult(m.metric, rows))
    return out


def _warnings(
    spec: ExperimentSpec,
    metrics: list[MetricResult],
    exposures: Exposures,
    srm: SampleRatio,
    engine: Engine,
) -> list[Warning_]:
    out: list[Warning_] = []
    if srm.mismatch:
        out.append(Warning_("srm", verdicts.srm_message(srm)))
    if exposures.mixed:
        out.append(
            Warning_(
                "mixed_arms",
                _(
                    "{n} persons were touched with more than one variant of step {step!r}: left out of every arm",
                    n=exposures.mixed,
                    step=spec.step,
                ),
            )
        )
    main = metrics[0]
    small = [r.variant for r in main.rows if r.stats.n < MIN_PERSONS]
    if small:
        out.append(
            Warning_(
                "few_persons",
                _(
                    "fewer than {n} persons in arm(s) {arms}: any difference is mostly noise",
                    n=MIN_PERSONS,
                    arms=", ".join(small),
                ),
            )
        )
    for result in metrics:
        positives = sum(r.stats.positives for r in result.rows)
        label = result.metric.label
        if positives == 0:
            out.append(
                Warning_(
                    "metric_never",
                    _(
                        "no exposed person has a value for {metric} after exposure: is the event name right?",
                        metric=label,
                    ),
                )
            )
        elif result.metric.kind != "revenue" and positives < MIN_CONVERSIONS:
            out.append(
                Warning_(
                    "few_conversions",
                    _(
                        "only {n} conversions for {metric} in all arms: too few to tell arms apart",
                        n=positives,
                        metric=label,
                    ),
                )
            )
        if any(r.diff is not None and r.result.ci_abs is None for r in result.rows[1:]):
            out.append(
                Warning_(
                    "no_variation",
                    _("{metric} has the same value for every person: nothing to test", metric=label),
                )
            )
    bounds = engine.time_bounds()
    last = exposures.last_exposure_us
    if bounds is not None and last is not None and last + spec.window_us > bounds[1]:
        out.append(
            Warning_(
                "window_open",
                _(
                    "some persons were exposed less than the window before the last event: their values may still grow"
                ),
            )
        )
    return out
