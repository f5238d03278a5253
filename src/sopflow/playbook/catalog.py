"""The built-in playbook templates shipped with the package (``playbook/templates/*.yaml``).

A template's name is its file name without ``.yaml``; its title and summary come from its ``meta``.
Listing reads only ``meta`` so that one broken template cannot hide the others (validity is a test).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from sopflow.errors import InvalidInput, NotFound, SopflowError
from sopflow.i18n import _

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
SUFFIX = ".yaml"


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    title: str
    summary: str
    path: Path
    tags: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "summary": self.summary,
            "tags": list(self.tags),
            "path": str(self.path),
        }


class UnknownTemplate(NotFound):
    code = "unknown_template"


class OutputExists(InvalidInput):
    code = "output_exists"


class OutputNotWritable(SopflowError):
    code = "output_not_writable"


def template_names(*, directory: Path = TEMPLATES_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob(f"*{SUFFIX}") if p.is_file())


def list_templates(*, directory: Path = TEMPLATES_DIR) -> list[TemplateInfo]:
    """Every template in ``directory``, sorted by name."""
    return [_describe(directory / f"{name}{SUFFIX}") for name in template_names(directory=directory)]


def template_name(name: str) -> str:
    """The template name a user typed, without surrounding spaces or a ``.yaml`` suffix."""
    return name.strip().removesuffix(SUFFIX)


def template_path(name: str, *, directory: Path = TEMPLATES_DIR) -> Path:
    """The file of the template called ``name`` (``store_funnel`` or ``store_funnel.yaml``)."""
    stem = template_name(name)
    names = template_names(directory=directory)
    if stem not in names:
        raise UnknownTemplate(
            _(
                "unknown template {name!r}; built-in templates: {names}",
                name=name,
                names=", ".join(names) or _("none"),
            )
        )
    return directory / f"{stem}{SUFFIX}"


def template_text(name: str, *, directory: Path = TEMPLATES_DIR) -> str:
    return template_path(name, directory=directory).read_text(encoding="utf-8")


def write_template(*, name: str, output: Path, force: bool = False) -> Path:
    """Copy the template's text to ``output`` (parents created), atomically; refuse to overwrite unless forced."""
    text = template_text(name)
    if output.is_dir():
        example = output / f"{template_name(name)}{SUFFIX}"
        raise InvalidInput(
            _(
                "{path} is a folder: give a file name such as {example}",
                path=str(output),
                example=str(example),
            ),
            code="output_is_folder",
        )
    if output.exists() and not force:
        raise OutputExists(_("{path} already exists; add --force to overwrite it", path=str(output)))
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(output, text)
    except OSError as exc:
        raise OutputNotWritable(
            _("cannot write {path}: {reason}", path=str(output), reason=exc.strerror or str(exc))
        ) from None
    return output


def _atomic_write(path: Path, text: str) -> None:
    # A temporary file in the same folder, renamed over the target: readers never see half a playbook.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            # mkstemp makes the file private (0600); a playbook is a normal team document.
            os.fchmod(fh.fileno(), mode)
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _describe(path: Path) -> TemplateInfo:
    meta = _read_meta(path)
    tags = meta.get("tags")
    return TemplateInfo(
        name=path.stem,
        title=str(meta.get("name") or path.stem),
        summary=str(meta.get("summary") or ""),
        path=path,
        tags=[str(t) for t in tags] if isinstance(tags, list) else [],
    )


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        document = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError, ValueError):
        return {}
    meta = document.get("meta") if isinstance(document, dict) else None
    return meta if isinstance(meta, dict) else {}
