"""A task as a card, and what a person does with it: mark it done with a note, skip it with a reason, say
whether an uncertain one arrived, export its audience (who to follow up).

Every change runs through :meth:`PageContext.act` with the ``task.update`` action (viewers get no buttons,
and the server refuses them anyway) and one of :mod:`sopflow.campaign.tasks`' functions, which record it in
the task's history under the user's name. The audience export goes through
:func:`~sopflow.web.console.widgets.export_rows`: masked for viewers, recorded in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from nicegui import ui

from sopflow.campaign.followup import AUDIENCE_COLUMNS, task_audience
from sopflow.campaign.tasks import confirm_task, mark_done, skip_task
from sopflow.errors import InvalidInput
from sopflow.i18n import _
from sopflow.web.console.campaigns.common import state_badge
from sopflow.web.console.context import PageContext
from sopflow.web.console.widgets import export_rows

MAX_TEXT = 2000
DONE_FROM = frozenset({"pending", "due", "uncertain", "failed", "missed", "sent"})  # mark_done's own rule
SKIP_FROM = frozenset({"pending", "due", "uncertain"})


@dataclass(frozen=True)
class CardTask:
    task_id: int
    campaign_id: int
    name: str
    owner: str
    state: str
    when: str  # the due time as the reader sees it
    channel: str
    overdue: bool
    note: str | None
    audience_size: int | None


def bounded_text(value: object, field: str) -> str:
    text = str(value or "").strip()
    if len(text) > MAX_TEXT:
        raise InvalidInput(_("{field}: at most {limit} characters", field=field, limit=MAX_TEXT))
    return text


class TaskDialogs:
    """One dialog per page, filled for the task and the change asked for; ``changed`` runs after a change."""

    def __init__(self, ctx: PageContext, changed: Callable[[], object]) -> None:
        self.ctx = ctx
        self.changed = changed
        with ui.dialog() as self.dialog, ui.card().style("min-width: 420px") as self.card:
            pass

    def _finish(self, message: str) -> None:
        self.dialog.close()
        ui.notify(message, type="positive")
        self.changed()

    def _with_text(
        self,
        *,
        title: str,
        label: str,
        field: str,
        button: str,
        kind: str,
        input_id: str,
        color: str,
        save: Callable[[str], str],
    ) -> None:
        """A dialog asking for one text (a note, a reason) and running ``save`` with it as ``task.update``."""
        self.card.clear()
        with self.card:
            ui.label(title).classes("text-subtitle1")
            text = ui.textarea(label).classes("w-full")
            text.props(
                f'maxlength={MAX_TEXT} autogrow data-testid="{kind}-{"note" if kind == "done" else "why"}"'
            )

            def run() -> None:
                self._finish(save(bounded_text(text.value, field)))

            with ui.row():
                ui.button(button, on_click=self.ctx.act("task.update", run)).props(
                    f'color={color} data-testid="{kind}-save"'
                )
                ui.button(_("Cancel"), on_click=self.dialog.close).props("flat")
        self.dialog.open()

    def done(self, task: CardTask) -> None:
        def save(note: str) -> str:
            with self.ctx.session() as session:
                mark_done(
                    session=session,
                    task_id=task.task_id,
                    by=self.ctx.user_name,
                    note=note,
                    now=datetime.now(UTC),
                )
            return _("Task {id} marked done", id=task.task_id)

        self._with_text(
            title=_("Mark done: {name}", name=task.name),
            label=_("Note: what was done (kept with the task)"),
            field=_("Note"),
            button=_("Mark done"),
            kind="done",
            input_id="done-note",
            color="positive",
            save=save,
        )

    def skip(self, task: CardTask) -> None:
        def save(why: str) -> str:
            with self.ctx.session() as session:
                skip_task(
                    session=session,
                    task_id=task.task_id,
                    why=why,
                    by=self.ctx.user_name,
                    now=datetime.now(UTC),
                )
            return _("Task {id} skipped", id=task.task_id)

        self._with_text(
            title=_("Skip: {name}", name=task.name),
            label=_("Why is it skipped?"),
            field=_("Reason"),
            button=_("Skip"),
            kind="skip",
            input_id="skip-why",
            color="warning",
            save=save,
        )

    def confirm(self, task: CardTask) -> None:
        self.card.clear()
        with self.card:
            ui.label(_("Did the message of {name} arrive?", name=task.name)).classes("text-subtitle1")
            ui.label(
                _(
                    "A worker stopped while sending it, to a receiver that cannot drop repeats: say what happened."
                )
            ).classes("text-caption text-grey-7")

            def answer(arrived: bool) -> None:
                with self.ctx.session() as session:
                    confirm_task(
                        session=session,
                        task_id=task.task_id,
                        arrived=arrived,
                        by=self.ctx.user_name,
                        now=datetime.now(UTC),
                    )
                self._finish(_("Task {id} confirmed", id=task.task_id))

            with ui.row():
                ui.button(_("It arrived"), on_click=self.ctx.act("task.update", lambda: answer(True))).props(
                    'color=positive data-testid="confirm-arrived"'
                )
                ui.button(
                    _("It did not: send again"), on_click=self.ctx.act("task.update", lambda: answer(False))
                )
                ui.button(_("Cancel"), on_click=self.dialog.close).props("flat")
        self.dialog.open()


def export_audience(ctx: PageContext, task: CardTask) -> None:
    with ctx.session() as session:
        rows = task_audience(session=session, task_id=task.task_id)
    export_rows(
        ctx,
        name=f"campaign-{task.campaign_id}-task-{task.task_id}-audience",
        rows=rows,
        columns=AUDIENCE_COLUMNS,
        kind="csv",
        details={"task": task.task_id},
    )


def task_card(ctx: PageContext, task: CardTask, dialogs: TaskDialogs, *, show_owner: bool = False) -> None:
    with ui.card().classes("w-full q-pa-sm").props(f'flat bordered data-testid="task-{task.task_id}"'):
        with ui.row().classes("w-full items-center no-wrap gap-2"):
            ui.label(task.name).classes("text-body2 text-weight-medium col")
            state_badge(task.state, testid=f"task-{task.task_id}-state")
        details = f"#{task.task_id} · {task.when} · {task.channel}"
        if show_owner:
            details += f" · {task.owner}"
        ui.label(details).classes("text-caption text-grey-7")
        if task.overdue:
            ui.badge(_("overdue"), color="red-7").props("outline")
        if task.note:
            ui.label(task.note).classes("text-caption text-grey-9").props(
                f'data-testid="task-{task.task_id}-note"'
            )
        with ui.row().classes("gap-1"):
            if ctx.can("task.update"):
                if task.state in DONE_FROM:
                    ui.button(_("Done"), icon="check", on_click=lambda: dialogs.done(task)).props(
                        f'dense flat no-caps color=positive data-testid="task-{task.task_id}-done"'
                    )
                if task.state in SKIP_FROM:
                    ui.button(_("Skip"), icon="skip_next", on_click=lambda: dialogs.skip(task)).props(
                        f'dense flat no-caps color=grey-8 data-testid="task-{task.task_id}-skip"'
                    )
                if task.state == "uncertain":
                    ui.button(_("Confirm"), icon="help", on_click=lambda: dialogs.confirm(task)).props(
                        f'dense flat no-caps color=warning data-testid="task-{task.task_id}-confirm"'
                    )
            if task.audience_size:
                ui.button(
                    _("Audience ({count})", count=task.audience_size),
                    icon="download",
                    on_click=ctx.act("read", lambda: export_audience(ctx, task)),
                ).props(f'dense flat no-caps data-testid="task-{task.task_id}-audience"')
