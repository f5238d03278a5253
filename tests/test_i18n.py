"""Translations: every message id in the source has a zh_CN translation, and language selection works."""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

import sopflow
from sopflow.i18n import (
    DEFAULT_LANGUAGE,
    N_,
    _,
    catalog,
    current_language,
    language_from_environment,
    normalize_language,
    set_language,
    translate_to,
)

SRC = Path(sopflow.__file__).parent
MARKERS = {"_", "N_", "gettext"}
PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)(?:![rsa])?(?::[^{}]*)?\}(?!\})")


def message_ids() -> dict[str, list[str]]:
    """Literal first arguments of ``_(…)``, ``N_(…)`` and ``gettext(…)`` calls → where they are."""
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else None
            )
            first = node.args[0]
            if name in MARKERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                where = f"{path.relative_to(SRC.parent)}:{node.lineno}"
                found.setdefault(first.value, []).append(where)
    return found


def test_the_extraction_finds_known_messages() -> None:
    ids = message_ids()
    assert "missing required field {field!r}" in ids
    assert "YAML syntax error: {reason}" in ids
    assert len(ids) > 100


def test_every_message_has_a_zh_cn_translation() -> None:
    zh = catalog("zh_CN")
    missing = {msgid: where for msgid, where in message_ids().items() if not zh.get(msgid)}
    report = "\n".join(
        f"{where[0]}: {msgid!r}" for msgid, where in sorted(missing.items(), key=lambda kv: kv[1])
    )
    assert not missing, f"{len(missing)} message(s) without a zh_CN translation:\n{report}"


def test_translations_keep_the_placeholders() -> None:
    """A translation that drops or renames a {placeholder} would raise KeyError or lose data at runtime."""
    zh = catalog("zh_CN")
    wrong = []
    for msgid, translation in zh.items():
        if set(PLACEHOLDER.findall(msgid)) != set(PLACEHOLDER.findall(translation)):
            wrong.append(f"{msgid!r} → {translation!r}")
    assert not wrong, "\n".join(wrong)


def test_a_message_in_two_catalogs_has_one_translation() -> None:
    """The catalogs merge into one table per language: a message translated differently in two files would
    read as whichever file loads last (a column label once came out as "state" from the WeCom catalog)."""
    translations: dict[str, dict[str, list[str]]] = {}
    for path in sorted((SRC / "i18n" / "locales" / "zh_CN" / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as fh:
            for message in read_po(fh):
                if message.id and message.string:
                    translations.setdefault(str(message.id), {}).setdefault(str(message.string), []).append(
                        path.name
                    )
    conflicts = [f"{msgid!r}: {found}" for msgid, found in translations.items() if len(found) > 1]
    assert not conflicts, "\n".join(conflicts)


def test_playbook_translations_are_chinese() -> None:
    """Guards against an English text pasted as its own translation in the playbook catalog."""
    path = SRC / "i18n" / "locales" / "zh_CN" / "LC_MESSAGES" / "playbook.po"
    with path.open("rb") as fh:
        po = read_po(fh, locale="zh_CN")
    chinese = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]")
    not_chinese = [str(m.id) for m in po if m.id and not chinese.search(str(m.string))]
    assert not not_chinese, not_chinese


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "zh_CN"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh_CN"),
        ({"LANG": "zh_TW.UTF-8"}, "zh_CN"),
        ({"LANG": "fr_FR.UTF-8"}, "zh_CN"),
        ({"LANG": "C.UTF-8"}, "zh_CN"),
        ({"LANGUAGE": "fr:en_GB", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LC_ALL": "en_US", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LC_MESSAGES": "zh-CN", "LANG": "en_US"}, "zh_CN"),
        ({"SOPFLOW_LANG": "en", "LC_ALL": "zh_CN.UTF-8"}, "en"),
        ({"SOPFLOW_LANG": "klingon", "LANG": "en_US.UTF-8"}, "en"),
    ],
)
def test_language_from_environment(environ: dict[str, str], expected: str) -> None:
    assert language_from_environment(environ) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("en", "en"),
        ("EN_us.utf8", "en"),
        ("zh-CN", "zh_CN"),
        ("zh_CN@latin", "zh_CN"),
        ("de", None),
        ("", None),
    ],
)
def test_normalize_language(value: str, expected: str | None) -> None:
    assert normalize_language(value) == expected


def test_set_language_switches_translations() -> None:
    assert set_language("zh_CN") == "zh_CN"
    assert current_language() == "zh_CN"
    assert _("missing required field {field!r}", field="owner") == "缺少必填字段 'owner'"
    assert set_language("en-US") == "en"
    assert _("missing required field {field!r}", field="owner") == "missing required field 'owner'"


def test_set_language_none_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SOPFLOW_LANG", "en")
    assert set_language(None) == "en"
    monkeypatch.delenv("SOPFLOW_LANG")
    assert set_language(None) == DEFAULT_LANGUAGE == "zh_CN"


def test_set_language_rejects_unknown_languages() -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        set_language("fr")


def test_unknown_message_falls_back_to_the_id_and_fills_placeholders() -> None:
    set_language("zh_CN")
    assert _("no such message {n}", n=3) == "no such message 3"
    assert translate_to("zh_CN", "file not found") == "找不到文件"
    assert translate_to("en", "file not found") == "file not found"
    assert N_("file not found") == "file not found"


def test_cli_lang_option_and_unsupported_language(run_cli: Callable[..., Any]) -> None:
    result = run_cli(["playbook", "validate", "/nonexistent/x.yaml"], lang="zh_CN")
    assert result.exit_code == 2
    assert "/nonexistent/x.yaml:1:1: 找不到文件" in result.stdout
    bad = run_cli(["playbook", "validate", "x.yaml"], lang="fr")
    assert bad.exit_code == 2
    assert "unsupported language" in bad.stderr or "不支持" in bad.stderr


def test_the_catalog_reader_reads_every_catalog_as_babel_does() -> None:
    from sopflow.i18n import read_catalog

    sample = (
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        '#. a comment\nmsgid "plain"\nmsgstr "普通"\n\n'
        '#, fuzzy\nmsgid "fuzzy one"\nmsgstr "不算"\n\n'
        'msgid ""\n"split "\n"over lines \\"quoted\\"\\n"\nmsgstr ""\n"分"\n"行"\n\n'
        'msgid "untranslated"\nmsgstr ""\n\n'
        'msgid "tab\\there \\\\ back"\nmsgstr "制表\\t符 \\\\ 反斜杠"\n'
    )
    files = [
        sample,
        *(p.read_text(encoding="utf-8") for p in sorted((SRC / "i18n" / "locales").rglob("*.po"))),
    ]
    for text in files:
        po = read_po(io.BytesIO(text.encode("utf-8")))
        expected = {str(m.id): str(m.string) for m in po if m.id and m.string and not m.fuzzy}
        assert read_catalog(text) == expected
    assert read_catalog(sample)['split over lines "quoted"\n'] == "分行"
