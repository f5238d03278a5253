"""``sopflow experiment analyze|plan``: read an A/B test of a step's script variants, or size one.

``analyze --json`` prints :meth:`ExperimentResult.as_json` (shape in :mod:`.analysis`); ``plan --json``
prints :meth:`PowerPlan.as_json`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from sopflow.analytics import options
from sopflow.i18n import _

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)


def _console() -> Console:
    # Wide enough for the arms' table when the output is a pipe (Rich assumes 80 columns there).
    return Console(highlight=False, markup=False, width=None if Console().is_terminal else 120)


def experiment_help() -> str:
    return _("A/B tests of script variants: analyze a step's test with honest statistics, or plan one.")


@app.command("analyze", help=_("Compare the arms of a step's script test: lift, interval, p-value, verdict."))
def analyze_command(
    step: str = typer.Option(..., "--step", help=_("The timeline step whose script variants are tested")),
    metric: str = typer.Option(
        "conversion:pay",
        "--metric",
        help=_("conversion:EVENT, revenue or retention:N (day N after exposure)"),
    ),
    where: list[str] = typer.Option(
        [], "--where", help=_("Condition on the conversion event: property OP value (repeatable)")
    ),
    guardrail: list[str] = typer.Option(
        [],
        "--guardrail",
        help=_("A metric reported beside the main one, e.g. conversion:unsubscribe (repeatable)"),
    ),
    window: str = typer.Option(
        "7d", "--window", help=_("Time after exposure in which the metric counts: 12h, 7d…")
    ),
    pre_window: str | None = typer.Option(
        None, "--pre-window", help=_("With --cuped: the period before exposure (default: the window)")
    ),
    control: str | None = typer.Option(None, "--control", help=_("The control arm (default: control)")),
    weights: str | None = typer.Option(
        None,
        "--weights",
        help=_("Planned shares of the arms, e.g. control=0.5,b=0.5 (default: the playbook's, else equal)"),
    ),
    test: str = typer.Option("frequentist", "--test", help=_("frequentist (Welch's t-test) or bayesian")),
    sequential: bool = typer.Option(
        False, "--sequential", help=_("Always-valid intervals: safe to look every day")
    ),
    cuped: bool = typer.Option(
        False, "--cuped", help=_("Reduce variance with the same metric before exposure")
    ),
    correction: str | None = typer.Option(
        None, "--correction", help=_("Correct for several variants and metrics: holm or bh")
    ),
    alpha: float = typer.Option(0.05, "--alpha", help=_("False positive rate of each decision")),
    campaign: str | None = typer.Option(None, "--campaign", help=_("Only the touches of this campaign id")),
    playbook: Path | None = typer.Option(
        None, "--playbook", help=_("Playbook file: checks the step and gives the arms' weights")
    ),
    workspace: Path | None = options.workspace_option(),
    events: Path | None = options.events_option(),
    engine: str = options.engine_option(),
    as_json: bool = options.json_option(),
) -> None:
    from sopflow.analytics.engines import open_engine
    from sopflow.analytics.experiments.analysis import analyze_experiment
    from sopflow.analytics.experiments.render import print_result
    from sopflow.analytics.experiments.spec import ExperimentSpec, parse_metric, parse_weights
    from sopflow.analytics.timerange import parse_window
    from sopflow.playbook.loader import load_playbook
    from sopflow.workspace import Workspace

    spec = ExperimentSpec(
        step=step.strip(),
        metric=parse_metric(metric, where=where),
        guardrails=tuple(parse_metric(g, option="--guardrail") for g in guardrail),
        window_us=parse_window(window),
        pre_window_us=None if pre_window is None else parse_window(pre_window, option="--pre-window"),
        control=control,
        weights=None if weights is None else parse_weights(weights),
        test=test,  # type: ignore[arg-type]  # checked by check_spec
        sequential=sequential,
        cuped=cuped,
        correction=correction,  # type: ignore[arg-type]  # checked by check_spec
        alpha=alpha,
        campaign=campaign,
    )
    loaded = None if playbook is None else load_playbook(playbook)
    reader = open_engine(
        engine, workspace=Workspace.resolve(workspace), events_path=options.resolve_events_path(events)
    )
    result = analyze_experiment(engine=reader, spec=spec, playbook=loaded)
    if as_json:
        options.echo_json(result.as_json())
        return
    print_result(_console(), result)


@app.command("plan", help=_("Persons per arm and days a test needs to detect a lift of a conversion rate."))
def plan_command(
    baseline: float = typer.Option(..., "--baseline", help=_("The control's conversion rate, e.g. 0.08")),
    mde: float = typer.Option(..., "--mde", help=_("The smallest lift worth detecting, e.g. 0.02")),
    relative: bool = typer.Option(
        False, "--relative", help=_("--mde is relative to the baseline (0.1 = +10%)")
    ),
    power: float = typer.Option(0.8, "--power", help=_("Chance of detecting a lift of that size")),
    alpha: float = typer.Option(0.05, "--alpha", help=_("False positive rate of each decision")),
    arms: int = typer.Option(2, "--arms", help=_("Arms, the control included")),
    daily_persons: float | None = typer.Option(
        None, "--daily-persons", help=_("Persons exposed per day, for the days needed")
    ),
    playbook: Path | None = typer.Option(
        None, "--playbook", help=_("Playbook file: its planned traffic at --step gives the persons per day")
    ),
    step: str | None = typer.Option(None, "--step", help=_("With --playbook: the step that is tested")),
    as_json: bool = options.json_option(),
) -> None:
    from sopflow.analytics.experiments.power import plan_experiment
    from sopflow.analytics.experiments.render import print_plan
    from sopflow.errors import InvalidInput
    from sopflow.playbook.loader import load_playbook

    if playbook is not None and daily_persons is not None:
        raise InvalidInput(_("give --daily-persons or --playbook, not both"))
    plan = plan_experiment(
        baseline=baseline,
        mde=mde,
        relative=relative,
        power=power,
        alpha=alpha,
        arms=arms,
        daily_persons=daily_persons,
        playbook=None if playbook is None else load_playbook(playbook),
        step=step,
    )
    if as_json:
        options.echo_json(plan.as_json())
        return
    print_plan(_console(), plan)
