"""Load a playbook from YAML text: syntax, types and cross-references, every problem with file:line:col."""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from sopflow.i18n import _
from sopflow.playbook.checks import cross_check
from sopflow.playbook.messages import describe
from sopflow.playbook.model import Playbook
from sopflow.playbook.positions import Path, PositionIndex, TooDeep, to_plain
from sopflow.playbook.problems import PlaybookInvalid, Problem, dotted


def parse_playbook(text: str, *, filename: str) -> tuple[Playbook | None, list[Problem]]:
    """The playbook and no problems, or None and every problem found (sorted by place)."""
    index = PositionIndex()
    document, problem = _parse_yaml(text, filename)
    if problem:
        return None, [problem]
    try:
        plain = to_plain(document, index)
    except (TooDeep, RecursionError):
        return None, [Problem(filename, 1, 1, "too_deep", _("the document is nested too deeply"))]
    if plain is None:
        return None, [Problem(filename, 1, 1, "empty", _("the file is empty: a playbook is a YAML mapping"))]
    if not isinstance(plain, dict):
        mark = index.value(())
        return None, [
            Problem(
                filename,
                mark.line,
                mark.col,
                "not_a_mapping",
                _("a playbook is a YAML mapping of sections (meta, brief, funnel, timeline…)"),
            )
        ]
    try:
        playbook = Playbook.model_validate(plain)
    except ValidationError as exc:
        return None, sorted(_validation_problems(exc, plain, index, filename))
    problems = cross_check(playbook, index=index, filename=filename, source=text)
    return (None if problems else playbook), sorted(problems)


def load_playbook(path: str | FsPath) -> Playbook:
    """Read and validate a playbook file; raises :class:`PlaybookInvalid` with every problem."""
    file = FsPath(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PlaybookInvalid([Problem(str(path), 1, 1, "not_found", _("file not found"))]) from None
    except UnicodeDecodeError as exc:
        raise PlaybookInvalid(
            [
                Problem(
                    str(path), 1, 1, "encoding", _("the file is not UTF-8 text ({reason})", reason=exc.reason)
                )
            ]
        ) from None
    except OSError as exc:
        raise PlaybookInvalid(
            [Problem(str(path), 1, 1, "unreadable", _("cannot read the file: {reason}", reason=exc.strerror))]
        ) from None
    playbook, problems = parse_playbook(text, filename=str(path))
    if playbook is None:
        raise PlaybookInvalid(problems)
    return playbook


def check_file(path: str | FsPath) -> list[Problem]:
    try:
        load_playbook(path)
    except PlaybookInvalid as exc:
        return exc.problems
    return []


def _parse_yaml(text: str, filename: str) -> tuple[Any, Problem | None]:
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text), None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = " ".join(part for part in (exc.context, exc.problem) if part) or type(exc).__name__
        return None, Problem(
            filename, line, col, "yaml_syntax", _("YAML syntax error: {reason}", reason=reason)
        )
    except (YAMLError, ValueError, TypeError, RecursionError, AttributeError, KeyError) as exc:
        # ruamel raises plain Python errors on some malformed input (bad timestamps, odd tags).
        return None, Problem(filename, 1, 1, "yaml_syntax", _("YAML syntax error: {reason}", reason=str(exc)))


def _data_path(plain: Any, loc: tuple[str | int, ...]) -> tuple[Path, Path]:
    """Split a pydantic location into the part that exists in the document and the type-tag rest."""
    node = plain
    for i, part in enumerate(loc):
        if isinstance(node, dict) and isinstance(part, str) and part in node:  # noqa: SIM114 - types differ
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
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
            mark = index.value(path)
            target = path
            if rest and not isinstance(rest[0], int) and kind != "missing":
                error = _union_error(error)
        code, message = describe(error, field)
        key = (target, "missing" if kind == "missing" else "value")
        if key in problems and kind != "missing":
            continue  # one message per value, even when a union produced one error per alternative
        problems[key] = Problem(filename, mark.line, mark.col, code, message, dotted(target))
    return list(problems.values())


def _field_name(path: Path) -> str:
    names = [p for p in path if isinstance(p, str)]
    if not names:
        return _("document")
    if path and isinstance(path[-1], int):
        return f"{names[-1]}[{path[-1]}]"
    return names[-1]


def _union_error(error: ErrorDetails) -> ErrorDetails:
    # An error below a union alternative's tag (e.g. 'list[float]') is reported as an invalid value.
    if error["type"].endswith("_type") or error["type"].endswith("_parsing"):
        return {**error, "type": "union_tag_invalid"}
    return error
