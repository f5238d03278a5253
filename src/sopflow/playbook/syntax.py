"""Read YAML text into a ruamel document, and turn every syntax error into one located, translated problem.

ruamel reports where it *noticed* a problem, which is often lines after the actual mistake (an unclosed
quote swallows the following lines; an over-indented line reads as the continuation of the value above
it). The heuristics here move the position back to the mistake a person has to fix.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import ConstructorError, DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.parser import ParserError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scanner import ScannerError
from ruamel.yaml.tokens import ScalarToken

from sopflow.i18n import N_, _
from sopflow.playbook.positions import Mark, SourceLines
from sopflow.playbook.problems import Problem


class _MarkingConstructor(RoundTripConstructor):
    """Plain Python errors while building a value (``!!int abc``, ``2024-13-45``) get the node's position."""

    def construct_non_recursive_object(self, node: Any, tag: str | None = None) -> Any:
        try:
            return super().construct_non_recursive_object(node, tag)
        except YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise ConstructorError(None, None, _cannot_read(node, exc), node.start_mark) from None


def _cannot_read(node: Any, exc: Exception) -> str:
    value = getattr(node, "value", "")
    shown = repr(value) if isinstance(value, str) else ""
    return _("cannot read the value {value} ({reason})", value=shown, reason=str(exc) or type(exc).__name__)


def read_yaml(text: str, *, filename: str) -> tuple[Any, Problem | None]:
    """The round-trip document, or None and the one syntax problem that stopped the reader."""
    yaml = YAML(typ="rt")
    yaml.Constructor = _MarkingConstructor
    try:
        with warnings.catch_warnings():
            # Reused anchors and similar notes are not problems of the playbook; they would only clutter stderr.
            warnings.simplefilter("ignore")
            return yaml.load(text), None
    except DuplicateKeyError as exc:
        return None, _duplicate_key(exc, filename)
    except MarkedYAMLError as exc:
        line, col, reason = _explain(exc, text)
        return None, Problem(
            filename, line, col, "yaml_syntax", _("YAML syntax error: {reason}", reason=reason)
        )
    except ReaderError as exc:
        return None, _bad_character(exc, text, filename)
    except (YAMLError, ValueError, TypeError, RecursionError, AttributeError, KeyError, IndexError) as exc:
        # A few malformed inputs still escape as plain errors from inside ruamel (e.g. unhashable keys).
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, Problem(filename, 1, 1, "yaml_syntax", _("YAML syntax error: {reason}", reason=reason))


def _mark_of(mark: Any) -> tuple[int, int]:
    return int(mark.line) + 1, int(mark.column) + 1


def _duplicate_key(exc: DuplicateKeyError, filename: str) -> Problem:
    found = re.search(r'found duplicate key "(.*?)" with value', exc.problem or "")
    key = found.group(1) if found else "?"
    line, col = _mark_of(exc.problem_mark) if exc.problem_mark else (1, 1)
    return Problem(
        filename,
        line,
        col,
        "duplicate_key",
        _("duplicate key {key!r}: a key may appear only once in a mapping", key=key),
    )


def _bad_character(exc: ReaderError, text: str, filename: str) -> Problem:
    position = exc.position if isinstance(exc.position, int) else 0
    mark = SourceLines(text).mark(min(max(position, 0), len(text)))
    char = exc.character
    code = ord(char) if isinstance(char, str) and len(char) == 1 else (char if isinstance(char, int) else 0)
    return Problem(
        filename,
        mark.line,
        mark.col,
        "yaml_syntax",
        _(
            "YAML syntax error: {reason}",
            reason=_("the control character U+{code:04X} is not allowed in YAML text", code=code),
        ),
    )


