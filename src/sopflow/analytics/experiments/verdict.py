"""The verdict: one sentence, in the user's language, that never claims more than the data show.

In this order:

1. ``srm``: a sample ratio mismatch comes first: no lift can be trusted until it is explained;
2. ``too_few``: no variant could be compared (an arm with fewer than 2 persons);
3. ``variant_wins`` / ``check_guardrail``: the best variant that is significantly better than the control
   on the main metric (adjusted p-value below α with ``--correction``; chance to beat control at least
   ``1 − α`` for the Bayesian test). ``check_guardrail`` when a guardrail moved significantly for it;
4. ``control_wins``: every significant variant is worse than the control;
5. ``not_conclusive``: "not conclusive yet", with how many more persons per arm the plan needs to detect
   the lift observed so far (power 0.8, see :mod:`.power`); when the arms already hold that many, the
   lift is smaller than this test can detect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sopflow.analytics.experiments.power import persons_for_difference
from sopflow.analytics.experiments.srm import SampleRatio
from sopflow.i18n import _, current_language

if TYPE_CHECKING:
    from sopflow.analytics.experiments.analysis import MetricResult, VariantRow
    from sopflow.analytics.experiments.spec import ExperimentSpec

PLAN_POWER = 0.8


@dataclass(frozen=True)
class Verdict:
    code: str
    message: str


def srm_message(srm: SampleRatio) -> str:
    observed = ", ".join(f"{arm} {n}" for arm, n in srm.observed.items())
    expected = ", ".join(f"{arm} {n:.0f}" for arm, n in srm.expected.items())
    return _(
        "Sample ratio mismatch (p = {p:.2g}): persons per arm {observed}, the weights expect {expected}. "
        "Check the assignment and the touch records before reading any lift.",
        p=srm.p_value,
        observed=observed,
        expected=expected,
    )


def significant(row: VariantRow, spec: ExperimentSpec) -> int:
    """+1 significantly better than the control, −1 significantly worse, 0 not shown either way."""
    r = row.result
    if row.diff is None:
        return 0
    if spec.test == "bayesian":
        chance = r.chance_to_beat_control
        if chance is None:
            return 0
        return 1 if chance >= 1 - spec.alpha else -1 if chance <= spec.alpha else 0
    p = row.p_adjusted if row.p_adjusted is not None else r.p_value
    if p is None or p >= spec.alpha:
        return 0
    return 1 if row.diff.lift_abs > 0 else -1


def decide(
    *, spec: ExperimentSpec, control: str, srm: SampleRatio, metrics: Sequence[MetricResult]
) -> Verdict:
    if srm.mismatch:
        return Verdict("srm", srm_message(srm))
    main, *guards = metrics
    variants = [r for r in main.rows[1:] if r.diff is not None]
    label = main.metric.label
    if not variants:
        return Verdict(
            "too_few",
            _("Not conclusive yet: too few persons in the arms to compare them on {metric}.", metric=label),
        )
    better = [r for r in variants if significant(r, spec) > 0]
    worse = [r for r in variants if significant(r, spec) < 0]
    if better:
        best = max(better, key=lambda r: r.diff.lift_abs if r.diff else 0.0)
        message = _(
            "{variant} beats {control} on {metric}: {lift} ({evidence}).",
            variant=best.variant,
            control=control,
            metric=label,
            lift=lift_text(best),
            evidence=evidence_text(best, spec),
        )
        moved = [
            g.metric.label
            for g in guards
            for r in g.rows[1:]
            if r.variant == best.variant and significant(r, spec)
        ]
        if moved:
            message = sentences(
                message,
                _(
                    "But guardrail {metrics} moved significantly: check it before switching.",
                    metrics=", ".join(moved),
                ),
            )
            return Verdict("check_guardrail", message)
        return Verdict("variant_wins", message)
    if worse:
        return Verdict(
            "control_wins",
            _(
                "{control} beats {variants} on {metric}: keep {control}.",
                control=control,
                variants=", ".join(f"{r.variant} ({lift_text(r)})" for r in worse),
                metric=label,
            ),
        )
    return Verdict("not_conclusive", _not_conclusive(spec, main, variants, label))


def _not_conclusive(
    spec: ExperimentSpec, main: MetricResult, variants: Sequence[VariantRow], label: str
) -> str:
    head = _(
        "Not conclusive yet: no variant differs from the control on {metric} at α = {alpha}.",
        metric=label,
        alpha=spec.alpha,
    )
    control = main.rows[0].stats
    needs = []
    for row in variants:
        assert row.diff is not None
        lift = abs(row.diff.lift_abs)
        if lift == 0:
            continue
        variance_sum = control.variance + row.stats.variance
        alpha = spec.alpha / max(1, len(main.rows) - 1)
        need = persons_for_difference(variance_sum=variance_sum, delta=lift, power=PLAN_POWER, alpha=alpha)
        needs.append(need - min(control.n, row.stats.n))
    if not needs:
        return sentences(head, _("No lift is observed, so no sample size can be planned from it."))
    more = min(needs)
    if more <= 0:
        return sentences(
            head,
            _(
                "The arms already hold the persons needed to detect the observed lift: it is likely smaller than that."
            ),
        )
    return sentences(
        head,
        _(
            "To detect the lift observed so far, the plan needs about {n} more persons per arm.",
            n=f"{more:,}",
        ),
    )


def sentences(*parts: str) -> str:
    """Sentences one after the other: Chinese puts no space after its full stop."""
    return ("" if current_language() == "zh_CN" else " ").join(parts)


def lift_text(row: VariantRow) -> str:
    assert row.diff is not None
    rel = row.diff.lift_rel
    absolute = f"{row.diff.lift_abs:+.4g}"
    return absolute if rel is None else f"{rel:+.1%} ({absolute})"


def evidence_text(row: VariantRow, spec: ExperimentSpec) -> str:
    r = row.result
    if spec.test == "bayesian":
        return _("chance to beat control {chance:.1%}", chance=r.chance_to_beat_control or 0.0)
    p = row.p_adjusted if row.p_adjusted is not None else r.p_value
    low, high = r.ci_abs or (0.0, 0.0)
    return _("p = {p:.3g}, interval {low:+.4g} to {high:+.4g}", p=p or 0.0, low=low, high=high)
