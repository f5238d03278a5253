"""Write form edits back into a playbook's YAML text, keeping everything the form does not touch.

The text is read with ruamel's round-trip loader, so comments, key order, flow mappings and quoting of the
untouched parts survive; only the edited values (and the items added) change. The result is YAML text for
the editor, which validates it like anything typed.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from sopflow.errors import InvalidInput
from sopflow.i18n import _

Path = tuple[str | int, ...]


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long Chinese line the user wrote on one line
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load_document(text: str) -> CommentedMap:
    """The round-trip document of ``text``; InvalidInput when it is not a YAML mapping (fix the YAML first)."""
    try:
        document = _yaml().load(text)
    except (YAMLError, ValueError, RecursionError):
        document = None
    if not isinstance(document, CommentedMap):
        raise InvalidInput(
            _("the form needs YAML that parses: fix the problems shown in the editor first"),
            code="yaml_unreadable",
        )
    return document


def dump_document(document: CommentedMap) -> str:
    out = io.StringIO()
    try:
        _yaml().dump(document, out)
    except (YAMLError, ValueError) as exc:
        raise InvalidInput(
            _("the form's values cannot be written as YAML: {reason}", reason=str(exc).splitlines()[0]),
            code="yaml_unwritable",
        ) from None
    return out.getvalue()


def get_path(document: Any, path: Path) -> Any:
    """The value at ``path``, or None where the path does not exist."""
    node = document
    for part in path:
        in_list = isinstance(part, int) and isinstance(node, list) and -len(node) <= part < len(node)
        in_map = isinstance(part, str) and isinstance(node, dict) and part in node
        if not (in_list or in_map):
            return None
        node = node[part]
    return node


def set_path(document: CommentedMap, path: Path, value: Any) -> None:
    """Set the value at ``path``; missing mappings on the way are created, list items must exist."""
    node: Any = document
    for index, part in enumerate(path[:-1]):
        following = path[index + 1]
        if isinstance(node, dict):
            if not isinstance(node.get(part), (dict, list)):
                node[part] = CommentedSeq() if isinstance(following, int) else CommentedMap()
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            raise InvalidInput(_("{path}: no such place in the playbook", path=_dotted(path)), code="no_path")
    last = path[-1]
    in_list = isinstance(node, list) and isinstance(last, int) and 0 <= last < len(node)
    if isinstance(node, dict) or in_list:
        node[last] = value
    else:
        raise InvalidInput(_("{path}: no such place in the playbook", path=_dotted(path)), code="no_path")


def apply_edits(text: str, edits: Iterable[tuple[Path, Any]]) -> str:
    """``text`` with each ``(path, value)`` set (a list value replaces the whole list)."""
    document = load_document(text)
    for path, value in edits:
        if isinstance(value, list):
            value = CommentedSeq([_styled(item) for item in value])
        set_path(document, path, _styled(value))
    return dump_document(document)


def _styled(value: Any) -> Any:
    """A string YAML would not read back as typed in plain style, double-quoted (escapes keep it exact).

    Plain scalars fold line breaks, and YAML counts NEL and the Unicode line and paragraph separators as line
    breaks too; control characters need escapes. Everything else stays plain, as people write it.
    """
    if isinstance(value, str) and (not value.isprintable() or any(c in value for c in "\x85\u2028\u2029")):
        return DoubleQuotedScalarString(value)
    return value


def append_copy(text: str, path: Path, *, new_id: str, new_name: str) -> str:
    """``text`` with a copy of the last item of the list at ``path`` appended, under a new id and name.

    Copying the last item keeps the required fields filled (a step keeps its owner and channel), so the new
    item is valid or close to it, and the editor shows what still needs changing.
    """
    document = load_document(text)
    items = get_path(document, path)
    if not isinstance(items, list) or not items or not isinstance(items[-1], dict):
        raise InvalidInput(
            _("{path}: there is no item to copy; add one in the YAML editor", path=_dotted(path)),
            code="nothing_to_copy",
        )
    item = copy.deepcopy(items[-1])
    item["id"] = new_id
    if "name" in item:
        item["name"] = new_name
    items.append(item)
    return dump_document(document)


def fresh_id(existing: Iterable[Any], prefix: str) -> str:
    """``prefix_2``, ``prefix_3``… the first not among ``existing``."""
    taken = {str(value) for value in existing}
    number = 2
    while f"{prefix}_{number}" in taken:
        number += 1
    return f"{prefix}_{number}"


def _dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
