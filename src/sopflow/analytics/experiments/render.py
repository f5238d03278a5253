"""The text output of ``sopflow experiment analyze`` and ``plan`` (the JSON is the result's own)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from sopflow.analytics.experiments.analysis import ExperimentResult, MetricResult, VariantRow
from sopflow.analytics.experiments.power import PowerPlan
from sopflow.i18n import _

DASH = "—"


def print_result(console: Console, result: ExperimentResult) -> None:
    spec = result.spec
    test = (
        _("Bayesian")
        if spec.test == "bayesian"
        else _("sequential")
        if spec.sequential
        else _("Welch t-test")
    )
    console.print(
        _(
            "Experiment at step {step}: {persons} persons exposed (first touch of the step), control {control}; "
            "metric {metric} within {window} after exposure; test {test}{cuped}, α = {alpha}",
            step=spec.step,
            persons=f"{result.persons:,}",
            control=result.control,
            metric=spec.metric.label,
            window=window_text(spec.window_us),
            test=test,
            cuped=", CUPED" if spec.cuped else "",
            alpha=spec.alpha,
        )
    )
    for i, metric in enumerate(result.metrics):
        title = (
            _("Main metric {metric}", metric=metric.metric.label)
            if i == 0
            else _("Guardrail {metric}", metric=metric.metric.label)
        )
        console.print(_table(title, metric, spec.test == "bayesian"))
    srm = result.srm
    if srm.p_value is not None:
        console.print(_("Sample ratio check: p = {p:.3g} (flagged below 0.001)", p=srm.p_value))
    for warning in result.warnings:
        console.print(_("Warning: {message}", message=warning.message))
    console.print(_("Verdict: {message}", message=result.verdict.message))


def _table(title: str, metric: MetricResult, bayesian: bool) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(_("arm"))
    for name in (_("persons"), _("converted"), _("mean"), _("lift"), _("interval"), _("relative")):
        table.add_column(name, justify="right")
    table.add_column(_("chance to win") if bayesian else _("p-value"), justify="right")
    for row in metric.rows:
        table.add_row(*_cells(row, bayesian))
    return table


def _cells(row: VariantRow, bayesian: bool) -> list[str]:
    r, d = row.result, row.diff
    ci = DASH if r.ci_abs is None else f"[{r.ci_abs[0]:+.4g}, {r.ci_abs[1]:+.4g}]"
    rel = DASH if d is None or d.lift_rel is None else f"{d.lift_rel:+.1%}"
    if r.ci_rel is not None:
        rel += f" [{r.ci_rel[0]:+.1%}, {r.ci_rel[1]:+.1%}]"
    if bayesian:
        last = DASH if r.chance_to_beat_control is None else f"{r.chance_to_beat_control:.1%}"
    else:
        p = row.p_adjusted if row.p_adjusted is not None else r.p_value
        last = DASH if p is None else f"{p:.3g}"
    mean = row.stats.mean
    return [
        row.variant,
        f"{row.stats.n:,}",
        f"{row.conversions:,}",
        DASH if mean != mean else f"{mean:.4g}",
        DASH if d is None else f"{d.lift_abs:+.4g}",
        ci,
        rel,
        last,
    ]


def window_text(us: int) -> str:
    seconds = us // 1_000_000
    if seconds % 86_400 == 0:
        return f"{seconds // 86_400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds}s"


def print_plan(console: Console, plan: PowerPlan) -> None:
    console.print(
        _(
            "To detect {mde_abs:+.4g} (relative {mde_rel:+.1%}) from a baseline of {baseline:.4g} with power "
            "{power:.0%} at α = {alpha} ({arms} arms, each variant at α = {per:.4g}):",
            mde_abs=plan.mde_abs,
            mde_rel=plan.mde_rel,
            baseline=plan.baseline,
            power=plan.power,
            alpha=plan.alpha,
            arms=plan.arms,
            per=plan.alpha_per_comparison,
        )
    )
    console.print(
        _(
            "{n} persons per arm, {total} in all",
            n=f"{plan.persons_per_arm:,}",
            total=f"{plan.persons_total:,}",
        )
    )
    if plan.step_persons is not None:
        console.print(
            _("The playbook plans {n} persons at step {step}", n=f"{plan.step_persons:,.0f}", step=plan.step)
        )
    if plan.days is not None and plan.daily_persons is not None:
        console.print(
            _("{days} days at {daily} persons a day", days=plan.days, daily=f"{plan.daily_persons:,.0f}")
        )
