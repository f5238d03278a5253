"""Load a playbook from YAML text: syntax, types and cross-references, every problem with file:line:col.

The stages run in order and each later stage only runs on what the earlier one accepted: YAML syntax
(one problem, since the reader stops there), the document's shape and numbers, the pydantic model, and
the cross-reference checks. Every problem found in a stage is reported, not just the first.
"""

from __future__ import annotations

import math
from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from sopflow.i18n import _
from sopflow.playbook.checks import cross_check
from sopflow.playbook.messages import describe, field_names, shown, unknown_field
from sopflow.playbook.model import Playbook
from sopflow.playbook.positions import Mark, Path, PositionIndex, SourceLines, TooDeep, TooLarge, to_plain
from sopflow.playbook.problems import PlaybookInvalid, Problem, dotted
from sopflow.playbook.syntax import read_yaml

# No count, amount or rate in a playbook comes near this; beyond it floats lose whole units.
MAX_NUMBER = 10**15


def parse_playbook(text: str, *, filename: str) -> tuple[Playbook | None, list[Problem]]:
    """The playbook and no problems, or None and every problem found (sorted by place)."""
    document, problem = read_yaml(text, filename=filename)
    if problem:
        return None, [problem]
    index = PositionIndex()
    try:
        plain = to_plain(document, index)
    except (TooDeep, RecursionError):
        return None, [Problem(filename, 1, 1, "too_deep", _("the document is nested too deeply"))]
    except TooLarge:
        return None, [Problem(filename, 1, 1, "too_large", _("the document is too large for a playbook"))]
    if plain is None:
        return None, [Problem(filename, 1, 1, "empty", _("the file is empty: a playbook is a YAML mapping"))]
    if not isinstance(plain, dict):
        mark = index.values.get(()) or _first_content(text)
        message = _("a playbook is a YAML mapping of sections (meta, brief, funnel, timeline…)")
        return None, [Problem(filename, mark.line, mark.col, "not_a_mapping", message)]
    numbers = _number_problems(plain, index, filename)
    try:
        playbook = Playbook.model_validate(plain)
    except ValidationError as exc:
        return None, _merge(numbers, _validation_problems(exc, plain, index, filename))
    if numbers:
        # Cross checks compute with these numbers; an infinite one would only produce follow-on noise.
        return None, sorted(numbers)
    try:
        problems = cross_check(playbook, index=index, filename=filename, source=text)
    except RecursionError:  # a last resort: the checks bound every chain they follow
        return None, [Problem(filename, 1, 1, "too_deep", _("the document is nested too deeply"))]
    return (None if problems else playbook), sorted(problems)


def load_playbook(path: str | FsPath) -> Playbook:
    """Read and validate a playbook file; raises :class:`PlaybookInvalid` with every problem."""
    text = _read_text(path)
    playbook, problems = parse_playbook(text, filename=str(path))
    if playbook is None:
        raise PlaybookInvalid(problems)
    return playbook


def check_file(path: str | FsPath) -> list[Problem]:
    """Every problem of the playbook file at ``path`` (empty when it is valid)."""
    try:
        load_playbook(path)
    except PlaybookInvalid as exc:
        return exc.problems
    return []


def _read_text(path: str | FsPath) -> str:
    file = FsPath(path)

    def fail(code: str, message: str) -> PlaybookInvalid:
        return PlaybookInvalid([Problem(str(path), 1, 1, code, message)])

    try:
        return file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise fail("not_found", _("file not found")) from None
    except IsADirectoryError:
        raise fail("unreadable", _("this is a folder, not a playbook file")) from None
    except UnicodeDecodeError as exc:
        raise fail(
            "encoding", _("the file is not UTF-8 text (byte {offset} cannot be read)", offset=exc.start)
        ) from None
    except OSError as exc:
        raise fail(
            "unreadable", _("cannot read the file: {reason}", reason=exc.strerror or type(exc).__name__)
        ) from None


def _first_content(text: str) -> Mark:
    """Where a document without marks of its own (a lone scalar) starts: past comments and directives."""
    for lineno, line in enumerate(SourceLines(text).lines, start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "%", "---")):
            return Mark(lineno, len(line) - len(line.lstrip()) + 1)
    return Mark(1, 1)


