"""Translation of user-facing text.

Message ids are English source strings with ``{name}`` placeholders. Catalogs live in
``locales/<lang>/LC_MESSAGES/*.po``, one file per domain folder of the package (``playbook.po``,
``events.po``…), merged at first use with Babel, so an editable install needs no compile step.
zh_CN is the default language, en the second; an en entry is only needed where the English text
differs from the message id.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

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
        with path.open("rb") as fh:
            po = read_po(fh, locale=lang)
        merged.update({str(m.id): str(m.string) for m in po if m.id and m.string and not m.fuzzy})
    return merged


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
