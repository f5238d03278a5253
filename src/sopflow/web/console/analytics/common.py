"""What the analytics tabs share: running a question off the event loop, the range inputs, number formats.

A question runs in NiceGUI's thread pool (``run.io_bound``) so other users' pages keep answering while it
computes; the thread gets the viewer's language first (a thread does not inherit it). A body the models
refuse, or a library error, becomes a notice naming the field, like the API's 422.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from nicegui import run, ui
from pydantic import BaseModel, ValidationError

from sopflow.errors import InvalidInput, SopflowError
from sopflow.i18n import _, set_language
from sopflow.web.console.context import PageContext

M = TypeVar("M", bound=BaseModel)


def build(model: type[M], **values: Any) -> M:
    """``model`` of the form's values, or an :class:`InvalidInput` naming the first field at fault."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise InvalidInput(_("{field}: {problem}", field=where, problem=first.get("msg", ""))) from None


def _in_language(lang: str, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    set_language(lang)
    return fn(**kwargs)


async def off_loop(ctx: PageContext, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``fn(**kwargs)`` in a worker thread, in the viewer's language; an error in it is raised here."""
    answer = await run.io_bound(_in_language, ctx.lang, fn, kwargs)
    if answer is None:
        raise SopflowError(_("the question was cancelled; try again"))
    return answer


@asynccontextmanager
async def busy(button: ui.button) -> AsyncIterator[None]:
    """The button shows a spinner (and takes no second click) while the question runs."""
    button.props("loading")
    try:
        yield
    finally:
        button.props(remove="loading")


@dataclass
class RangeInputs:
    start: ui.input
    end: ui.input
    tz: ui.input

    def values(self) -> dict[str, Any]:
        return {
            "from": (self.start.value or "").strip() or None,
            "to": (self.end.value or "").strip() or None,
            "tz": (self.tz.value or "").strip() or "Asia/Shanghai",
        }


def range_inputs(prefix: str) -> RangeInputs:
    """From, to (a date includes that whole day) and the time zone of dates and days."""
    start = ui.input(_("From (date or datetime)")).props(f'dense data-testid="{prefix}-from"')
    end = ui.input(_("To (a date includes that day)")).props(f'dense data-testid="{prefix}-to"')
    tz = ui.input(_("Time zone"), value="Asia/Shanghai").props(f'dense data-testid="{prefix}-tz"')
    return RangeInputs(start, end, tz)


def range_note(span: dict[str, Any]) -> str:
    return _(
        "from {start} to {end} ({tz})",
        start=span.get("from") or _("the first event"),
        end=span.get("to") or _("the last event"),
        tz=span.get("tz") or "—",
    )


def count(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def money(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 3600:
        return _("{n:.0f} min", n=seconds / 60)
    if seconds < 86400:
        return _("{n:.1f} h", n=seconds / 3600)
    return _("{n:.1f} d", n=seconds / 86400)


def playbook_options(ctx: PageContext) -> dict[str, str]:
    """Published playbooks (newest version) for the pickers: ``ID`` → ``name (ID)``."""
    from sopflow.playbook.versions import list_playbooks

    with ctx.session() as session:
        return {p.playbook_id: f"{p.name} ({p.playbook_id})" for p in list_playbooks(session=session)}


def campaign_options(ctx: PageContext) -> dict[int, str]:
    from sopflow.campaign.lifecycle import list_campaigns

    with ctx.session() as session:
        return {c.id: f"#{c.id} {c.name}" for c in list_campaigns(session=session)}