def _number_problems(node: Any, index: PositionIndex, filename: str, path: Path = ()) -> list[Problem]:
    """Infinite, NaN and absurdly large numbers anywhere: pydantic's float accepts ``.inf`` and ``.nan``."""
    out: list[Problem] = []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _number_problems(value, index, filename, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _number_problems(value, index, filename, (*path, i))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        mark = index.value(path)
        field = _field_name(path)
        if isinstance(node, float) and not math.isfinite(node):
            message = _("{field}: expected a finite number, got {got}", field=field, got=shown(node))
            out.append(Problem(filename, mark.line, mark.col, "not_finite", message, dotted(path)))
        elif abs(node) > MAX_NUMBER:
            message = _("{field}: the number {got} is too large", field=field, got=shown(node))
            out.append(Problem(filename, mark.line, mark.col, "out_of_range", message, dotted(path)))
    return out


def _merge(first: list[Problem], second: list[Problem]) -> list[Problem]:
    """Both lists, keeping only the first problem reported at one place (NaN also fails ``ge=0``)."""
    seen = {(p.line, p.col) for p in first}
    return sorted([*first, *(p for p in second if (p.line, p.col) not in seen)])


def _data_path(plain: Any, loc: tuple[str | int, ...]) -> tuple[Path, Path]:
    """Split a pydantic location into the part that exists in the document and the type-tag rest."""
    node = plain
    for i, part in enumerate(loc):
        in_dict = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
        else:
            return tuple(loc[:i]), tuple(loc[i:])
    return tuple(loc), ()


def _validation_problems(
    exc: ValidationError, plain: Any, index: PositionIndex, filename: str
) -> list[Problem]:
    problems: dict[tuple[Path, str], Problem] = {}
    for error in exc.errors(include_url=False):
        path, rest = _data_path(plain, tuple(error["loc"]))
        kind = error["type"]
        if kind == "missing" and rest and isinstance(rest[0], int):
            # A fixed-length list (``age: [low, high]``) with too few items.
            error = {**error, "type": "too_short", "ctx": {"min_length": rest[0] + 1}}
            kind, rest = "too_short", ()
        if kind == "missing":
            field = str(rest[0]) if rest else str(path[-1] if path else "")
            mark = index.key(path) if path else index.value(())
            target: Path = (*path, field)
        elif kind == "extra_forbidden":
            field = str(path[-1]) if path else ""
            mark = index.key(path)
            target = path
        else:
            field = _field_name(path)
            # `[key]` is pydantic's location of a bad mapping key (e.g. an invalid stage id in `rates`).
            mark = index.key(path) if rest[:1] == ("[key]",) else index.value(path)
            target = path
            if rest and rest[0] != "[key]":
                error = _union_error(error)
        code, message = describe(error, field)
        if kind == "extra_forbidden":
            message = unknown_field(field, field_names(Playbook, path[:-1]))
        key = (target, "missing" if kind == "missing" else "value")
        if key in problems:
            continue  # one message per value, even when a union produced one error per alternative
        problems[key] = Problem(filename, mark.line, mark.col, code, message, dotted(target))
    return list(problems.values())


def _field_name(path: Path) -> str:
    """How a message names the value at ``path``: its field, ``materials[0]``, or ``rates.join`` for a key."""
    names = [p for p in path if isinstance(p, str)]
    if not names:
        return _("document")
    if path and isinstance(path[-1], int):
        return f"{names[-1]}[{path[-1]}]"
    if len(path) >= 2 and isinstance(path[-2], str) and not field_names(Playbook, path[:-1]):
        # A key of a free mapping (channel `rates`, `variables`) says little without the mapping's name.
        return f"{path[-2]}.{path[-1]}"
    return names[-1]


def _union_error(error: ErrorDetails) -> ErrorDetails:
    # An error below a union alternative's tag (e.g. 'list[float]') is reported as an invalid value.
    if error["type"].endswith("_type") or error["type"].endswith("_parsing"):
        return {**error, "type": "union_tag_invalid"}
    return error
