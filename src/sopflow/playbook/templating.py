"""Script (话术) templates: ``{{variable}}`` placeholders, the variables a playbook may use, and rendering."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sopflow.i18n import N_

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Filled in by sopflow for every touch; a playbook's own `variables:` add to these.
BUILTIN_VARIABLES: dict[str, str] = {
    "nickname": N_("the user's nickname"),
    "campaign_name": N_("the campaign's name"),
    "owner": N_("the name of the step's owner"),
    "step_time": N_("the time of the step"),
    "start_date": N_("the campaign's start date"),
    "invite_link": N_("the user's personal invitation link"),
}


@dataclass(frozen=True)
class Placeholder:
    name: str
    start: int  # character offset of "{{" in the text
    valid: bool


def placeholders(text: str) -> Iterator[Placeholder]:
    for match in PLACEHOLDER.finditer(text):
        name = match.group(1)
        yield Placeholder(name=name, start=match.start(), valid=bool(NAME.match(name)))


def known_variables(declared: Mapping[str, str]) -> set[str]:
    return set(BUILTIN_VARIABLES) | set(declared)


def render_text(text: str, values: Mapping[str, str]) -> str:
    """Fill placeholders; an unknown one is left as written so a missing value shows, not vanishes."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
