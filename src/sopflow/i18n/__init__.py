"""Translation of user-facing text.

Message ids are English source strings with ``{name}`` placeholders. Catalogs live in
``locales/<lang>/LC_MESSAGES/*.po``, one file per domain folder of the package (``playbook.po``,
``events.po``…), merged at first use by the small reader below (Babel's takes a few tenths of a second to
import and parse, paid by every command at start), so an editable install needs no compile step; a test
checks it reads every shipped catalog as Babel does.
zh_CN is the default language, en the second; an en entry is only needed where the English text
differs from the message id.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("zh_CN", "en")
DEFAULT_LANGUAGE = "zh_CN"
_LOCALES = Path(__file__).parent / "locales"
_current: ContextVar[str] = ContextVar("sopflow_language", default="")


def normalize_language(value: str | None) -> str | None:
    """Map a locale name such as ``en_US.UTF-8``, ``zh-CN`` or ``zh_CN`` onto a supported language."""
    if not value:
        return None
    head = value.split(".")[0].split("@")[0].replace("-", "_").lower()
    if head.startswith("en"):
        return "en"
    if head.startswith("zh"):
        return "zh_CN"
    return None


def language_from_environment(environ: dict[str, str] | None = None) -> str:
    """``SOPFLOW_LANG``, then the usual locale variables; zh_CN when none names a supported language."""
    env = os.environ if environ is None else environ
    for name in ("SOPFLOW_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        for part in env.get(name, "").split(":"):
            lang = normalize_language(part)
            if lang:
                return lang
    return DEFAULT_LANGUAGE


def set_language(lang: str | None) -> str:
    """Set the language for this context; ``None`` picks it from the environment. Returns the language set."""
    chosen = normalize_language(lang) if lang else language_from_environment()
    if chosen is None:
        raise ValueError(f"unsupported language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    _current.set(chosen)
    return chosen


def current_language() -> str:
    return _current.get() or language_from_environment()


@cache
def catalog(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted((_LOCALES / lang / "LC_MESSAGES").glob("*.po")):
        merged.update(read_catalog(path.read_text(encoding="utf-8")))
    return merged


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unquote(text: str) -> str:
    body = text.strip()[1:-1]
    if "\\" not in body:
        return body
    out, i = [], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def read_catalog(text: str) -> dict[str, str]:
    """``msgid → msgstr`` of a PO file: translated, non-fuzzy entries with a non-empty id (no plurals used)."""
    found: dict[str, str] = {}
    entry: dict[str, list[str]] = {}
    field = ""
    fuzzy = False

    def finish() -> None:
        msgid, msgstr = "".join(entry.get("msgid", [])), "".join(entry.get("msgstr", []))
        if msgid and msgstr and not fuzzy and "msgctxt" not in entry:
            found[msgid] = msgstr

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if entry and "msgstr" in entry:
                finish()
                entry, fuzzy = {}, False
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            continue
        if line.startswith('"'):
            entry.setdefault(field, []).append(_unquote(line))
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgid", "msgctxt") and "msgstr" in entry:
            finish()
            entry, fuzzy = {}, fuzzy if keyword == "msgctxt" else False
        field = keyword
        entry.setdefault(field, []).append(_unquote(rest))
    if entry:
        finish()
    return found


def gettext(message: str, /, **values: Any) -> str:
    """Translate ``message`` into the current language and fill its ``{placeholders}``."""
    text = catalog(current_language()).get(message) or message
    return text.format(**values) if values else text


def translate_to(lang: str, message: str, /, **values: Any) -> str:
    text = catalog(lang).get(message) or message
    return text.format(**values) if values else text


def N_(message: str) -> str:
    return message


_ = gettext
