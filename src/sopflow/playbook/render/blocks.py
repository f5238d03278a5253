"""The neutral SOP document every output format renders: translated text in small frozen dataclasses.

The document is built once (:mod:`sopflow.playbook.render.document`) in the user's language; renderers only
lay it out, so Markdown, HTML, Excel and the calendar always say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Fields:
    """Label/value pairs (a definition list)."""

    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class CheckItem:
    text: str
    done: bool = False
    detail: str = ""


@dataclass(frozen=True)
class Checklist:
    items: tuple[CheckItem, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ScriptText:
    """A script (话术) as the team will send it, with its A/B variants as (label, text) pairs."""

    title: str
    text: str
    variants: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class GanttBar:
    label: str
    node: str  # "D0 20:00"
    start: int  # seconds from D0 00:00
    end: int


@dataclass(frozen=True)
class GanttGroup:
    title: str
    bars: tuple[GanttBar, ...]


@dataclass(frozen=True)
class Gantt:
    """The timeline as bars; ``mermaid`` is the same chart as Mermaid source."""

    title: str
    groups: tuple[GanttGroup, ...]
    mermaid: str
    start: datetime | None


Block = Paragraph | Fields | Bullets | Checklist | Table | ScriptText | Gantt


@dataclass(frozen=True)
class Section:
    title: str
    anchor: str
    blocks: tuple[Block, ...] = ()
    subsections: tuple[Section, ...] = ()


@dataclass(frozen=True)
class Part:
    title: str
    anchor: str
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class MaterialView:
    name: str
    kind: str
    uri: str
    ready: bool

    def text(self) -> str:
        base = f"{self.name} ({self.kind})"
        return f"{base} {self.uri}" if self.uri else base


@dataclass(frozen=True)
class StepView:
    """One time node with everything the team needs at it, already in words."""

    id: str
    name: str
    phase: str
    offset: int
    end_offset: int  # the deadline, or a default length so the step shows as a bar / calendar event
    node: str  # "D-3 10:00"
    deadline_node: str  # "" without a deadline
    starts_at: datetime | None
    ends_at: datetime | None
    due_at: datetime | None
    when: str  # the absolute time in words, "" without a start date
    due: str
    owner: str  # role name
    people: tuple[str, ...]
    owner_text: str  # "社群运营（小王、小李）"
    channel: str
    action: str
    stage: str
    script_name: str
    script_text: str
    variants: tuple[tuple[str, str], ...]
    materials: tuple[MaterialView, ...]
    checklist: tuple[str, ...]
    audience: str  # "" for a task that addresses no users
    exit_when: str  # "" without an exit condition
    notes: str


@dataclass(frozen=True)
class SopDocument:
    lang: str  # BCP 47, for <html lang>: "zh-CN" or "en"
    title: str
    subtitle: str
    playbook_id: str
    version: str
    timezone: str
    start: datetime | None  # D0 00:00, aware; None when no start date was given
    start_note: str
    parts: tuple[Part, ...]
    steps: tuple[StepView, ...]  # time order
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def framework(self) -> Part:
        """Part 1, for formats that lay it out on its own (the workbook's first sheet)."""
        return self.parts[0]
