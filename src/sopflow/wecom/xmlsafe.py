"""A strict, small XML reader for WeCom's callback bodies (the envelope and the decrypted message).

WeCom's XML is a flat ``<xml>`` element of named fields, sometimes one level of lists
(``<MemChangeList><Item>…</Item></MemChangeList>``). It never has a DOCTYPE, so any DOCTYPE, entity
declaration or external reference is refused outright: that rules out entity expansion ("billion laughs")
and external entities whatever the expat version, without a third-party parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

from sopflow.i18n import _
from sopflow.wecom.crypto import CallbackRefused

MAX_DEPTH = 16


@dataclass
class CallbackXml:
    """The fields of the root element (``name → text``) and its lists (``name → [child texts]``)."""

    fields: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.fields.get(name, "").strip()


class _Forbidden(Exception):
    pass


def _forbid(*_args: Any) -> None:
    raise _Forbidden


def _refuse(reason: str) -> CallbackRefused:
    return CallbackRefused(
        _("the callback body is not the XML WeCom sends: {reason}", reason=reason),
        reason="malformed_xml",
        status=400,
    )


def parse_callback_xml(data: bytes) -> CallbackXml:
    """Parse ``data``; :class:`CallbackRefused` (``malformed_xml``) for anything but plain, DTD-free XML."""
    result = CallbackXml()
    stack: list[tuple[str, list[str]]] = []
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    parser.UnparsedEntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid  # type: ignore[assignment]

    def start(name: str, _attrs: dict[str, str]) -> None:
        if len(stack) >= MAX_DEPTH:
            raise _Forbidden
        if not stack and name != "xml":
            raise _Forbidden
        stack.append((name, []))

    def end(name: str) -> None:
        _name, parts = stack.pop()
        text = "".join(parts)
        if len(stack) == 1:
            result.fields.setdefault(name, text)
        elif len(stack) == 2:
            result.lists.setdefault(stack[1][0], []).append(text.strip())

    def chars(text: str) -> None:
        stack[-1][1].append(text)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except _Forbidden:
        raise _refuse(_("a DOCTYPE, an entity or an unexpected element")) from None
    except expat.ExpatError as exc:
        raise _refuse(expat.ErrorString(exc.code) or str(exc)) from None
    return result
