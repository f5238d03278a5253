"""The demo's last step: the script test the simulated campaign ran, read as ``sopflow experiment analyze``."""

from __future__ import annotations

from rich.console import Console

from sopflow.analytics.experiments.analysis import analyze_experiment
from sopflow.analytics.experiments.report import experiment_spec
from sopflow.analytics.experiments.spec import steps_with_variants
from sopflow.i18n import _
from sopflow.playbook.model import Playbook
from sopflow.workspace import Workspace

# The demo's test: the homework reminder's social-proof copy against the base text (community fission).
DEMO_STEP = "homework_remind"


def show_demo_experiment(*, console: Console, playbook: Playbook, workspace: Workspace) -> None:
    from sopflow.analytics.engines import open_engine
    from sopflow.analytics.experiments.render import print_result, window_text

    steps = steps_with_variants(playbook)
    if not steps:
        return
    step = DEMO_STEP if DEMO_STEP in steps else steps[-1]
    spec = experiment_spec(playbook, step)
    if spec is None:
        return
    console.rule(_("7. A script A/B test of the campaign"))
    engine = open_engine("duckdb", workspace=workspace)
    print_result(console, analyze_experiment(engine=engine, spec=spec, playbook=playbook))
    console.print(
        _(
            "Try: sopflow experiment analyze --workspace {path} --step {step} --metric {metric} --window {window}",
            path=workspace.root,
            step=step,
            metric=spec.metric.label.split("[")[0],
            window=window_text(spec.window_us),
        )
    )
