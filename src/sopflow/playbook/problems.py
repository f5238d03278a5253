"""A problem found in a playbook: where it is, a stable code, and a message in the user's language."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sopflow.errors import InvalidInput
from sopflow.i18n import _


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    col: int
    code: str
    message: str
    path: str = ""

    def __post_init__(self) -> None:
        # One problem is one output line: a reason quoted from elsewhere must not break FILE:LINE:COL parsing.
        if any(ch in self.message for ch in "\r\n\x85\u2028\u2029"):
            object.__setattr__(self, "message", " ".join(self.message.split()))

    def format(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class PlaybookInvalid(InvalidInput):
    """Raised by :func:`load_playbook`; carries every problem found."""

    code = "playbook_invalid"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = [p.format() for p in problems]
        lines.append(_("{count} problem(s) found", count=len(problems)))
        super().__init__("\n".join(lines))


def dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
