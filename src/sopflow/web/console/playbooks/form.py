"""Form editing of a playbook's common parts: meta and brief, channels, targets and steps.

The form is built from the editor's text and writes back into it (:mod:`.yamledit`): "Apply to YAML" sets
the changed values, the "add" buttons append a copy of the last channel, target or step under a new id.
The editor then validates the new text like anything typed, so the form never bypasses validation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from sopflow.i18n import _
from sopflow.web.console.context import PageContext
from sopflow.web.console.playbooks.yamledit import (
    Path,
    append_copy,
    apply_edits,
    fresh_id,
    get_path,
    load_document,
)

# (field, label, kind) per item; kind "text", "long" (a text area), "number", "lines" (one item a line)
META_FIELDS = (
    (("meta", "name"), "Name", "text"),
    (("meta", "version"), "Version", "text"),
    (("meta", "owner"), "Owner", "text"),
    (("meta", "summary"), "Summary", "long"),
    (("brief", "background"), "Background", "long"),
    (("brief", "purpose"), "Purpose", "long"),
    (("brief", "goals"), "Goals (one a line)", "lines"),
)
CHANNEL_FIELDS = (
    ("name", "Name", "text"),
    ("entry_rate", "Entry rate", "number"),
    ("cost", "Cost", "number"),
)
TARGET_FIELDS = (("name", "Name", "text"), ("metric", "Metric", "text"), ("expected", "Expected", "number"))
STEP_FIELDS = (
    ("name", "Name", "text"),
    ("at", "Time (at)", "text"),
    ("after", "After (step + delay)", "text"),
    ("owner", "Owner (role id)", "text"),
    ("channel", "Channel", "text"),
    ("action", "Action", "long"),
)


def _label(text: str) -> str:
    labels = {
        "Name": _("Name"),
        "Version": _("Version"),
        "Owner": _("Owner"),
        "Summary": _("Summary"),
        "Background": _("Background"),
        "Purpose": _("Purpose"),
        "Goals (one a line)": _("Goals (one a line)"),
        "Entry rate": _("Entry rate"),
        "Cost": _("Cost"),
        "Metric": _("Metric"),
        "Expected": _("Expected"),
        "Time (at)": _("Time (at)"),
        "After (step + delay)": _("After (step + delay)"),
        "Owner (role id)": _("Owner (role id)"),
        "Channel": _("Channel"),
        "Action": _("Action"),
    }
    return labels[text]


def _number(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


class PlaybookForm:
    """The form of one text; ``apply`` hands the new text to the editor."""

    def __init__(self, ctx: PageContext, text: str, *, readonly: bool, apply: Callable[[str], None]) -> None:
        self.ctx = ctx
        self.text = text
        self.readonly = readonly
        self.apply = apply
        self.edits: dict[Path, Any] = {}
        self.document = load_document(text)

    def build(self) -> None:
        with ui.expansion(_("Brief"), icon="description", value=True).classes("w-full"):
            for path, label, kind in META_FIELDS:
                self._field(path, label, kind, testid="form-" + "-".join(str(p) for p in path))
        self._items(_("Channels"), ("channels",), CHANNEL_FIELDS, "channel", _("New channel"))
        self._items(_("Targets (预期)"), ("targets",), TARGET_FIELDS, "target", _("New target"))
        phases = get_path(self.document, ("timeline", "phases"))
        for index, phase in enumerate(phases if isinstance(phases, list) else []):
            name = phase.get("name", phase.get("id", "")) if isinstance(phase, dict) else ""
            self._items(
                _("Steps of phase {name}", name=name),
                ("timeline", "phases", index, "steps"),
                STEP_FIELDS,
                "step",
                _("New step"),
            )
        if not self.readonly:
            with ui.row().classes("q-mt-md"):
                ui.button(_("Apply to YAML"), icon="check", on_click=self.ctx.act("read", self._apply)).props(
                    'data-testid="form-apply"'
                )

    def _items(
        self, title: str, path: Path, fields: tuple[tuple[str, str, str], ...], prefix: str, new_name: str
    ) -> None:
        items = get_path(self.document, path)
        items = items if isinstance(items, list) else []
        with ui.expansion(f"{title} ({len(items)})").classes("w-full"):
            for index, item in enumerate(items):
                if not isinstance(item, dict):
                    continue
                with ui.row().classes("w-full items-start gap-2 q-mb-sm"):
                    ui.label(str(item.get("id", index))).classes("text-caption text-grey-7").style(
                        "min-width: 110px; padding-top: 18px"
                    )
                    for field, label, kind in fields:
                        if field in ("at", "after") and field not in item:
                            continue  # a step has one of the two
                        self._field((*path, index, field), label, kind, testid=None)
            if not self.readonly:

                def add() -> None:
                    existing = [item.get("id") for item in items if isinstance(item, dict)]
                    new_id = fresh_id(existing, prefix)
                    self.apply(append_copy(self.text, path, new_id=new_id, new_name=new_name))

                ui.button(new_name, icon="add", on_click=self.ctx.act("read", add)).props(
                    f'flat dense no-caps data-testid="form-add-{prefix}"'
                )

    def _field(self, path: Path, label: str, kind: str, *, testid: str | None) -> None:
        value = get_path(self.document, path)
        shown = _label(label)

        def changed(event: Any, path: Path = path, kind: str = kind) -> None:
            new = event.value
            if kind == "number":
                new = _number(new)
            elif kind == "lines":
                new = [line.strip() for line in str(new or "").splitlines() if line.strip()]
            self.edits[path] = new

        if kind == "number":
            element: Any = ui.number(shown, value=value if isinstance(value, (int, float)) else None)
        elif kind == "lines":
            lines = "\n".join(str(v) for v in value) if isinstance(value, list) else ""
            element = ui.textarea(shown, value=lines).props("autogrow")
        elif kind == "long":
            element = ui.textarea(shown, value="" if value is None else str(value)).props("autogrow")
        else:
            element = ui.input(shown, value="" if value is None else str(value))
        if kind in ("long", "lines"):
            # The brief's texts take the form's width; in an item's row they take what is left of it.
            element.classes("w-full" if testid else "grow")
        element.style("min-width: 180px")
        element.on_value_change(changed)
        if self.readonly:
            element.props("readonly")
        if testid:
            element.props(f'data-testid="{testid}"')

    def _apply(self) -> None:
        if not self.edits:
            ui.notify(_("nothing changed in the form"))
            return
        text = apply_edits(self.text, self.edits.items())
        # Before applying: applying rebuilds the form, and this button with it.
        ui.notify(_("the form's changes are in the YAML; check the problems list"), type="positive")
        self.apply(text)