# ruamel's wording → ours. Unlisted problems keep ruamel's English text after the translated prefix.
_REASONS: list[tuple[str, str]] = [
    (
        r"found character '\\t' that cannot start any token",
        N_("a tab character: YAML indentation must use spaces"),
    ),
    (
        r"could not find expected ':'",
        N_("expected ':' after a key (write 'key: value' with a space after the colon)"),
    ),
    (r"found unexpected end of stream", N_("the value is not closed: a closing quote or bracket is missing")),
    (r"expected ',' or '\]', but got", N_("the list opened with '[' is not closed with ']'")),
    (r"expected ',' or '\}', but got", N_("the mapping opened with '{' is not closed with '}'")),
    (
        r"found undefined alias",
        N_("this alias (*name) refers to an anchor (&name) that is not defined above it"),
    ),
    (
        r"but found another document",
        N_("a playbook is a single YAML document: remove the second '---' or '...'"),
    ),
    (
        r"expected <block end>, but found",
        N_("this line does not line up with the lines above it: check its indentation"),
    ),
    (
        r"mapping values are not allowed here",
        N_("a ':' is not allowed here (a value that contains ': ' must be quoted)"),
    ),
    (
        r"found character '(.)' that cannot start any token",
        N_("a value cannot start with this character: put the value in quotes"),
    ),
    (
        r"found unknown escape character",
        N_(
            "unknown escape sequence in a double-quoted value: write \\\\ for a backslash, or use single quotes"
        ),
    ),
]


def _translated(problem: str) -> str | None:
    for pattern, message in _REASONS:
        if re.search(pattern, problem):
            return _(message)
    return None


def _explain(exc: MarkedYAMLError, text: str) -> tuple[int, int, str]:
    """Line, column and reason for a syntax error, moved back to the mistake where it can be found."""
    problem = exc.problem or ""
    context = exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    line, col = _mark_of(mark) if mark else (1, 1)
    reason = _translated(problem) or " ".join(p for p in (context, problem) if p) or type(exc).__name__

    # Only the scanner and parser read past a missing quote; a value that fails to load is where it is.
    quoted = _runaway_quote(text, line) if isinstance(exc, (ScannerError, ParserError)) else None
    if quoted is not None:
        return (
            quoted.line,
            quoted.col,
            _(
                "the quoted value starting here is not closed on its line and runs on to line {line}: "
                "add the closing quote",
                line=line,
            ),
        )
    opener_context = "while scanning a simple key" in context or "flow" in context
    if exc.context_mark is not None and (opener_context or "end of stream" in problem):
        # The opener (a key without ':', an unclosed '[' / '{' / quote) is the mistake, not where it ended.
        line, col = _mark_of(exc.context_mark)
    elif "mapping values are not allowed here" in problem:
        deeper = _over_indented(text, line)
        if deeper is not None:
            return (
                deeper.line,
                deeper.col,
                _(
                    "this line is indented more than the line above it, so it reads as part of that value: "
                    "check the indentation"
                ),
            )
    return line, col, reason


def _runaway_quote(text: str, error_line: int) -> Mark | None:
    """The start of a quoted scalar that spans lines up to the error and swallowed what look like keys.

    A missing closing quote makes YAML read on to the next quote character, often many lines below.
    """
    last: Any = None
    yaml = YAML(typ="rt")
    try:
        for token in yaml.scan(text):
            if isinstance(token, ScalarToken) and token.style in ('"', "'"):
                last = token
    except (YAMLError, ValueError, TypeError, RecursionError):
        pass
    if last is None:
        return None
    start, end = last.start_mark, last.end_mark
    if end.line == start.line or end.line + 1 < error_line - 1:
        return None
    swallowed = text[start.index : end.index]
    if not re.search(r"\n[ \t]*(?:- )?[A-Za-z_][\w-]*:(?:\s|$)", swallowed):
        return None
    return Mark(start.line + 1, start.column + 1)


def _over_indented(text: str, error_line: int) -> Mark | None:
    """The first character of ``error_line`` when it is indented deeper than the plain ``key: value`` above."""
    lines = SourceLines(text).lines
    if not 1 <= error_line <= len(lines):
        return None
    current = lines[error_line - 1]
    indent = len(current) - len(current.lstrip(" "))
    for previous in reversed(lines[: error_line - 1]):
        stripped = previous.strip()
        if not stripped or stripped.startswith("#"):
            continue
        prev_indent = len(previous) - len(previous.lstrip(" "))
        if indent > prev_indent and re.search(r":\s+[^\s|>#\"'\[{&*!]", previous):
            return Mark(error_line, indent + 1)
        return None
    return None
